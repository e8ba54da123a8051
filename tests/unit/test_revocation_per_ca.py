"""domain.revocations picks the CA per version: the one the version names as its issuer
(issued_by, as stored), the built-in CA for a version that names none, and none at all for
an upload issued elsewhere. In memory: the ports' behaviour, not a database's."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

from domain.model import RevocationReason
from domain.ports import CaError, CertificateAuthority, Clock, Revocation, RevocationJob
from domain.revocations import CLAIM_LEASE, RevocationService
from tests.unit.factories import make_certificate

DELAY = timedelta(hours=1)
T0 = datetime(2026, 6, 1, tzinfo=UTC)


class StepClock(Clock):
    def __init__(self) -> None:
        self.at = T0

    def now(self) -> datetime:
        return self.at


class FakeCA(CertificateAuthority):
    def __init__(self, issuer_id: str, *, mine: set[str] = frozenset(), can_revoke: bool = True) -> None:
        self._id, self._mine, self._can = issuer_id, set(mine), can_revoke
        self.down = False
        self.revoked: list[str] = []
        self.asked: list[str] = []

    @property
    def issuer_id(self) -> str:
        return self._id

    @property
    def can_revoke(self) -> bool:
        return self._can

    async def revoke(self, certificate_pem, reason, now):
        self.asked.append(certificate_pem)
        if self.down:
            raise CaError("unavailable", "the CA could not be reached (ConnectionError)")
        if certificate_pem not in self._mine:
            return None
        self.revoked.append(certificate_pem)
        return Revocation(now, reason)

    async def sign(self, *args, **kwargs):  # pragma: no cover - never signs here
        raise AssertionError("not used")

    def issuer_not_after(self, brand):  # pragma: no cover
        raise AssertionError("not used")

    @property
    def roots(self) -> list:
        return []


class MemoryJobs:
    def __init__(self) -> None:
        self.jobs: dict[str, dict] = {}
        self.claims: dict[str, datetime] = {}

    async def schedule(self, certificate_id, serial_number, superseded_at, issuer=None):
        self.jobs.setdefault(f"{certificate_id}:{serial_number}", {
            "job": RevocationJob(f"{certificate_id}:{serial_number}", certificate_id, serial_number, superseded_at,
                                 0, issuer), "done": None})

    async def due(self, superseded_before, issuers, limit=100):
        rows = [r["job"] for r in self.jobs.values()
                if r["done"] is None and r["job"].superseded_at <= superseded_before and r["job"].issuer in issuers]
        return sorted(rows, key=lambda j: j.superseded_at)[:limit]

    async def claim(self, job, now, lease_until):
        if self.claims.get(job.id, now) > now:
            return False
        self.claims[job.id] = lease_until
        return True

    async def finish(self, job, outcome, now):
        self.jobs[job.id]["done"] = outcome
        self.claims.pop(job.id, None)


class MemoryCertificates:
    def __init__(self, *certificates) -> None:
        self.by_id = {c.id: c for c in certificates}
        self.revocations: list[tuple[str, str, datetime, RevocationReason]] = []

    async def get(self, account, certificate_id):
        return self.by_id.get(certificate_id)

    async def record_revocation(self, certificate_id, serial_number, revoked_at, reason):
        self.revocations.append((certificate_id, serial_number, revoked_at, reason))


def certificate_with(cert_id: str, *superseded: tuple[str, str | None]):
    """A certificate whose current version is new, superseding versions (serial, issued_by)."""
    base = make_certificate(domain=f"{cert_id}.example.com")
    current = base.versions[0]
    old = [dataclasses.replace(current, serial_number=serial, certificate_pem=f"PEM {serial}",
                               superseded_at=T0, issued_by=issuer) for serial, issuer in superseded]
    return dataclasses.replace(base, id=cert_id, versions=(current, *old))


async def scheduled(jobs: MemoryJobs, certificate) -> None:
    for version in certificate.versions[1:]:
        await jobs.schedule(certificate.id, version.serial_number, version.superseded_at, version.issued_by)


def test_each_version_is_revoked_through_the_ca_that_issued_it_not_the_one_configured_now():
    builtin = FakeCA("builtin", mine={"PEM B1"})
    acme = FakeCA("acme https://ca.example/dir", mine={"PEM A1"})
    cert = certificate_with("crt1", ("A1", acme.issuer_id), ("B1", "builtin"))
    jobs, certificates, clock = MemoryJobs(), MemoryCertificates(cert), StepClock()
    asyncio.run(scheduled(jobs, cert))
    # The ACME CA is listed second, as when CERTS_CA=acme: neither is asked about the other's.
    service = RevocationService(jobs=jobs, certificates=certificates, authorities=[builtin, acme], fallback=builtin,
                                clock=clock, delay=DELAY)
    clock.at += DELAY
    assert asyncio.run(service.sweep()) == {"revoked": 2, "not_revocable": 0}
    assert acme.asked == ["PEM A1"] and builtin.asked == ["PEM B1"]
    assert sorted(r[1] for r in certificates.revocations) == ["A1", "B1"]
    assert all(r[3] == RevocationReason.SUPERSEDED for r in certificates.revocations)


def test_a_version_naming_no_issuer_is_judged_by_the_built_in_ca_so_an_upload_from_elsewhere_is_never_revoked():
    builtin = FakeCA("builtin", mine={"PEM LEGACY"})  # signed by it before issuers were recorded
    acme = FakeCA("acme https://ca.example/dir", mine={"PEM UPLOAD"})  # would revoke it if asked
    cert = certificate_with("crt2", ("LEGACY", None), ("UPLOAD", None))
    jobs, certificates, clock = MemoryJobs(), MemoryCertificates(cert), StepClock()
    asyncio.run(scheduled(jobs, cert))
    service = RevocationService(jobs=jobs, certificates=certificates, authorities=[acme], fallback=builtin,
                                clock=clock, delay=DELAY)
    clock.at += DELAY
    assert asyncio.run(service.sweep()) == {"revoked": 1, "not_revocable": 1}
    assert acme.asked == [] and [r[1] for r in certificates.revocations] == ["LEGACY"]
    assert jobs.jobs["crt2:UPLOAD"]["done"] == "not issued by this CA"


def test_a_version_whose_ca_is_not_configured_here_waits_without_holding_back_the_others():
    builtin = FakeCA("builtin", mine={"PEM B1"})
    cert = certificate_with("crt3", ("A1", "acme https://old.example/dir"), ("B1", "builtin"))
    jobs, certificates, clock = MemoryJobs(), MemoryCertificates(cert), StepClock()
    asyncio.run(scheduled(jobs, cert))
    service = RevocationService(jobs=jobs, certificates=certificates, authorities=[builtin], fallback=builtin,
                                clock=clock, delay=DELAY)
    clock.at += DELAY
    assert asyncio.run(service.sweep()) == {"revoked": 1, "not_revocable": 0}
    assert jobs.jobs["crt3:A1"]["done"] is None  # waits for a process where that CA is configured
    acme_again = FakeCA("acme https://old.example/dir", mine={"PEM A1"})
    later = RevocationService(jobs=jobs, certificates=certificates, authorities=[builtin, acme_again],
                              fallback=builtin, clock=clock, delay=DELAY)
    assert asyncio.run(later.sweep()) == {"revoked": 1, "not_revocable": 0}
    assert jobs.jobs["crt3:A1"]["done"] == "revoked"


def test_a_ca_that_does_not_answer_is_asked_once_a_sweep_and_a_later_sweep_revokes_each_job_once():
    builtin = FakeCA("builtin")
    acme = FakeCA("acme https://ca.example/dir", mine={"PEM A1", "PEM A2"})
    cert = certificate_with("crt4", ("A1", acme.issuer_id), ("A2", acme.issuer_id))
    jobs, certificates, clock = MemoryJobs(), MemoryCertificates(cert), StepClock()
    asyncio.run(scheduled(jobs, cert))
    service = RevocationService(jobs=jobs, certificates=certificates, authorities=[acme], fallback=builtin,
                                clock=clock, delay=DELAY)
    clock.at += DELAY
    acme.down = True
    assert asyncio.run(service.sweep()) == {"revoked": 0, "not_revocable": 0}
    # Asked about the first job only: the second waits for the next sweep, unclaimed.
    assert acme.asked == ["PEM A1"] and all(r["done"] is None for r in jobs.jobs.values())
    acme.down = False
    assert asyncio.run(service.sweep()) == {"revoked": 1, "not_revocable": 0}  # A2; A1's claim's lease runs
    clock.at += CLAIM_LEASE
    assert asyncio.run(service.sweep()) == {"revoked": 1, "not_revocable": 0}
    assert asyncio.run(service.sweep()) == {"revoked": 0, "not_revocable": 0}
    assert acme.revoked == ["PEM A2", "PEM A1"] and len(certificates.revocations) == 2  # each once


def test_with_no_ca_that_can_revoke_nothing_is_asked_and_the_jobs_wait():
    cannot = FakeCA("builtin", mine={"PEM B1"}, can_revoke=False)
    cert = certificate_with("crt5", ("B1", "builtin"))
    jobs, certificates, clock = MemoryJobs(), MemoryCertificates(cert), StepClock()
    asyncio.run(scheduled(jobs, cert))
    service = RevocationService(jobs=jobs, certificates=certificates, authorities=[], fallback=cannot,
                                clock=clock, delay=DELAY)
    clock.at += DELAY * 100
    assert asyncio.run(service.sweep()) == {"revoked": 0, "not_revocable": 0}
    assert cannot.asked == [] and jobs.jobs["crt5:B1"]["done"] is None
