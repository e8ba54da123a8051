"""Automatic DNS validation (R18, R20): an account's DNS providers, the TXT records the
service places through them (RFC 2136 dynamic updates signed with TSIG), and their removal.

Trust: a provider counts (R18's AUTO_VALIDATION_CONFIGURED, DNS_AUTO placement) only after
its check proved the zone is served by that server as the world sees it: a probe TXT record
placed through the configured server is looked up through the service's own resolver, then
deleted. Anyone can run a server that claims any zone and accepts their own key; only the
zone's real authoritative server makes the probe visible.

Faults: every record is written down (with what is needed to delete it) before the update
that places it, so a record whose placing process died is still found and removed by the
sweep once its reissue has ended, or once a probe's time is over.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import ipaddress
import logging
import re
import secrets
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.certificates import require_account, require_role
from domain.errors import ErrorCode, InvalidInput, NotFound
from domain.hostnames import normalize_hostname, primary_domain
from domain.model import Caller, Role
from domain.ports import Clock, DomainChecker, KeySealer
from domain.text import shown

log = logging.getLogger("certreissue.auto_validation")

TSIG_ALGORITHMS = ("hmac-sha224", "hmac-sha256", "hmac-sha384", "hmac-sha512")
MIN_SECRET_BYTES = 16  # 128 bits; RFC 8945 recommends a key as long as the hash
MAX_SECRET_BYTES = 128
PROBE_GRACE = timedelta(minutes=5)  # a probe record older than this lost its process
PROBE_PREFIX = "_certreissue-probe-"
# The zone's public servers may lag behind its primary (NOTIFY, then a transfer): the probe is
# looked up once more after a pause before the server is judged not to serve the zone. The
# whole configuration stays well within a request's execution time.
PROBE_LOOKUPS = 2
PROBE_PAUSE_SECONDS = 2.0
RECORD_TTL = 60
# A record whose server has not taken its removal for this long is given up (logged): a
# server gone for good must not cost every sweep forever. Its token is spent by then. A
# probe (anyone with an owner token makes them, configuring a provider) is given up sooner.
RECORD_GIVE_UP = timedelta(days=7)
PROBE_GIVE_UP = timedelta(hours=1)
REMOVALS_AT_ONCE = 8
# A removal that failed is tried again after a pause that doubles each time (1 min, 2, 4...,
# at most an hour), and one sweep spends at most this long on removals (the rest wait).
RETRY_FIRST = timedelta(minutes=1)
RETRY_MOST = timedelta(hours=1)
SWEEP_BUDGET_SECONDS = 10.0
_KEY_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")


@dataclass(frozen=True)
class DnsProviderInput:
    zone: str
    server: str
    port: int
    tsig_key_name: str
    tsig_algorithm: str
    tsig_secret: str = dataclasses.field(repr=False)


@dataclass(frozen=True)
class DnsTarget:
    """Where and how to send an update. The secret is never shown (repr, logs)."""

    server: str
    port: int
    zone: str
    key_name: str
    algorithm: str
    secret: bytes = dataclasses.field(repr=False)


@dataclass(frozen=True)
class DnsProvider:
    id: str
    account: str
    zone: str
    server: str
    port: int
    key_name: str
    algorithm: str
    sealed_secret: bytes = dataclasses.field(repr=False)
    created_at: datetime | None = None
    checked_at: datetime | None = None
    check_ok: bool = False
    check_error: str | None = None

    def covers(self, domain: str) -> bool:
        name = domain.removeprefix("*.")
        return name == self.zone or name.endswith("." + self.zone)


@dataclass(frozen=True)
class PlacedRecord:
    """A TXT record the service places (or may have placed): written before the update."""

    id: str
    account: str
    name: str
    value: str
    server: str
    port: int
    zone: str
    key_name: str
    algorithm: str
    sealed_secret: bytes = dataclasses.field(repr=False)
    created_at: datetime | None = None
    reissue_id: str | None = None  # None: a provider's probe
    provider_id: str | None = None
    placed: bool = False
    failures: int = 0  # removals refused or unanswered so far
    next_try_at: datetime | None = None  # None: at the next sweep


class DnsUpdateError(Exception):
    """An update the server refused or did not answer; `message` is for people, `field` the
    input most likely at fault (tsigSecret for a key the server does not accept, ...);
    `sent` False when nothing left the service (the server's address was refused);
    `answered` True when the server answered with an error (it applied nothing)."""

    def __init__(self, message: str, field: str = "server", *, sent: bool = True, answered: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.sent = sent
        self.answered = answered

    @property
    def placed_nothing(self) -> bool:
        """Nothing can be on the server: no record to remove later."""
        return not self.sent or self.answered


class DnsUpdater(ABC):
    """RFC 2136 dynamic updates signed with TSIG."""

    @abstractmethod
    async def add_txt(self, target: DnsTarget, name: str, value: str, ttl: int = RECORD_TTL) -> None: ...

    @abstractmethod
    async def delete_txt(self, target: DnsTarget, name: str, value: str) -> None: ...


class DnsProviderStore(ABC):
    @abstractmethod
    def new_id(self) -> str: ...

    @abstractmethod
    async def save(self, provider: DnsProvider) -> DnsProvider:
        """Inserts, or replaces the account's provider for the same zone (keeping its ID)."""

    @abstractmethod
    async def list(self, account: str) -> list[DnsProvider]: ...

    @abstractmethod
    async def remove(self, account: str, provider_id: str) -> bool: ...

    @abstractmethod
    async def record_check(self, provider_id: str, at: datetime, ok: bool, error: str | None) -> None: ...


class PlacedRecordStore(ABC):
    @abstractmethod
    async def save(self, record: PlacedRecord) -> None:
        """Inserts or replaces (the same reissue placing again keeps one entry)."""

    @abstractmethod
    async def mark_placed(self, record_id: str) -> None: ...

    @abstractmethod
    async def get(self, record_id: str) -> PlacedRecord | None: ...

    @abstractmethod
    async def delete(self, record_id: str) -> None: ...

    @abstractmethod
    async def due(self, now: datetime, limit: int = 500) -> list[PlacedRecord]:
        """Records whose next try is due (or never failed), the longest waiting first."""

    @abstractmethod
    async def retry_later(self, record_id: str, failures: int, at: datetime) -> None: ...


# -- the input's rules (pure) ---------------------------------------------------------------


def check_dns_provider_input(given: DnsProviderInput) -> tuple[DnsProviderInput, bytes]:
    """The input in canonical form and the decoded secret, or InvalidInput naming the field."""
    zone = normalize_hostname(given.zone, allow_wildcard=False, field=["input", "zone"])
    primary_domain(zone, field=["input", "zone"])  # a registrable domain or a name below one
    server = (given.server or "").strip()
    if not server:
        raise InvalidInput("server is required: the IP address or host name of the zone's primary server",
                           field=["input", "server"])
    try:
        server = str(ipaddress.ip_address(server.strip("[]")))
    except ValueError:
        server = normalize_hostname(server, allow_wildcard=False, field=["input", "server"])
    if not isinstance(given.port, int) or not 1 <= given.port <= 65535:
        raise InvalidInput("port must be between 1 and 65535 (DNS is 53)", field=["input", "port"])
    key_name = (given.tsig_key_name or "").strip().rstrip(".").lower()
    labels = key_name.split(".") if key_name else []
    if not labels or len(key_name) > 253 or not all(_KEY_LABEL.fullmatch(label) for label in labels):
        raise InvalidInput(
            f"tsigKeyName {shown(given.tsig_key_name or '')} is not a valid key name: DNS labels of letters, "
            "digits, hyphens and underscores, as in the server's key configuration",
            field=["input", "tsigKeyName"],
        )
    algorithm = (given.tsig_algorithm or "").strip().lower().rstrip(".")
    if algorithm not in TSIG_ALGORITHMS:
        raise InvalidInput(
            f"tsigAlgorithm {shown(given.tsig_algorithm or '')} is not allowed: use one of "
            f"{', '.join(TSIG_ALGORITHMS)} (hmac-md5 and hmac-sha1 are refused as too weak)",
            code=ErrorCode.OPTION_NOT_ALLOWED, field=["input", "tsigAlgorithm"],
        )
    text = (given.tsig_secret or "").strip()
    try:
        secret = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("tsigSecret must be the key's secret in base64, as in the server's key configuration",
                           field=["input", "tsigSecret"]) from None
    if not MIN_SECRET_BYTES <= len(secret) <= MAX_SECRET_BYTES:
        raise InvalidInput(
            f"tsigSecret must decode to {MIN_SECRET_BYTES}-{MAX_SECRET_BYTES} bytes; it holds {len(secret)}",
            field=["input", "tsigSecret"],
        )
    return DnsProviderInput(zone, server, given.port, key_name, algorithm, text), secret


def covering(providers: list[DnsProvider], domain: str) -> DnsProvider | None:
    """The provider of the most specific zone that holds `domain` (`*.` ignored)."""
    found = [p for p in providers if p.covers(domain)]
    return max(found, key=lambda p: len(p.zone)) if found else None


def challenge_name(domain: str) -> str:
    """R20: the TXT record DNS validation looks for."""
    return f"_dnsauth.{domain.removeprefix('*.')}"


# -- the use cases --------------------------------------------------------------------------


class AutoValidation:
    def __init__(
        self,
        *,
        providers: DnsProviderStore,
        records: PlacedRecordStore,
        updater: DnsUpdater,
        checker: DomainChecker,
        sealer: KeySealer,
        clock: Clock,
        new_record_id: Callable[[], str] = lambda: "rec_" + secrets.token_hex(12),
        pause: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._pause = pause
        self._providers = providers
        self._records = records
        self._updater = updater
        self._checker = checker
        self._sealer = sealer
        self._clock = clock
        self._new_record_id = new_record_id

    # -- configuration (R26: owner; viewers list) ---------------------------------------

    async def configure_dns(self, caller: Caller, given: DnsProviderInput) -> DnsProvider:
        require_role(caller, Role.OWNER)
        account = require_account(caller, "DNS providers")
        checked, secret = check_dns_provider_input(given)
        existing = next((p for p in await self._providers.list(account) if p.zone == checked.zone), None)
        provider_id = existing.id if existing else self._providers.new_id()
        target = DnsTarget(checked.server, checked.port, checked.zone, checked.tsig_key_name,
                           checked.tsig_algorithm, secret)
        failure = await self._probe(account, target)
        if failure is not None:
            message, field = failure
            raise InvalidInput(f"the DNS provider for {checked.zone} was not saved: {message}",
                               field=["input", field])
        now = self._clock.now()
        return await self._providers.save(DnsProvider(
            id=provider_id, account=account, zone=checked.zone, server=checked.server, port=checked.port,
            key_name=checked.tsig_key_name, algorithm=checked.tsig_algorithm,
            sealed_secret=self._sealer.seal(secret, context=provider_context(account, provider_id)),
            created_at=existing.created_at if existing else now, checked_at=now, check_ok=True, check_error=None,
        ))

    async def remove_dns(self, caller: Caller, provider_id: str) -> str:
        require_role(caller, Role.OWNER)
        account = require_account(caller, "DNS providers")
        if not await self._providers.remove(account, provider_id):
            raise NotFound(f"no DNS provider {shown(provider_id)}", field=["id"])
        return provider_id

    async def list_dns(self, caller: Caller) -> list[DnsProvider]:
        return await self._providers.list(require_account(caller, "DNS providers"))

    # -- facts ----------------------------------------------------------------------------

    async def covering(self, account: str, domain: str) -> DnsProvider | None:
        return covering(await self._providers.list(account), domain)

    async def configured(self, account: str, domain: str) -> bool:
        """R18: a DNS provider of the account covers the domain and its last check passed
        (a file provider could not validate a wildcard, so only DNS counts)."""
        provider = await self.covering(account, domain)
        return provider is not None and provider.check_ok

    async def configured_many(self, account: str, domains: set[str]) -> dict[str, bool]:
        providers = await self._providers.list(account)
        return {d: (p := covering(providers, d)) is not None and p.check_ok for d in domains}

    # -- placing and removing -------------------------------------------------------------

    async def place(self, account: str, reissue_id: str, domain: str, token: str, name: str | None = None) -> str | None:
        """R20 DNS_AUTO: places the TXT record `name` (by default `_dnsauth.<domain>`; an ACME
        CA's challenge names its own) holding `token`; None once placed, else a diagnosis."""
        provider = await self.covering(account, domain)
        if provider is None:
            return f"no DNS provider of this account covers {domain} any more: configure one, or cancel"
        target = self._target(account, provider)
        record = self._record(account, target, name or challenge_name(domain), token, record_id=f"{reissue_id}:dns",
                              reissue_id=reissue_id, provider_id=provider.id)
        await self._records.save(record)  # before the update: a crash leaves it findable
        try:
            await self._updater.add_txt(target, record.name, record.value)
        except DnsUpdateError as error:
            if error.placed_nothing:  # nothing reached a server, or it refused: nothing to remove later
                await self._records.delete(record.id)
            diagnosis = f"placing the TXT record {record.name} through {provider.server} failed: {error.message}"
            await self._providers.record_check(provider.id, self._clock.now(), False, diagnosis)
            return diagnosis
        await self._records.mark_placed(record.id)
        if not provider.check_ok:
            await self._providers.record_check(provider.id, self._clock.now(), True, None)
        return None

    async def recheck(self, account: str, domain: str) -> bool:
        """R18 at submission: the covering provider's check is run again (a probe through the
        server, seen through the resolver), so a waiver never rests on an old finding; the
        result is recorded as the provider's last check."""
        provider = await self.covering(account, domain)
        if provider is None:
            return False
        target = self._target(account, provider)
        failure = await self._probe(account, target)
        await self._providers.record_check(provider.id, self._clock.now(), failure is None,
                                           failure[0] if failure else None)
        return failure is None

    async def is_placed(self, reissue_id: str) -> bool:
        record = await self._records.get(f"{reissue_id}:dns")
        return record is not None and record.placed

    async def release(self, reissue_id: str) -> bool:
        """Removes what was placed for the reissue; False when the server did not take it
        (the sweep tries again)."""
        record = await self._records.get(f"{reissue_id}:dns")
        return record is None or await self._remove(record)

    async def sweep(self, finished: Callable[[str], Awaitable[bool]]) -> int:
        """Removes records whose reissue ended (or never came to exist) and probes whose
        process died. One the server does not take now is tried again after a growing pause,
        and given up in the end (RECORD_GIVE_UP, PROBE_GIVE_UP); a few at a time, within
        SWEEP_BUDGET_SECONDS, so servers that never answer cannot hold up a sweep."""
        now = self._clock.now()
        gate = asyncio.Semaphore(REMOVALS_AT_ONCE)

        async def sweep_one(record: PlacedRecord) -> bool:
            async with gate:
                return await self._sweep_record(record, finished, now)

        tasks = [asyncio.create_task(sweep_one(r)) for r in await self._records.due(now)]
        if not tasks:
            return 0
        try:
            done, pending = await asyncio.wait(tasks, timeout=SWEEP_BUDGET_SECONDS)
        finally:  # over budget, or the sweep itself cancelled (shutdown): none is left running
            for task in tasks:
                task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        return sum(1 for task in done if not task.cancelled() and task.exception() is None and task.result())

    async def _sweep_record(self, record: PlacedRecord, finished: Callable[[str], Awaitable[bool]],
                            now: datetime) -> bool:
        if record.reissue_id is None:
            due = record.created_at is None or now - record.created_at >= PROBE_GRACE
        else:
            due = await finished(record.reissue_id)
        if not due:
            return False
        if await self._remove(record):
            return True
        give_up = PROBE_GIVE_UP if record.reissue_id is None else RECORD_GIVE_UP
        if record.created_at is not None and now - record.created_at >= give_up:
            log.warning("TXT record %s on %s given up: its removal was refused or unanswered for %s",
                        record.name, record.server, give_up)
            await self._records.delete(record.id)
            return False
        failures = record.failures + 1
        pause = min(RETRY_FIRST * 2 ** min(failures - 1, 16), RETRY_MOST)
        await self._records.retry_later(record.id, failures, now + pause)
        return False

    # -- internals ------------------------------------------------------------------------

    def _target(self, account: str, provider: DnsProvider) -> DnsTarget:
        secret = self._sealer.open(provider.sealed_secret, context=provider_context(account, provider.id))
        return DnsTarget(provider.server, provider.port, provider.zone, provider.key_name, provider.algorithm, secret)

    def _record(self, account: str, target: DnsTarget, name: str, value: str, *, record_id: str,
                reissue_id: str | None = None, provider_id: str | None = None) -> PlacedRecord:
        return PlacedRecord(
            id=record_id, account=account, name=name, value=value, server=target.server, port=target.port,
            zone=target.zone, key_name=target.key_name, algorithm=target.algorithm,
            sealed_secret=self._sealer.seal(target.secret, context=_record_context(record_id)),
            created_at=self._clock.now(), reissue_id=reissue_id, provider_id=provider_id,
        )

    async def _remove(self, record: PlacedRecord) -> bool:
        secret = self._sealer.open(record.sealed_secret, context=_record_context(record.id))
        target = DnsTarget(record.server, record.port, record.zone, record.key_name, record.algorithm, secret)
        try:
            await self._updater.delete_txt(target, record.name, record.value)
        except DnsUpdateError as error:
            log.warning("TXT record %s not removed yet (%s); the sweep tries again", record.name, error.message)
            return False
        except Exception:  # noqa: BLE001 - one record's server must not stop the others' cleanup
            log.exception("TXT record %s not removed yet; the sweep tries again", record.name)
            return False
        await self._records.delete(record.id)
        return True

    async def _probe(self, account: str, target: DnsTarget) -> tuple[str, str] | None:
        """None when the zone is served by the server as the world sees it; else (a
        diagnosis, the input field most likely at fault)."""
        name = f"{PROBE_PREFIX}{secrets.token_hex(6)}.{target.zone}"
        record = self._record(account, target, name, secrets.token_hex(16), record_id=self._new_record_id())
        await self._records.save(record)
        try:
            await self._updater.add_txt(target, record.name, record.value)
        except DnsUpdateError as error:
            if error.placed_nothing:  # nothing reached a server, or it refused
                await self._records.delete(record.id)
            else:
                await self._remove(record)
            return error.message, error.field
        await self._records.mark_placed(record.id)
        outcome = await self._checker.check_dns(record.name, record.value)
        for _ in range(PROBE_LOOKUPS - 1):
            if outcome.ok:
                break
            await self._pause(PROBE_PAUSE_SECONDS)
            outcome = await self._checker.check_dns(record.name, record.value)
        await self._remove(record)
        if not outcome.ok:
            return (
                f"{target.server} accepted a probe TXT record {record.name}, but the service's resolver does not "
                f"see it ({outcome.diagnosis}): {target.zone} is not served by that server as the world sees it. "
                "Give the zone's primary server, whose records the zone's public nameservers serve",
                "server",
            )
        return None


def provider_context(account: str, provider_id: str) -> str:
    return f"dns-provider:{account}:{provider_id}"


def _record_context(record_id: str) -> str:
    return f"dns-record:{record_id}"
