"""RFC 2136 dynamic updates signed with TSIG (dnspython), for automatic DNS validation.

The server is the account's choice, so it is reached only at a public address unless
private ones are allowed (CERTS_DNS_PROVIDER_ALLOW_PRIVATE, for local trials and tests), as
file validation decides for web servers (`is_public_address`); every exchange is bounded by
a timeout. Diagnoses name what a person can change; the secret is never part of one."""

from __future__ import annotations

import asyncio
import ipaddress

import dns.asyncquery
import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.tsig
import dns.update

from adapters.validation import is_public_address, make_resolver
from domain.auto_validation import DnsTarget, DnsUpdateError, DnsUpdater

TIMEOUT_SECONDS = 5.0


class Rfc2136Updater(DnsUpdater):
    def __init__(self, nameservers: tuple[str, ...] = (), *, allow_private: bool = False,
                 timeout: float = TIMEOUT_SECONDS) -> None:
        self._resolver = make_resolver(nameservers, timeout)
        self._allow_private = allow_private
        self._timeout = timeout

    async def add_txt(self, target: DnsTarget, name: str, value: str, ttl: int = 60) -> None:
        update = self._message(target)
        update.add(dns.name.from_text(name), ttl, "TXT", _quoted(value))
        await self._send(target, update, f"adding the TXT record {name}")

    async def delete_txt(self, target: DnsTarget, name: str, value: str) -> None:
        update = self._message(target)
        update.delete(dns.name.from_text(name), "TXT", _quoted(value))
        await self._send(target, update, f"deleting the TXT record {name}")

    @staticmethod
    def _message(target: DnsTarget) -> dns.update.UpdateMessage:
        key = dns.tsig.Key(target.key_name, target.secret, target.algorithm)
        return dns.update.UpdateMessage(target.zone, keyring={key.name: key}, keyname=key.name)

    async def _address(self, server: str) -> str:
        try:
            address = str(ipaddress.ip_address(server))
        except ValueError:
            try:
                answer = await self._resolver.resolve(server, "A")
                address = answer[0].to_text()
            except dns.exception.DNSException as exc:
                raise DnsUpdateError(f"the server name {server} does not resolve ({type(exc).__name__})",
                                     sent=False) from None
        if not self._allow_private and not is_public_address(address):
            raise DnsUpdateError(
                f"refused: the server {server} is at {address}, which is not a public address; give the zone's "
                "primary server at its public address", sent=False,
            )
        return address

    async def _send(self, target: DnsTarget, update: dns.update.UpdateMessage, doing: str) -> None:
        address = await self._address(target.server)
        where = f"{target.server} port {target.port}"
        try:
            async with asyncio.timeout(self._timeout):
                response = await dns.asyncquery.tcp(update, address, port=target.port, timeout=self._timeout)
        except (TimeoutError, dns.exception.Timeout):
            raise DnsUpdateError(f"timeout: {where} did not answer within {self._timeout:g} s while {doing}") from None
        except (dns.tsig.PeerBadKey, dns.tsig.PeerBadSignature, dns.tsig.PeerBadTime, dns.tsig.PeerBadTruncation,
                dns.tsig.PeerError) as exc:
            raise DnsUpdateError(
                f"{where} refused the TSIG key {target.key_name} ({target.algorithm}): {_tsig_reason(exc)}; check "
                "the key name, algorithm and secret against the server's key configuration",
                field="tsigSecret", answered=True,
            ) from None
        except (dns.exception.DNSException, dns.message.UnknownTSIGKey) as exc:
            raise DnsUpdateError(
                f"{where} answered {doing} with a reply that could not be read or verified ({type(exc).__name__}); "
                f"most often it does not serve the zone {target.zone}", field="zone",
            ) from None
        except OSError as exc:
            raise DnsUpdateError(f"connection failed: {where} ({exc.strerror or type(exc).__name__}) while {doing}") from None
        except EOFError:
            raise DnsUpdateError(f"{where} closed the connection without an answer while {doing}") from None
        except Exception as exc:  # noqa: BLE001 - any server's bytes become a diagnosis, never an internal error
            raise DnsUpdateError(f"{where} could not be talked to while {doing} ({type(exc).__name__})") from None
        rcode = response.rcode()
        if rcode == dns.rcode.NOERROR:
            return
        text = dns.rcode.to_text(rcode)
        if rcode == dns.rcode.NOTAUTH:
            raise DnsUpdateError(
                f"{where} answered NOTAUTH while {doing}: it does not accept the TSIG key {target.key_name} "
                f"({target.algorithm}) for {target.zone}, or is not authoritative for it; check the key and the "
                "zone's update policy", field="tsigSecret", answered=True,
            )
        if rcode == dns.rcode.NOTZONE:
            raise DnsUpdateError(f"{where} answered NOTZONE: {target.zone} is not a zone it serves", field="zone",
                                 answered=True)
        if rcode == dns.rcode.REFUSED:
            raise DnsUpdateError(
                f"{where} answered REFUSED while {doing}: the zone {target.zone} does not allow updates with the key "
                f"{target.key_name}, or the server does not serve it; check the zone's update policy (ACL)",
                field="zone", answered=True,
            )
        raise DnsUpdateError(f"{where} answered {text} while {doing}", answered=True)


def _tsig_reason(exc: Exception) -> str:
    if isinstance(exc, dns.tsig.PeerBadKey):
        return "it does not know this key (BADKEY)"
    if isinstance(exc, dns.tsig.PeerBadSignature):
        return "the signature does not verify, so the secret or algorithm differs (BADSIG)"
    if isinstance(exc, dns.tsig.PeerBadTime):
        return "the clocks differ too much (BADTIME)"
    return type(exc).__name__


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
