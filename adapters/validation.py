"""Domain validation checks for real (R20, R21): DNS TXT through dnspython, the file
through httpx, resolving hosts through the same nameservers (CERTS_DNS_NAMESERVERS)."""

from __future__ import annotations

import ipaddress
from urllib.parse import urljoin, urlsplit

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.resolver
import httpx

from domain.ports import CheckOutcome, DomainChecker

ALLOWED_REDIRECTS = (301, 302, 307, 308)  # CA/B Baseline Requirements 3.2.2.4.18
MAX_REDIRECTS = 5
TIMEOUT_SECONDS = 5.0
MAX_BODY = 4096


def _shown(text: str, limit: int = 80) -> str:
    text = text.replace("\n", "\\n")
    return repr(text if len(text) <= limit else text[:limit] + "...")


def make_resolver(nameservers: tuple[str, ...], timeout: float = TIMEOUT_SECONDS) -> dns.asyncresolver.Resolver:
    if not nameservers:
        resolver = dns.asyncresolver.Resolver()
    else:
        resolver = dns.asyncresolver.Resolver(configure=False)
        servers = []
        for entry in nameservers:
            host, _, port = entry.rpartition(":") if entry.count(":") == 1 or entry.startswith("[") else (entry, "", "")
            host = host.strip("[]") or entry
            servers.append(dns.nameserver.Do53Nameserver(host, int(port) if port else 53))
        resolver.nameservers = servers
    resolver.lifetime = timeout
    resolver.timeout = timeout
    return resolver


class LiveDomainChecker(DomainChecker):
    """`allow_private`: also fetch from loopback, private and link-local addresses (tests and
    local trials). Off by default: a validation request must not reach the service's own
    network (an owner's domain, or a redirect, may point anywhere)."""

    def __init__(
        self,
        nameservers: tuple[str, ...] = (),
        http_port: int = 80,
        timeout: float = TIMEOUT_SECONDS,
        *,
        allow_private: bool = False,
    ) -> None:
        self._resolver = make_resolver(nameservers, timeout)
        self._http_port = http_port
        self._timeout = timeout
        self._allow_private = allow_private

    async def check_dns(self, record_name: str, expected: str) -> CheckOutcome:
        try:
            answer = await self._resolver.resolve(record_name, "TXT")
        except dns.resolver.NXDOMAIN:
            return CheckOutcome(False, f"NXDOMAIN: {record_name} does not exist; add a TXT record {record_name} with the value {expected}")
        except dns.resolver.NoAnswer:
            return CheckOutcome(False, f"record missing: {record_name} exists but has no TXT record; add one with the value {expected}")
        except dns.resolver.LifetimeTimeout:
            return CheckOutcome(False, f"timeout: no DNS answer for {record_name} within {self._timeout:.0f} s")
        except dns.resolver.NoNameservers as exc:
            return CheckOutcome(False, f"DNS error: no nameserver answered for {record_name} ({exc.msg if hasattr(exc, 'msg') else 'SERVFAIL'})")
        except dns.exception.DNSException as exc:
            return CheckOutcome(False, f"DNS error looking up {record_name}: {exc}")
        values = [b"".join(r.strings).decode("utf-8", "replace") for r in answer]
        if expected in values:
            return CheckOutcome(True)
        found = ", ".join(_shown(v) for v in values) or "nothing"
        return CheckOutcome(False, f"wrong value: the TXT record {record_name} holds {found}; expected {_shown(expected)}")

    async def _address(self, host: str) -> str | None:
        try:
            return str(ipaddress.ip_address(host))
        except ValueError:
            pass
        for rdtype in ("A", "AAAA"):
            try:
                answer = await self._resolver.resolve(host, rdtype)
                return answer[0].to_text()
            except dns.exception.DNSException:
                continue
        return None

    async def check_file(self, hostname: str, path: str, expected: str) -> CheckOutcome:
        url = f"http://{hostname}{path}"
        async with httpx.AsyncClient(timeout=self._timeout, follow_redirects=False, trust_env=False) as client:
            for _hop in range(MAX_REDIRECTS + 1):
                parts = urlsplit(url)
                if parts.scheme != "http":
                    return CheckOutcome(False, f"redirect to {url}: only http:// redirects are followed by this checker")
                host = parts.hostname or ""
                address = await self._address(host)
                if address is None:
                    return CheckOutcome(False, f"NXDOMAIN or no address: {host} has no A or AAAA record")
                if not self._allow_private and not ipaddress.ip_address(address).is_global:
                    return CheckOutcome(False, f"refused: {host} resolves to {address}, which is not a public address")
                port = parts.port or self._http_port
                if not self._allow_private and port != self._http_port:
                    return CheckOutcome(False, f"refused: {url} uses port {port}; only port {self._http_port} is checked")
                target = f"http://{'[' + address + ']' if ':' in address else address}:{port}{parts.path or '/'}"
                if parts.query:
                    target += f"?{parts.query}"
                try:
                    headers = {"Host": host if not parts.port else f"{host}:{parts.port}"}
                    async with client.stream("GET", target, headers=headers) as response:
                        body_bytes = bytearray()
                        async for chunk in response.aiter_bytes():
                            body_bytes.extend(chunk)
                            if len(body_bytes) > MAX_BODY:
                                break  # the token is short: the rest is never read
                except httpx.TimeoutException:
                    return CheckOutcome(False, f"timeout: {url} did not answer within {self._timeout:.0f} s")
                except httpx.HTTPError as exc:
                    return CheckOutcome(False, f"connection failed: {url} ({type(exc).__name__}: {exc})")
                if response.is_redirect:
                    location = response.headers.get("location", "")
                    if response.status_code not in ALLOWED_REDIRECTS:
                        return CheckOutcome(False, f"redirect: {url} answered HTTP {response.status_code}; only 301, 302, 307 and 308 are followed")
                    url = urljoin(url, location)
                    continue
                if response.status_code != 200:
                    return CheckOutcome(False, f"HTTP status {response.status_code} at {url}; expected 200 with the token as the body")
                body = bytes(body_bytes[:MAX_BODY]).decode("utf-8", "replace").strip()
                if body != expected:
                    found = _shown(body) if _hop == 0 else f"{len(body)} characters"  # not quoted past a redirect
                    return CheckOutcome(False, f"body mismatch at {url}: found {found}; expected {_shown(expected)}")
                return CheckOutcome(True)
        return CheckOutcome(False, f"redirect: more than {MAX_REDIRECTS} redirects starting from http://{hostname}{path}")
