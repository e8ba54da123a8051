"""A superseded version the ACME CA issued is revoked through that CA (revokeCert, reason
superseded), against Pebble (tests/support/pebble.py), whose management API tells what it
revoked (`/cert-status-by-serial/<serial>`). In-process services with CERTS_CA=acme on a
database of their own and a test clock, as tests/integration/test_revocation.py does."""

from __future__ import annotations

import dataclasses
import os
import signal
import ssl
import uuid
from datetime import timedelta

import httpx
import pytest

from certreissue.bootstrap import build_services
from domain.certificates import UploadCertificate
from domain.model import Caller, RevocationReason, Role
from domain.reissues import CsrSource, ReissueStatus
from domain.revocations import CLAIM_LEASE
from domain.rules import ReissueRequest
from tests import certs
from tests.integration.reissue_api import days_ago, unique_zone
from tests.integration.test_revocation import DELAY
from tests.support.clock import MovableClock
from tests.support.pebble import Pebble, require_pebble


@pytest.fixture(scope="module")
def pebble(dns_server, file_site, tmp_path_factory):
    require_pebble()
    started = Pebble(tmp_path_factory.mktemp("pebble-revoke"), dns_port=dns_server.port, http_port=file_site.port,
                     validity_days=90).start()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
async def acme_services(pebble, settings, database_uri):
    """(make, clock): make() builds the services of one more process on the same database."""
    clock = MovableClock()
    own = dataclasses.replace(
        settings, db_name=f"certreissue_rev_acme_{uuid.uuid4().hex[:8]}", revoke_superseded_after=DELAY,
        ca="acme", acme_directory=pebble.directory_url, acme_ca_bundle=pebble.ca_bundle,
    )
    made = []

    async def make():
        services = build_services(own, database_uri, clock=clock)
        await services.start()
        made.append(services)
        return services

    try:
        yield make, clock
    finally:
        if made:
            await made[0].database.client.drop_database(own.db_name)
        for services in made:
            await services.close()


def status_at_pebble(pebble: Pebble, serial_hex: str) -> dict:
    context = ssl.create_default_context(cafile=str(pebble.ca_bundle))
    response = httpx.get(f"https://127.0.0.1:{pebble.management_port}/cert-status-by-serial/{serial_hex.lower()}",
                         verify=context, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


async def acme_issued_then_superseded(services, dns_server, account: str):
    """An upload, reissued by the ACME CA after its dns-01 challenge (version 2), then
    reissued again at once (version 3; waived, Pebble reuses its authorization)."""
    caller = Caller(account=account, role=Role.OWNER)
    issued = certs.issue(f"www.{unique_zone()}", not_before=days_ago(1))
    cert = await services.certificates.upload(
        caller, UploadCertificate(certificate_pem=issued.chain_pem, private_key_pem=issued.key_pem())
    )
    first = (await services.reissues.request(
        caller, ReissueRequest(certificate_id=cert.id, csr_source=CsrSource.ONLINE, reason="new key")
    )).reissue
    assert first.status == ReissueStatus.PENDING_DOMAIN_VALIDATION and first.domain_validation.is_cas
    validation = first.domain_validation
    dns_server.resolver.set(validation.dns_name(first.domain), "TXT", [validation.token])
    assert (await services.reissues.check_domain_validation(caller, first.id)).status == ReissueStatus.ISSUED
    again = (await services.reissues.request(
        caller, ReissueRequest(certificate_id=cert.id, csr_source=CsrSource.ONLINE, reason="new key again")
    )).reissue
    assert again.status == ReissueStatus.ISSUED
    certificate = await services.certificates.get(caller, cert.id)
    assert [v.issued_by for v in certificate.versions] == [f"acme {services.settings.acme_directory}"] * 2 + [None]
    return certificate


async def test_a_superseded_version_the_acme_ca_issued_is_revoked_there_with_reason_superseded(
    pebble, acme_services, dns_server
):
    make, clock = acme_services
    services = await make()
    cert = await acme_issued_then_superseded(services, dns_server, "acct-acme-rev")
    superseded = cert.versions[1]
    assert status_at_pebble(pebble, superseded.serial_number)["Status"] == "Valid"

    clock.advance(DELAY + timedelta(seconds=1))
    # Version 2 through Pebble; version 1 (the upload, issued elsewhere) is not revoked.
    assert await services.revocations.sweep() == {"revoked": 1, "not_revocable": 1}
    status = status_at_pebble(pebble, superseded.serial_number)
    assert status["Status"] == "Revoked" and status["Reason"] == 4, status
    assert status_at_pebble(pebble, cert.versions[0].serial_number)["Status"] == "Valid"
    after = await services.certificates.get(Caller("acct-acme-rev", Role.OWNER), cert.id)
    assert after.versions[1].revocation_reason.value == "SUPERSEDED" and after.versions[1].revoked_at is not None
    assert after.versions[0].revoked_at is None and after.versions[2].revoked_at is None
    assert await services.revocations.sweep() == {"revoked": 0, "not_revocable": 0}
    # The adapter itself: a second revokeCert (Pebble answers alreadyRevoked) is the same
    # revocation, as after a process died before recording it; the upload is not Pebble's.
    again = await services.issuer.revoke(superseded.certificate_pem, RevocationReason.SUPERSEDED, clock.now())
    assert again is not None and again.reason == RevocationReason.SUPERSEDED
    assert await services.issuer.revoke(cert.versions[2].certificate_pem, RevocationReason.SUPERSEDED,
                                        clock.now()) is None


async def test_with_pebble_down_the_job_stays_due_and_a_later_sweep_revokes_it_once(
    pebble, acme_services, dns_server
):
    make, clock = acme_services
    services = await make()
    cert = await acme_issued_then_superseded(services, dns_server, "acct-acme-down")
    superseded = cert.versions[1]
    clock.advance(DELAY + timedelta(seconds=1))
    # Another process sweeps while Pebble does not answer (stopped, so it keeps what it
    # issued; that process has no connection to it yet, so nothing reaches it).
    other = await make()
    assert pebble.process is not None
    os.kill(pebble.process.pid, signal.SIGSTOP)
    try:
        # The upload's job ends (not the ACME CA's to revoke); the ACME one fails and waits.
        assert await other.revocations.sweep() == {"revoked": 0, "not_revocable": 1}
    finally:
        os.kill(pebble.process.pid, signal.SIGCONT)
    assert await services.database.db.revocation_jobs.count_documents(
        {"serialNumber": superseded.serial_number, "done": False}) == 1
    assert status_at_pebble(pebble, superseded.serial_number)["Status"] == "Valid"
    assert (await services.certificates.get(Caller("acct-acme-down", Role.OWNER), cert.id)).versions[1].revoked_at is None
    assert await other.revocations.sweep() == {"revoked": 0, "not_revocable": 0}  # its lease still runs

    clock.advance(CLAIM_LEASE + timedelta(seconds=1))
    assert await other.revocations.sweep() == {"revoked": 1, "not_revocable": 0}
    assert await services.revocations.sweep() == {"revoked": 0, "not_revocable": 0}
    status = status_at_pebble(pebble, superseded.serial_number)
    assert status["Status"] == "Revoked" and status["Reason"] == 4, status
    after = await services.certificates.get(Caller("acct-acme-down", Role.OWNER), cert.id)
    assert after.versions[1].revoked_at is not None
