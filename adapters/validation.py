"""Domain validation checks for real (R20, R21): DNS TXT through dnspython, the file
through httpx, resolving hosts through the same nameservers (CERTS_DNS_NAMESERVERS)."""

from __future__ import annotations

import asyncio
import ipaddress
import re
from dataclasses import dataclass
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
USER_AGENT = f"python-httpx/{httpx.__version__}"


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
    network (an owner's domain, or a redirect, may point anywhere); `is_public_address`
    decides, IPv4 embedded in IPv6 included."""

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
        """Any URL it cannot parse or reach ends in a diagnosis, never an exception.
        Redirects are read here, not by httpx: its transport is used directly, so a Location
        no parser agrees on is refused with a diagnosis rather than raised."""
        url = f"http://{hostname}{path}"
        async with httpx.AsyncHTTPTransport(retries=0) as transport:
            for _hop in range(MAX_REDIRECTS + 1):
                parts = urlsplit(url)
                if parts.scheme != "http":
                    return CheckOutcome(False, f"redirect to {url}: only http:// redirects are followed by this checker")
                target = _http_target(url)
                if target is None:
                    return CheckOutcome(False, f"{url} is not a valid http:// URL")
                address = await self._address(target.host)
                if address is None:
                    return CheckOutcome(False, f"NXDOMAIN or no address: {target.host} has no A or AAAA record")
                if not self._allow_private and not is_public_address(address):
                    return CheckOutcome(False, f"refused: {target.host} resolves to {address}, which is not a public address")
                port = target.port or self._http_port
                if not self._allow_private and port != self._http_port:
                    return CheckOutcome(False, f"refused: {url} uses port {port}; only port {self._http_port} is checked")
                try:
                    async with asyncio.timeout(self._timeout):
                        status, location, body_bytes = await self._get(transport, address, port, target)
                except (TimeoutError, httpx.TimeoutException):
                    return CheckOutcome(False, f"timeout: {url} did not answer within {self._timeout:g} s")
                except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as exc:
                    return CheckOutcome(False, f"connection failed: {url} ({type(exc).__name__}: {exc})")
                if location is not None and httpx.codes.is_redirect(status):
                    if status not in ALLOWED_REDIRECTS:
                        return CheckOutcome(False, f"redirect: {url} answered HTTP {status}; only 301, 302, 307 and 308 are followed")
                    following = _redirect_url(url, location)
                    if following is None:
                        return CheckOutcome(
                            False,
                            f"redirect: {url} answered HTTP {status} with Location {_shown(location)}, "
                            "which is not a valid http:// URL",
                        )
                    url = following
                    continue
                if status != 200:
                    return CheckOutcome(False, f"HTTP status {status} at {url}; expected 200 with the token as the body")
                body = bytes(body_bytes[:MAX_BODY]).decode("utf-8", "replace").strip()
                if body != expected:
                    found = _shown(body) if _hop == 0 else f"{len(body)} characters"  # not quoted past a redirect
                    return CheckOutcome(False, f"body mismatch at {url}: found {found}; expected {_shown(expected)}")
                return CheckOutcome(True)
        return CheckOutcome(False, f"redirect: more than {MAX_REDIRECTS} redirects starting from http://{hostname}{path}")

    async def _get(
        self, transport: httpx.AsyncHTTPTransport, address: str, port: int, target: _Target
    ) -> tuple[int, str | None, bytes]:
        """One GET of `target` from `address`: status, Location (if any), the start of the body."""
        literal = f"[{address}]" if ":" in address else address
        host = f"[{target.host}]" if ":" in target.host else target.host
        request = httpx.Request(
            "GET",
            f"http://{literal}:{port}{target.path}",
            headers={"Host": host if target.port is None else f"{host}:{target.port}", "Accept": "*/*",
                     "User-Agent": USER_AGENT},
            extensions={"timeout": httpx.Timeout(self._timeout).as_dict()},
        )
        response = await transport.handle_async_request(request)
        try:
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body.extend(chunk)
                if len(body) > MAX_BODY:
                    break  # the token is short: the rest is never read
        finally:
            await response.aclose()
        return response.status_code, response.headers.get("location"), bytes(body)


@dataclass(frozen=True)
class _Target:
    host: str  # ASCII: an IP address (IPv6 without brackets) or an IDNA host name
    port: int | None  # as written in the URL
    path: str  # path and query


# Whitespace, control characters and backslashes: browsers, Python and httpx each read such
# a URL differently ("http:\\127.0.0.1" is a host to a browser, a path to urljoin).
_UNSAFE_IN_URL = re.compile(r"[\x00-\x20\x7f\\]")
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOST_NAME = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}\.?")


def _http_target(url: str) -> _Target | None:
    """What an http:// URL asks for, or None when it is not one this checker can follow."""
    if _UNSAFE_IN_URL.search(url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # an unclosed [IPv6], a port out of range or not a number
        return None
    host = parts.hostname or ""
    if parts.scheme != "http" or not host:
        return None
    try:
        host = str(ipaddress.ip_address(host))
    except ValueError:
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:  # an empty label, a label over 63 characters
            return None
        if len(host) > 253 or not _HOST_NAME.fullmatch(host):
            return None
    path = parts.path or "/"
    return _Target(host, port, f"{path}?{parts.query}" if parts.query else path)


def _redirect_url(current: str, location: str) -> str | None:
    """The absolute URL a Location leads to, or None when it is not a URL one can trust."""
    if not location or _UNSAFE_IN_URL.search(location):
        return None
    try:
        written = urlsplit(location)
        joined = urljoin(current, location)
    except ValueError:
        return None
    if written.scheme == "http" and not written.netloc:
        return None  # "http:///x": a path here to urljoin, the host "x" to a browser
    if urlsplit(joined).scheme != "http":
        return joined  # refused with "only http:// redirects are followed"
    return joined if _http_target(joined) is not None else None


# -- which addresses are public ---------------------------------------------------------------

_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated (RFC 4291): the low 32 bits
_IPV4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")  # SIIT (RFC 2765)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # well-known prefix (RFC 6052)
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")  # local-use (RFC 8215): some network's inside


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """Every IPv4 address `ip` carries, by any of the IPv4-in-IPv6 forms."""
    low32 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    found = []
    if ip.ipv4_mapped is not None:
        found.append(ip.ipv4_mapped)
    if ip in _IPV4_COMPATIBLE or ip in _IPV4_TRANSLATED or ip in _NAT64:
        found.append(low32)
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)  # the server, and the client (Python undoes the obfuscation)
    return found


def is_public_address(address: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether file validation may fetch from `address` when private addresses are not
    allowed: a global unicast address, and for IPv6 every IPv4 address it embeds global too
    (Python's `is_global` alone calls ::7f00:1, 64:ff9b::7f00:1 or 2002:7f00:1:: global)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if ip.is_multicast:
        return False
    if ip.version == 4:
        return ip.is_global
    if ip in _NAT64_LOCAL:
        return False
    if ip.ipv4_mapped is not None:
        return is_public_address(ip.ipv4_mapped)  # it is that IPv4 host
    return ip.is_global and all(is_public_address(v4) for v4 in embedded_ipv4(ip))
