"""A process that dies half-way through a reissue leaves nothing permanent (R23, R24).

No database is mocked: the service under test is wired by build_services to the real one,
and some of its ports (or the reissues collection under the repository) are wrapped so
that a chosen call raises `Crash`. From then on every call through a wrapped port raises
`Crash` too: the process is dead, its clean-up code cannot reach the database either.
A second, healthy service on the same database and the same fake clock then lets time
pass, sweeps, and must find every invariant intact and the primary domain usable again.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

import pytest

from adapters.invariants import check_invariants
from certreissue.bootstrap import Services, build_services
from domain.errors import DomainError
from domain.model import Caller, KeyAlgorithm, Role
from domain.ports import LockRecord
from domain.reissues import CsrSource, ReissueStatus
from domain.reissuing import domain_lock_key
from domain.rules import LOCK_GRACE, ReissueRequest
from tests.integration.reissue_api import unique_zone, upload_cert
from tests.support.clock import MovableClock

LIFETIME = timedelta(hours=1)  # CERTS_REISSUE_LIFETIME_HOURS=1 for these services
AFTER_GRACE = LOCK_GRACE + timedelta(seconds=1)
AFTER_LIFETIME = LIFETIME + timedelta(seconds=1)




class Crash(BaseException):
    """The simulated death of the process (a BaseException: no `except Exception` in the
    service may survive it, as no code survives a real SIGKILL)."""


@dataclass(frozen=True)
class CrashPoint:
    port: str  # "locks", "reissues", "reissues_collection", "certificates", "authority"
    method: str
    nth: int = 1  # the nth call of that method
    when: str = "before"  # crash "before" the call reaches the database or "after" it returned;
    # or "pause" before it until resumed (a stalled process that lives on)


class Fault:
    def __init__(self, point: CrashPoint) -> None:
        self.point = point
        self.calls: Counter = Counter()
        self.crashed = False
        self.paused = asyncio.Event()
        self.resume = asyncio.Event()

    async def call(self, port: str, method: str, fn, args, kwargs):
        if self.crashed:
            raise Crash(f"{port}.{method}: the process is dead")
        self.calls[(port, method)] += 1
        point = self.point
        hit = (port, method) == (point.port, point.method) and self.calls[(port, method)] == point.nth
        if hit and point.when == "before":
            self.crashed = True
            raise Crash(f"died before {port}.{method} #{point.nth}")
        if hit and point.when == "pause":
            self.paused.set()
            await self.resume.wait()
        result = await fn(*args, **kwargs)
        if hit and point.when == "after":
            self.crashed = True
            raise Crash(f"died after {port}.{method} #{point.nth}")
        return result


class CrashingPort:
    """Delegates to the real adapter; its coroutine methods go through the Fault."""

    def __init__(self, target, name: str, fault: Fault) -> None:
        self._target, self._name, self._fault = target, name, fault

    def __getattr__(self, attribute: str):
        value = getattr(self._target, attribute)
        if not inspect.iscoroutinefunction(value):
            return value

        async def call(*args, **kwargs):
            return await self._fault.call(self._name, attribute, value, args, kwargs)

        return call


def crashing_services(services: Services, point: CrashPoint) -> Fault:
    reissues = services.reissues
    fault = Fault(point)
    repository = reissues._reissues
    repository._col = CrashingPort(repository._col, "reissues_collection", fault)
    reissues._reissues = CrashingPort(repository, "reissues", fault)
    reissues._locks = CrashingPort(reissues._locks, "locks", fault)
    reissues._certificate_repository = CrashingPort(reissues._certificate_repository, "certificates", fault)
    reissues._authority = CrashingPort(reissues._authority, "authority", fault)
    return fault


# -- fixtures -----------------------------------------------------------------------


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def short_lived(settings):
    return dataclasses.replace(settings, reissue_lifetime_hours=int(LIFETIME.total_seconds() // 3600))


@contextlib.asynccontextmanager
async def running(settings, database_uri, clock):
    s = build_services(settings, database_uri, clock=clock)
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
async def healthy(short_lived, database_uri, clock, services):
    """The service as another, healthy process runs it (same database, same clock)."""
    async with running(short_lived, database_uri, clock) as s:
        yield s


@pytest.fixture
async def dying(short_lived, database_uri, clock, services):
    """build_services for the process that will die; crashing_services arms it."""
    async with running(short_lived, database_uri, clock) as s:
        yield s


@dataclass
class Zone:
    owner: Caller
    reviewer: Caller
    name: str
    target: dict  # the certificate the crashed process was reissuing
    other: dict  # another certificate under the same primary domain


async def make_zone(owner_client, target_kind: str) -> Zone:
    name = unique_zone()
    if target_kind == "review":
        target, _ = await upload_cert(owner_client, f"t.{name}", brand="WOTRUS", level="OV", org="Old Ltd")
    elif target_kind == "free":
        target, _ = await upload_cert(owner_client, f"t.{name}", brand="TRUSTASIA", free=True)
    else:
        target, _ = await upload_cert(owner_client, f"t.{name}")
    other, _ = await upload_cert(owner_client, f"o.{name}")
    account = owner_client.account
    return Zone(
        owner=Caller(account, Role.OWNER),
        reviewer=Caller(None, Role.REVIEWER, "staff-test"),
        name=name,
        target=target,
        other=other,
    )


def online(certificate_id: str) -> ReissueRequest:
    """A new ECC key: needs domain validation (issued 10 days ago), so it stays pending."""
    return ReissueRequest(certificate_id, csr_source=CsrSource.ONLINE, key_algorithm=KeyAlgorithm.ECC, reason="rotate")


# -- what the dying process was doing ------------------------------------------------------


async def request_online(zone: Zone, healthy: Services, dying: Services, dns) -> None:
    await dying.reissues.request(zone.owner, online(zone.target["id"]))


async def request_original(zone: Zone, healthy: Services, dying: Services, dns) -> None:
    """SAME_CSR (R17) and nothing else required: issued within the request (R19)."""
    await dying.reissues.request(zone.owner, ReissueRequest(zone.target["id"], reason="re-key"))


async def approve(zone: Zone, healthy: Services, dying: Services, dns) -> None:
    started = await healthy.reissues.request(
        zone.owner, ReissueRequest(zone.target["id"], reason="rename", organization_name="New Ltd")
    )
    assert started.reissue.status == ReissueStatus.PENDING_MANUAL_REVIEW
    await dying.reissues.approve(zone.reviewer, started.reissue.id, "checked")


async def cancel(zone: Zone, healthy: Services, dying: Services, dns) -> None:
    started = await healthy.reissues.request(zone.owner, online(zone.target["id"]))
    await dying.reissues.cancel(zone.owner, started.reissue.id)


async def validate_free_dv(zone: Zone, healthy: Services, dying: Services, dns) -> None:
    """R16: the free DV reissue is validated for real (the tests' DNS server), then issued."""
    started = await healthy.reissues.request(
        zone.owner, ReissueRequest(zone.target["id"], csr_source=CsrSource.ONLINE)
    )
    reissue = started.reissue
    dns.resolver.set(reissue.domain_validation.dns_name(reissue.domain), "TXT", [reissue.domain_validation.token])
    await dying.reissues.check_domain_validation(zone.owner, reissue.id)


@dataclass(frozen=True)
class Scenario:
    id: str
    target: str  # "paid", "review" (WoTrus OV, new organization) or "free"
    action: object
    point: CrashPoint
    final_status: ReissueStatus | None  # the crashed reissue after recovery; None: never stored
    blocks_meanwhile: bool = False  # the primary domain stays locked until recovery
    wait: timedelta = AFTER_GRACE  # how long recovery lets pass

    @property
    def issued(self) -> int:
        return int(self.final_status == ReissueStatus.ISSUED)


ISSUED, EXPIRED, CANCELLED = ReissueStatus.ISSUED, ReissueStatus.EXPIRED, ReissueStatus.CANCELLED

SCENARIOS = [
    # requestReissue: locks first, then the reissue (domain/reissuing.py _submit)
    Scenario("request: after the certificate lock", "paid", request_online,
             CrashPoint("locks", "try_acquire", 1, "after"), None),
    Scenario("request: after both locks", "paid", request_online,
             CrashPoint("locks", "try_acquire", 2, "after"), None, blocks_meanwhile=True),
    Scenario("request: after the reissue insert (pending)", "paid", request_online,
             CrashPoint("reissues", "insert", 1, "after"), EXPIRED, blocks_meanwhile=True, wait=AFTER_LIFETIME),
    Scenario("request R19: while the CA signs", "paid", request_original,
             CrashPoint("authority", "sign", 1, "before"), None, blocks_meanwhile=True),
    Scenario("request R19: after the issued reissue insert", "paid", request_original,
             CrashPoint("reissues", "insert", 1, "after"), ISSUED),
    Scenario("request R19: after the certificate update", "paid", request_original,
             CrashPoint("certificates", "record_issuance", 1, "after"), ISSUED),
    Scenario("request R19: before marking applied", "paid", request_original,
             CrashPoint("reissues", "mark_applied", 1, "before"), ISSUED),
    # approveReissue: sign, claim the ISSUED event slot, apply it, update the certificate
    Scenario("approve: while the CA signs", "review", approve,
             CrashPoint("authority", "sign", 1, "before"), EXPIRED, blocks_meanwhile=True, wait=AFTER_LIFETIME),
    Scenario("approve: between the event slot claim and the reissue replace", "review", approve,
             CrashPoint("reissues_collection", "replace_one", 1, "before"), ISSUED),
    Scenario("approve: after the ISSUED transition, before the certificate update", "review", approve,
             CrashPoint("certificates", "record_issuance", 1, "before"), ISSUED),
    Scenario("approve: after the certificate update, before the lock release", "review", approve,
             CrashPoint("certificates", "record_issuance", 1, "after"), ISSUED),
    Scenario("approve: between the two lock releases", "review", approve,
             CrashPoint("locks", "release", 1, "after"), ISSUED),
    # checkDomainValidation on a free DV certificate (R16, R2)
    Scenario("validate: after the ISSUED transition, before the certificate update", "free", validate_free_dv,
             CrashPoint("certificates", "record_issuance", 1, "before"), ISSUED),
    # cancelReissue (R24)
    Scenario("cancel: between the event slot claim and the reissue replace", "paid", cancel,
             CrashPoint("reissues_collection", "replace_one", 1, "before"), CANCELLED),
    Scenario("cancel: after the CANCELLED transition, before the lock release", "paid", cancel,
             CrashPoint("locks", "release", 1, "before"), CANCELLED),
]


async def assert_issued(services: Services, certificate_id: str, expected: int) -> None:
    """R23: `expected` issued reissues, each applied: one version each on the certificate."""
    db = services.database.db
    doc = await db.certificates.find_one({"_id": certificate_id})
    serials = [v["serialNumber"] for v in doc["versions"]]
    issued = await db.reissues.find({"certificateId": certificate_id, "status": "ISSUED"}).to_list()
    assert doc["reissueCount"] == expected == len(issued)
    assert len(serials) == expected + 1 and len(set(serials)) == len(serials)
    assert {r["issuedVersion"]["serialNumber"] for r in issued} <= set(serials)
    assert all(r["applied"] for r in issued)


async def invariants(services: Services, clock: MovableClock, zone: Zone) -> list[str]:
    return await check_invariants(services.database.db, now=clock.now(), accounts=[zone.owner.account])


async def refused(awaitable) -> str | None:
    """The domain error code the call fails with, or None when it succeeds."""
    try:
        await awaitable
    except DomainError as error:
        return error.code.value
    return None


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.id for s in SCENARIOS])
async def test_a_crash_leaves_nothing_permanent(scenario: Scenario, owner, healthy, dying, clock, dns_server):
    zone = await make_zone(owner, scenario.target)
    fault = crashing_services(dying, scenario.point)

    with pytest.raises(Crash):
        await scenario.action(zone, healthy, dying, dns_server)
    assert fault.crashed, f"the process never reached {scenario.point}"

    if scenario.blocks_meanwhile:
        # Within the lease (or the reissue's lifetime) the holder may still be alive: R3 holds.
        code = await refused(healthy.reissues.request(zone.owner, online(zone.other["id"])))
        assert code == "PRIMARY_DOMAIN_LOCKED"

    clock.advance(scenario.wait)
    await healthy.reissues.sweep()
    await healthy.reissues.sweep()  # a second pass finds nothing left to do, and breaks nothing
    assert await invariants(healthy, clock, zone) == []

    crashed = await healthy.database.db.reissues.find({"certificateId": zone.target["id"]}).to_list()
    assert [ReissueStatus(r["status"]) for r in crashed] == ([scenario.final_status] if scenario.final_status else [])
    assert await healthy.database.db.reissue_locks.count_documents(
        {"reissueId": {"$in": [r["_id"] for r in crashed]}}
    ) == 0
    await assert_issued(healthy, zone.target["id"], scenario.issued)

    # The primary domain is free again: another certificate's reissue starts.
    following = await healthy.reissues.request(zone.owner, online(zone.other["id"]))
    assert following.reissue.status == ReissueStatus.PENDING_DOMAIN_VALIDATION
    assert await invariants(healthy, clock, zone) == []


async def test_a_lock_whose_reissue_never_appeared_blocks_only_until_its_lease_ends(owner, healthy, clock):
    zone = await make_zone(owner, "paid")
    now = clock.now()
    orphan = LockRecord(
        id="rei_vanished:primary",
        key=domain_lock_key(zone.owner.account, zone.name),
        reissue_id="rei_vanished",
        certificate_id=zone.target["id"],
        certificate_domain=zone.target["domain"],
        acquired_at=now,
        pending_until=now + LOCK_GRACE,
    )
    assert await healthy.locks.try_acquire(orphan) is None

    try:
        await healthy.reissues.request(zone.owner, online(zone.other["id"]))
    except DomainError as error:
        assert error.code.value == "PRIMARY_DOMAIN_LOCKED"
        assert zone.target["id"] in error.message and zone.target["domain"] in error.message  # R3 names it
    else:
        raise AssertionError("a lock within its lease did not block")

    clock.advance(LOCK_GRACE - timedelta(seconds=1))
    assert await refused(healthy.reissues.request(zone.owner, online(zone.other["id"]))) == "PRIMARY_DOMAIN_LOCKED"
    assert await invariants(healthy, clock, zone) == []

    clock.advance(timedelta(seconds=2))  # the lease is over: taken over, no sweep needed
    taken = await healthy.reissues.request(zone.owner, online(zone.other["id"]))
    assert taken.reissue.status == ReissueStatus.PENDING_DOMAIN_VALIDATION
    locks = healthy.database.db.reissue_locks
    assert await locks.find_one({"_id": orphan.id}) is None
    assert (await locks.find_one({"key": orphan.key}))["_id"] == f"{taken.reissue.id}:primary"
    assert await invariants(healthy, clock, zone) == []


async def test_a_certificate_cannot_start_a_new_reissue_while_its_last_issuance_is_unapplied(
    owner, healthy, dying, clock, dns_server
):
    """R2/R4/R23: a process died after the ISSUED event of a free DV reissue and before the
    certificate took the new version. Until the sweep applies it, the certificate must not
    start another reissue: it would be the free certificate's second (R2), and the two
    issuances would race to update the certificate."""
    zone = await make_zone(owner, "free")
    crashing_services(dying, CrashPoint("certificates", "record_issuance", 1, "before"))
    with pytest.raises(Crash):
        await validate_free_dv(zone, healthy, dying, dns_server)

    again = await refused(
        healthy.reissues.request(zone.owner, ReissueRequest(zone.target["id"], csr_source=CsrSource.ONLINE))
    )
    assert again in ("REISSUE_IN_PROGRESS", "FREE_REISSUE_LIMIT_REACHED"), (
        "a second reissue of the free DV certificate started while the first one's issuance "
        f"was not yet applied (got {again or 'success'})"
    )

    clock.advance(AFTER_GRACE)
    await healthy.reissues.sweep()
    assert await invariants(healthy, clock, zone) == []
    await assert_issued(healthy, zone.target["id"], 1)


async def test_an_issuance_applied_late_is_not_lost(owner, healthy, dying, clock):
    """R23: a process issued a reissue at once (R19) and read the certificate to apply it,
    then stalled. Meanwhile the same certificate is requested again elsewhere. Whatever
    that second request is allowed to do, once the first process goes on, every issued
    reissue must be on the certificate, and counted, exactly once."""
    zone = await make_zone(owner, "paid")
    fault = crashing_services(dying, CrashPoint("certificates", "record_issuance", 1, "pause"))
    stalled = asyncio.create_task(
        dying.reissues.request(zone.owner, ReissueRequest(zone.target["id"], reason="re-key"))
    )
    try:
        await asyncio.wait_for(fault.paused.wait(), 10)
        await refused(healthy.reissues.request(zone.owner, ReissueRequest(zone.target["id"], reason="again")))
    finally:
        fault.resume.set()
    assert (await stalled).reissue.status == ReissueStatus.ISSUED

    reissues = healthy.database.db.reissues
    issued = await reissues.count_documents({"certificateId": zone.target["id"], "status": "ISSUED"})
    assert await invariants(healthy, clock, zone) == []
    await assert_issued(healthy, zone.target["id"], issued)


@pytest.fixture
async def patient(settings, database_uri, clock, services):
    """Like `healthy`, with the configured reissue lifetime (reminders need 24 hours)."""
    async with running(settings, database_uri, clock) as s:
        yield s


async def test_a_reminder_claimed_but_never_recorded_does_not_block_reminders_forever(owner, patient, clock):
    """R22 after a crash between claiming reminder slot #1 and recording it on the reissue:
    the next reminder records that one (so the 24 hours run from it), and once they have
    passed reviewers can be reminded again; before, the taken slot refused every reminder
    until the reissue ended."""
    zone = await make_zone(owner, "review")
    made = await patient.reissues.request(zone.owner, ReissueRequest(zone.target["id"], reason="rename", organization_name="New Ltd"))
    reissue = made.reissue
    assert reissue.status == ReissueStatus.PENDING_MANUAL_REVIEW
    crashed_at = clock.now()
    # What the dying process left: the slot, not the reissue's reminder fields.
    await patient.database.db.reissue_reminders.insert_one({"_id": f"{reissue.id}#1", "reissueId": reissue.id, "at": crashed_at})

    clock.advance(timedelta(hours=1))
    assert await refused(patient.reissues.remind(zone.owner, reissue.id)) == "RATE_LIMITED"
    recorded = await patient.reissues.get(zone.owner, reissue.id)
    stored = crashed_at.replace(microsecond=crashed_at.microsecond // 1000 * 1000)  # BSON: milliseconds
    assert (recorded.reminder_count, recorded.reminded_at) == (1, stored)

    clock.advance(timedelta(hours=23, seconds=1))
    reminded = await patient.reissues.remind(zone.owner, reissue.id)
    assert (reminded.reminder_count, reminded.reminded_at) == (2, clock.now())
    assert await refused(patient.reissues.remind(zone.owner, reissue.id)) == "RATE_LIMITED"


async def test_an_old_unrecorded_reminder_slot_lets_the_next_reminder_through_at_once(owner, patient, clock):
    """R22: the unrecorded reminder is more than 24 hours old, so the first attempt after
    the crash records it and reminds (slot #2) in the same call."""
    zone = await make_zone(owner, "review")
    made = await patient.reissues.request(zone.owner, ReissueRequest(zone.target["id"], reason="rename", organization_name="New Ltd"))
    reissue = made.reissue
    await patient.database.db.reissue_reminders.insert_one(
        {"_id": f"{reissue.id}#1", "reissueId": reissue.id, "at": clock.now()}
    )
    clock.advance(timedelta(hours=25))
    reminded = await patient.reissues.remind(zone.owner, reissue.id)
    assert (reminded.reminder_count, reminded.reminded_at) == (2, clock.now())


async def test_an_overdue_reissue_shows_expired_in_a_certificates_nested_history(owner, healthy, clock):
    """R24 on access through Certificate.reissues (the batched per-certificate listing): a
    reissue past its lifetime is expired before anyone sees it, as in the other listings."""
    zone = await make_zone(owner, "paid")
    made = await healthy.reissues.request(zone.owner, online(zone.target["id"]))
    assert made.reissue.status == ReissueStatus.PENDING_DOMAIN_VALIDATION
    clock.advance(LIFETIME + timedelta(seconds=1))
    pages = await healthy.reissues.list_by_certificates(zone.owner.account, [zone.target["id"]], first=5, after=None)
    assert [r.status for r in pages[zone.target["id"]].items] == [ReissueStatus.EXPIRED]
    assert (await healthy.reissues.get(zone.owner, made.reissue.id)).status == ReissueStatus.EXPIRED


async def test_a_lock_insert_that_meets_its_own_document_is_acquired_not_held_by_another(owner, healthy, clock):
    # R3: the driver retries a write whose reply was lost; the retry meets the document the
    # first attempt wrote. That is this holder's lock, not someone else's.
    zone = await make_zone(owner, "paid")
    now = clock.now()
    mine = LockRecord(
        id="rei_retried:primary", key=domain_lock_key(zone.owner.account, zone.name), reissue_id="rei_retried",
        certificate_id=zone.target["id"], certificate_domain=zone.target["domain"],
        acquired_at=now, pending_until=now + LOCK_GRACE,
    )
    assert await healthy.locks.try_acquire(mine) is None
    assert await healthy.locks.try_acquire(mine) is None  # the same insert again
    other = LockRecord(**{**mine.__dict__, "id": "rei_other:primary", "reissue_id": "rei_other"})
    held_by = await healthy.locks.try_acquire(other)
    assert held_by is not None and held_by.reissue_id == "rei_retried"
    await healthy.locks.release(mine.id)
