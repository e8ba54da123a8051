"""Superseded versions revoked on schedule through the CA (CERTS_REVOKE_SUPERSEDED_AFTER),
once across processes, published in the built-in CA's CRL per issuer.

Each test has a database of its own (its sweeps would otherwise revoke what other tests
superseded), services on a test clock, and for HTTP a `certreissue serve` on that database.
"""

from __future__ import annotations

import asyncio
import re
import dataclasses
import shutil
import subprocess
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certreissue.bootstrap import build_services
from certreissue.settings import Settings
from domain.certificates import UploadCertificate
from domain.model import Brand, Caller, Role
from adapters.mongo import MongoCertificateRepository
from adapters.mongo_downloads import MongoRevocationJobs
from domain.ports import CertificateAuthority, Clock
from domain.revocations import CLAIM_LEASE, RevocationService
from domain.reissues import CsrSource, ReissueStatus
from domain.rules import ReissueRequest
from tests import certs
from tests.integration.reissue_api import days_ago, unique_zone
from tests.support.serve import ServeProcess
from tests.support.clock import MovableClock

DELAY = timedelta(hours=1)
VERSIONS = """query V($id: ID!) { certificate(id: $id) {
  versions { version serialNumber supersededAt revokedAt revocationReason } } }"""




@pytest.fixture
def own_settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, db_name=f"certreissue_rev_{uuid.uuid4().hex[:8]}")


@pytest.fixture
async def make_services(own_settings, database_uri):
    made = []

    async def make(delay: timedelta | None = DELAY, clock: Clock | None = None):
        s = build_services(dataclasses.replace(own_settings, revoke_superseded_after=delay), database_uri, clock=clock)
        await s.start()
        made.append(s)
        return s

    yield make
    if made:
        await made[-1].database.client.drop_database(own_settings.db_name)
    for s in made:
        await s.close()


async def reissued_twice(services, account: str):
    """An upload (issued by the tests' CA, a trusted chain) reissued twice by the built-in
    CA: version 1 is the upload's, 2 and 3 the built-in CA's. Returns the certificate."""
    caller = Caller(account=account, role=Role.OWNER)
    issued = certs.issue(f"www.{unique_zone()}", not_before=days_ago(1))
    cert = await services.certificates.upload(
        caller, UploadCertificate(certificate_pem=issued.chain_pem, private_key_pem=issued.key_pem())
    )
    for _ in range(2):
        result = await services.reissues.request(
            caller, ReissueRequest(certificate_id=cert.id, csr_source=CsrSource.ONLINE, reason="new key")
        )
        assert result.reissue.status == ReissueStatus.ISSUED
    return await services.certificates.get(caller, cert.id)


def revoked(certificate) -> dict[int, tuple]:
    n = len(certificate.versions)
    return {n - i: (v.revoked_at, v.revocation_reason) for i, v in enumerate(certificate.versions)}


async def test_a_superseded_version_is_revoked_after_the_delay_even_after_a_restart(make_services):
    clock = MovableClock()
    first = await make_services(clock=clock)
    cert = await reissued_twice(first, "acct-rev")
    assert (await first.revocations.sweep())["revoked"] == 0  # not yet due
    clock.advance(DELAY - timedelta(seconds=5))
    assert (await first.revocations.sweep())["revoked"] == 0

    clock.advance(timedelta(seconds=10))
    restarted = await make_services(clock=clock)  # another process, as after a restart: the jobs are in the database
    assert await restarted.revocations.sweep() == {"revoked": 1, "not_revocable": 1}
    after = await restarted.certificates.get(Caller("acct-rev", Role.OWNER), cert.id)
    states = revoked(after)
    # 3 is current; 2 was the built-in CA's and is revoked; 1 was issued elsewhere: not ours to revoke.
    assert states[3] == (None, None) and states[1] == (None, None)
    assert states[2][1].value == "SUPERSEDED" and abs(states[2][0] - clock.now()) < timedelta(seconds=1)
    assert await restarted.revocations.sweep() == {"revoked": 0, "not_revocable": 0}


async def test_two_processes_sweeping_at_once_revoke_a_version_once(make_services, own_settings, database_uri):
    clock = MovableClock()
    setup = await make_services(clock=clock)
    cert = await reissued_twice(setup, "acct-twice")
    clock.advance(DELAY + timedelta(seconds=1))
    # Two processes: each its own services and database client, sweeping at the same time.
    one, two = await make_services(clock=clock), await make_services(clock=clock)
    results = await asyncio.gather(*(s.revocations.sweep() for s in (one, two, one, two)))
    assert sum(r["revoked"] for r in results) == 1 and sum(r["not_revocable"] for r in results) == 1
    serial = cert.versions[1].serial_number  # version 2 (the first reissue's)
    assert await setup.database.db.ca_revocations.count_documents({"serial": serial}) == 1
    assert await setup.database.db.ca_revocations.count_documents({}) == 1


async def test_a_job_claimed_by_a_process_that_died_is_revoked_once_its_lease_lapses(make_services):
    clock = MovableClock()
    services = await make_services(clock=clock)
    await reissued_twice(services, "acct-died")
    clock.advance(DELAY + timedelta(seconds=1))
    jobs = MongoRevocationJobs(services.database)
    for job in await jobs.due(clock.now(), {"builtin", None}):  # taken by a process that dies before revoking
        assert await jobs.claim(job, clock.now(), clock.now() + CLAIM_LEASE)
    assert await services.revocations.sweep() == {"revoked": 0, "not_revocable": 0}
    clock.advance(CLAIM_LEASE + timedelta(seconds=1))
    assert await services.revocations.sweep() == {"revoked": 1, "not_revocable": 1}
    assert await services.database.db.revocation_jobs.count_documents({"done": False}) == 0


async def test_never_revokes_nothing_and_keeps_the_jobs(make_services):
    clock = MovableClock()
    never = await make_services(delay=None, clock=clock)
    cert = await reissued_twice(never, "acct-never")
    clock.advance(timedelta(days=3650))
    assert await never.revocations.sweep() == {"revoked": 0, "not_revocable": 0}
    assert all(v.revoked_at is None for v in (await never.certificates.get(Caller("acct-never", Role.OWNER), cert.id)).versions)
    assert await never.database.db.ca_revocations.count_documents({}) == 0
    assert await never.database.db.revocation_jobs.count_documents({"done": False}) == 2


class CannotRevoke(CertificateAuthority):
    """A CA adapter that has no revocation (keeps the port's default)."""

    async def sign(self, *args, **kwargs):  # pragma: no cover - never signs here
        raise AssertionError("not used")

    def issuer_not_after(self, brand):  # pragma: no cover
        raise AssertionError("not used")

    @property
    def roots(self) -> list:
        return []

    @property
    def issuer_id(self) -> str:
        return "builtin"


async def test_with_a_ca_that_cannot_revoke_the_jobs_wait(make_services):
    clock = MovableClock()
    services = await make_services(clock=clock)
    await reissued_twice(services, "acct-wait")
    clock.advance(timedelta(days=30))
    waiting = RevocationService(
        jobs=MongoRevocationJobs(services.database), certificates=MongoCertificateRepository(services.database),
        authorities=[], fallback=CannotRevoke(), clock=clock, delay=DELAY,
    )
    assert await waiting.sweep() == {"revoked": 0, "not_revocable": 0}
    assert await services.database.db.revocation_jobs.count_documents({"done": False}) == 2
    assert await services.revocations.sweep() == {"revoked": 1, "not_revocable": 1}  # the built-in CA can


async def test_a_job_stored_before_issuers_were_kept_is_still_revoked_by_the_built_in_ca(make_services):
    clock = MovableClock()
    services = await make_services(clock=clock)
    cert = await reissued_twice(services, "acct-legacy")
    # As stored before this change: neither the job nor the version names its issuer.
    await services.database.db.revocation_jobs.update_many({}, {"$unset": {"issuer": ""}})
    await services.database.db.certificates.update_one(
        {"_id": cert.id}, {"$unset": {f"versions.{i}.issuedBy": "" for i in range(3)}}
    )
    assert (await services.certificates.get(Caller("acct-legacy", Role.OWNER), cert.id)).versions[1].issued_by is None
    clock.advance(DELAY + timedelta(seconds=1))
    assert await services.revocations.sweep() == {"revoked": 1, "not_revocable": 1}
    after = await services.certificates.get(Caller("acct-legacy", Role.OWNER), cert.id)
    assert after.versions[1].revoked_at is not None and after.versions[2].revoked_at is None


async def test_a_version_the_built_in_ca_issued_names_it_and_its_job_does_too(make_services):
    services = await make_services(clock=MovableClock())
    cert = await reissued_twice(services, "acct-issuer")
    assert [v.issued_by for v in cert.versions] == ["builtin", "builtin", None]  # 1 is the upload
    jobs = {d["serialNumber"]: d.get("issuer") async for d in services.database.db.revocation_jobs.find({})}
    assert jobs == {cert.versions[1].serial_number: "builtin", cert.versions[2].serial_number: None}


needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")


@needs_openssl
async def test_the_served_crl_lists_the_serial_with_reason_superseded_and_the_api_shows_it(
    make_services, own_settings, database_uri, tmp_path
):
    clock = MovableClock()
    services = await make_services(clock=clock)
    cert = await reissued_twice(services, "acct-crl")
    clock.advance(DELAY + timedelta(seconds=1))
    assert (await services.revocations.sweep())["revoked"] == 1
    serial = cert.versions[1].serial_number
    now = datetime.now(UTC)
    token, _ = await services.tokens.create("acct-crl", Role.VIEWER, now=now, expires_at=now + timedelta(hours=1))

    server = ServeProcess(own_settings, database_uri, tmp_path)
    try:
        await server.wait_ready()
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            index = await http.get("/ca/crl")
            assert index.status_code == 200 and "/ca/crl/other" in index.text.split()
            assert (await http.get("/ca/crl/nothing")).status_code == 404
            response = await http.get("/ca/crl/other")
            api = await http.post("/graphql", json={"query": VERSIONS, "variables": {"id": cert.id}},
                                  headers={"Authorization": f"Bearer {token}"})
    finally:
        server.stop()
    assert response.status_code == 200 and response.headers["content-type"] == "application/pkix-crl"
    crl = x509.load_der_x509_crl(response.content)
    intermediate = services.authority.issuer(Brand.OTHER)
    assert crl.issuer == intermediate.subject and crl.is_signature_valid(intermediate.public_key())
    assert crl.next_update_utc is not None and crl.next_update_utc > crl.last_update_utc
    entry = crl.get_revoked_certificate_by_serial_number(int(serial, 16))
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509.ReasonFlags.superseded

    der = tmp_path / "other.crl"
    der.write_bytes(response.content)
    chain = tmp_path / "ca.pem"
    chain.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (intermediate, services.authority.root)))
    text = subprocess.run(["openssl", "crl", "-inform", "DER", "-in", str(der), "-text", "-noout"],
                          capture_output=True, text=True, check=True).stdout
    assert re.search(rf"Serial Number: 0*{serial}\b", text, re.IGNORECASE), text
    assert "Superseded" in text and "Next Update:" in text
    verified = subprocess.run(["openssl", "crl", "-inform", "DER", "-in", str(der), "-CAfile", str(chain), "-noout"],
                              capture_output=True, text=True)
    assert "verify OK" in verified.stdout + verified.stderr

    assert api.status_code == 200, api.text
    versions = api.json()["data"]["certificate"]["versions"]
    assert [(v["version"], v["revocationReason"]) for v in versions] == [(3, None), (2, "SUPERSEDED"), (1, None)]
    assert versions[1]["serialNumber"] == serial and versions[1]["revokedAt"] is not None
