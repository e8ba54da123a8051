"""Reissues issued by a real ACME CA (RFC 8555): Pebble, Let's Encrypt's test server, started
for these tests (tests/support/pebble.py), behind real `certreissue serve` processes with
CERTS_CA=acme, through HTTP GraphQL. Pebble validates dns-01 through the tests' DNS server
and http-01 against the tests' file site, as the service's own checks do (R20, R21, R23)."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from adapters.acme_authority import AcmeAuthority
from adapters.sealing import AesGcmSealer, load_or_create_master_key
from domain.ports import CaError
from tests import certs
from tests.conftest import GraphQLClient, new_token
from tests.integration.reissue_api import APPROVE, CHECK, GET, PREVIEW, act, error_codes, request, unique_zone, upload_cert
from tests.support.pebble import Pebble, require_pebble
from tests.support.serve import ServeProcess

EAB_KID = "kid-certreissue"
EAB_HMAC = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"  # Pebble's example key
BLOCKED_ZONE = "refused-by-the-ca.com"


def serve_env(pebble: Pebble, dns_server, file_site, **more: str) -> dict[str, str]:
    return {
        **pebble.env(),
        "CERTS_DNS_NAMESERVERS": f"127.0.0.1:{dns_server.port}",
        "CERTS_HTTP_VALIDATION_PORT": str(file_site.port),
        "CERTS_HTTP_VALIDATION_ALLOW_PRIVATE": "true",
        **more,
    }


@pytest.fixture(scope="module")
def pebble(dns_server, file_site, tmp_path_factory):
    require_pebble()
    # 90-day certificates, as Let's Encrypt issues: shorter than the uploaded ones have left.
    started = Pebble(tmp_path_factory.mktemp("pebble"), dns_port=dns_server.port, http_port=file_site.port,
                     blocked=[BLOCKED_ZONE], validity_days=90).start()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
async def acme_servers(pebble, settings, database_uri, dns_server, file_site, tmp_path_factory):
    """Two API processes on the tests' database, both issuing through this Pebble."""
    logs = tmp_path_factory.mktemp("acme-serve-logs")
    started = [ServeProcess(settings, database_uri, logs, serve_env(pebble, dns_server, file_site)) for _ in range(2)]
    try:
        await asyncio.gather(*(p.wait_ready() for p in started))
        yield started
    finally:
        for p in started:
            p.stop()


@pytest.fixture
async def through(services, staff_tokens, new_account):
    """through(process) -> a fresh account's owner talking to that `certreissue serve`."""
    opened: list[httpx.AsyncClient] = []

    async def make(process: ServeProcess, account: str | None = None) -> GraphQLClient:
        account = account or new_account("acme")
        http = httpx.AsyncClient(base_url=process.url, timeout=60)
        opened.append(http)
        return GraphQLClient(http, await new_token(services, account, "owner"), account, staff_tokens)

    yield make
    for http in opened:
        await http.aclose()


def leaf_of(reissue: dict) -> x509.Certificate:
    return x509.load_pem_x509_certificate(reissue["certificate"]["certificatePem"].encode())


async def certificate_chain(client: GraphQLClient, certificate_id: str) -> list[x509.Certificate]:
    data = await client("query C($id: ID!) { certificate(id: $id) { chainPem } }", {"id": certificate_id})
    return x509.load_pem_x509_certificates(data["certificate"]["chainPem"].encode())


async def publish_dns(dns_server, reissue: dict) -> None:
    dns = reissue["domainValidation"]["dns"]
    dns_server.resolver.set(dns["name"], "TXT", [dns["value"]])


def csr_for(names: list[str]) -> str:
    key = certs.ec_key()
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode()


# -- dns-01 and http-01 end to end ---------------------------------------------------------


async def test_with_the_builtin_ca_the_notafter_is_r5s_not_the_cas(owner):
    cert, _ = await upload_cert(owner, f"shop.{unique_zone()}")
    preview = await owner(PREVIEW.replace("notAfterCapped", "notAfterCapped notAfterChosenByCa"),
                          {"input": {"certificateId": cert["id"], "csrSource": "ONLINE", "reason": "rotate"}})
    assert preview["previewReissue"]["notAfterChosenByCa"] is False
    assert preview["previewReissue"]["notAfter"] == cert["notAfter"]


async def test_a_dns_validated_reissue_is_an_acme_order_finalised_after_the_cas_dns_01_validation(
    acme_servers, through, pebble, dns_server
):
    owner = await through(acme_servers[0])
    zone = unique_zone()
    cert, issued = await upload_cert(owner, f"shop.{zone}")
    preview = (await owner(PREVIEW.replace("notAfterCapped", "notAfterCapped notAfterChosenByCa"),
                           {"input": {"certificateId": cert["id"], "csrSource": "ONLINE", "reason": "rotate"}}))
    assert preview["previewReissue"]["notAfterChosenByCa"] is True  # R5/R30: the CA decides

    result = await request(owner, certificateId=cert["id"], csrSource="ONLINE", keyAlgorithm="ECC",
                           keyParameter="prime256v1", reason="key compromised")
    assert result["userErrors"] == []
    reissue = result["reissue"]
    # R20: the challenge shown is the CA's (RFC 8555 8.4), for the order kept on the reissue.
    assert reissue["status"] == "PENDING_DOMAIN_VALIDATION"
    dns = reissue["domainValidation"]["dns"]
    assert dns["name"] == f"_acme-challenge.shop.{zone}" and dns["type"] == "TXT" and len(dns["value"]) == 43
    seen = (await owner(GET.replace("lastError", "lastError caOrderUrl").replace(
        "notAfterCapped", "notAfterCapped notAfterChosenByCa"), {"id": reissue["id"]}))["reissue"]
    assert seen["domainValidation"]["caOrderUrl"].startswith(f"https://127.0.0.1:{pebble.port}/")
    assert seen["notAfterChosenByCa"] is True

    # R21: our own check comes first; with no record the CA is not asked and the order stays.
    checked = await act(owner, CHECK, reissue["id"])
    assert checked["reissue"]["status"] == "PENDING_DOMAIN_VALIDATION"
    assert checked["reissue"]["domainValidation"]["lastError"].startswith("NXDOMAIN: _acme-challenge.shop.")

    await publish_dns(dns_server, reissue)
    checked = await act(owner, CHECK, reissue["id"])
    assert checked["userErrors"] == [], checked["userErrors"]
    done = checked["reissue"]
    assert done["status"] == "ISSUED" and done["domainValidation"]["status"] == "VERIFIED"
    # R23: the chain the CA returned, for the key handed back once, up to Pebble's root.
    leaf = leaf_of(done)
    intermediates = await certificate_chain(owner, cert["id"])
    assert leaf.issuer.rfc4514_string().startswith("CN=Pebble Intermediate CA")
    leaf.verify_directly_issued_by(intermediates[0])
    intermediates[-1].verify_directly_issued_by(pebble.issuing_root())
    key = serialization.load_pem_private_key(result["privateKeyPem"].encode(), None)
    assert leaf.public_key().public_numbers() == key.public_key().public_numbers()
    assert leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName) == [f"shop.{zone}"]
    # R5 with an ACME CA: the certificate gets the CA's notAfter (90 days here), earlier
    # than the current one, and the reissue says so.
    assert datetime.fromisoformat(done["notAfter"]) == leaf.not_valid_after_utc
    assert datetime.fromisoformat(done["certificate"]["notAfter"]) == leaf.not_valid_after_utc
    assert 89 <= (leaf.not_valid_after_utc - leaf.not_valid_before_utc).days <= 90
    assert leaf.not_valid_after_utc < issued.cert.not_valid_after_utc and done["notAfterCapped"] is True
    assert done["certificate"]["reissueCount"] == 1 and len(done["certificate"]["versions"]) == 2


async def test_a_file_validated_reissue_is_issued_after_the_cas_http_01_validation(
    acme_servers, through, dns_server, file_site
):
    owner = await through(acme_servers[1])
    zone = unique_zone()
    host = f"blog.{zone}"
    cert, _ = await upload_cert(owner, host, method="FILE")
    result = await request(owner, certificateId=cert["id"], csrSource="ONLINE", reason="re-key")
    reissue = result["reissue"]
    file = reissue["domainValidation"]["file"]
    assert file["path"].startswith("/.well-known/acme-challenge/") and len(file["path"]) > 40
    assert file["url"] == f"http://{host}{file['path']}"
    token = file["path"].rsplit("/", 1)[1]
    assert file["content"].startswith(token + ".")  # RFC 8555 8.1: the key authorization

    dns_server.resolver.set(host, "A", ["127.0.0.1"])
    checked = await act(owner, CHECK, reissue["id"])
    assert "HTTP status 404" in checked["reissue"]["domainValidation"]["lastError"]

    file_site.serve(host, file["path"], file["content"])
    checked = await act(owner, CHECK, reissue["id"])
    assert checked["userErrors"] == [] and checked["reissue"]["status"] == "ISSUED"
    assert leaf_of(checked["reissue"]).issuer.rfc4514_string().startswith("CN=Pebble Intermediate CA")


# -- waivers (R17, R18, R28) -------------------------------------------------------------


async def test_a_waived_reissue_is_issued_at_once_when_the_ca_reuses_a_valid_authorization(
    acme_servers, through, dns_server
):
    owner = await through(acme_servers[0])
    zone = unique_zone()
    cert, _ = await upload_cert(owner, f"www.{zone}")
    first = (await request(owner, certificateId=cert["id"], csrSource="ONLINE", reason="rotate"))["reissue"]
    await publish_dns(dns_server, first)
    issued = (await act(owner, CHECK, first["id"]))["reissue"]
    assert issued["status"] == "ISSUED"
    # R17 SAME_CSR (the certificate was issued here, R28): the CA holds a valid authorization
    # for the name (Let's Encrypt reuses them too), so R19 holds: issued in the request.
    again = await request(owner, certificateId=cert["id"], csrSource="ORIGINAL", reason="again")
    assert again["userErrors"] == []
    assert "SAME_CSR" in again["reissue"]["waivers"] and again["reissue"]["status"] == "ISSUED"
    assert again["reissue"]["certificate"]["reissueCount"] == 2
    assert leaf_of(again["reissue"]).serial_number != leaf_of(issued).serial_number
    assert leaf_of(again["reissue"]).issuer.rfc4514_string().startswith("CN=Pebble Intermediate CA")


async def test_a_name_the_ca_authorized_for_another_account_still_needs_this_accounts_own_check(
    acme_servers, through, dns_server
):
    first = await through(acme_servers[0])
    zone = unique_zone()
    cert, _ = await upload_cert(first, f"shared.{zone}")
    started = (await request(first, certificateId=cert["id"], csrSource="ONLINE", reason="rotate"))["reissue"]
    await publish_dns(dns_server, started)
    assert (await act(first, CHECK, started["id"]))["reissue"]["status"] == "ISSUED"

    # The service has one ACME account, so the CA reuses that authorization for any of our
    # accounts; R18/R28 count only this account's validations: it proves control itself.
    other = await through(acme_servers[1])
    theirs, _ = await upload_cert(other, f"shared.{zone}")
    reissue = (await request(other, certificateId=theirs["id"], csrSource="ONLINE", reason="rotate"))["reissue"]
    assert reissue["status"] == "PENDING_DOMAIN_VALIDATION" and reissue["waivers"] == []
    dns = reissue["domainValidation"]["dns"]
    assert dns["name"] == f"_dnsauth.shared.{zone}"  # ours: the CA asks for nothing
    checked = await act(other, CHECK, reissue["id"])
    assert checked["reissue"]["status"] == "PENDING_DOMAIN_VALIDATION"
    assert checked["reissue"]["domainValidation"]["lastError"].startswith("NXDOMAIN: _dnsauth.shared.")
    await publish_dns(dns_server, reissue)
    checked = await act(other, CHECK, reissue["id"])
    assert checked["reissue"]["status"] == "ISSUED"
    assert leaf_of(checked["reissue"]).issuer.rfc4514_string().startswith("CN=Pebble Intermediate CA")


async def test_a_waived_reissue_gets_the_cas_challenge_when_the_ca_holds_no_authorization(acme_servers, through):
    owner = await through(acme_servers[0])
    zone = unique_zone()
    cert, _ = await upload_cert(owner, f"new.{zone}", issued_days_ago=1)
    result = await request(owner, certificateId=cert["id"], csrSource="ONLINE", reason="new key")
    reissue = result["reissue"]
    # R17 waives our validation, but an ACME CA issues only for a name it validated.
    assert result["userErrors"] == [] and reissue["waivers"] == ["SUBMITTED_WITHIN_3_DAYS"]
    assert reissue["status"] == "PENDING_DOMAIN_VALIDATION" and reissue["domainValidationRequired"] is True
    assert reissue["domainValidation"]["dns"]["name"] == f"_acme-challenge.new.{zone}"
    assert "the CA requires domain validation" in reissue["events"][0]["note"]


async def test_an_ov_certificate_cannot_be_reissued_through_an_acme_ca(acme_servers, through):
    owner = await through(acme_servers[0])
    cert, _ = await upload_cert(owner, f"corp.{unique_zone()}", brand="WOTRUS", level="OV", org="Example Ltd")
    result = await request(owner, certificateId=cert["id"], reason="re-key")
    # R29: an ACME CA issues DV only; the new version would not be what the certificate is.
    assert error_codes(result) == ["OPTION_NOT_ALLOWED"] and "DV certificates only" in result["userErrors"][0]["message"]
    assert result["reissue"] is None


async def test_a_reissue_requested_before_the_acme_ca_was_configured_gets_an_order_at_its_next_check(
    acme_servers, through, owner, dns_server
):
    cert, _ = await upload_cert(owner, f"before.{unique_zone()}")
    # Requested from the session's server, whose CA is the built-in one: our challenge.
    reissue = (await request(owner, certificateId=cert["id"], csrSource="ONLINE", reason="rotate"))["reissue"]
    assert reissue["domainValidation"]["dns"]["name"].startswith("_dnsauth.")
    await publish_dns(dns_server, reissue)
    # Checked where CERTS_CA=acme: the record is there, but the CA has to validate the name.
    acme_owner = await through(acme_servers[0], owner.account)
    checked = (await act(acme_owner, CHECK, reissue["id"]))["reissue"]
    assert checked["status"] == "PENDING_DOMAIN_VALIDATION"
    dns = checked["domainValidation"]["dns"]
    assert dns["name"].startswith("_acme-challenge.before.")
    error = checked["domainValidation"]["lastError"]
    assert "requested before the ACME CA was configured" in error and dns["value"] in error
    await publish_dns(dns_server, checked)
    assert (await act(acme_owner, CHECK, reissue["id"]))["reissue"]["status"] == "ISSUED"


async def test_an_approval_the_acme_ca_cannot_issue_is_a_user_error_and_the_review_stays_open(
    acme_servers, through, owner
):
    cert, _ = await upload_cert(owner, f"corp.{unique_zone()}", brand="WOTRUS", level="OV", org="Old Ltd")
    # Requested while the built-in CA issued (R13: a new organization name needs review).
    started = await request(owner, certificateId=cert["id"], reason="renamed", organizationName="New Ltd")
    assert started["reissue"]["status"] == "PENDING_MANUAL_REVIEW"
    reviewer = (await through(acme_servers[0], owner.account)).as_staff("reviewer")
    approved = await act(reviewer, APPROVE, started["reissue"]["id"])
    assert error_codes(approved) == ["CA_REJECTED"] and approved["userErrors"][0]["field"] == ["reissueId"]
    assert "requires validation" in approved["userErrors"][0]["message"]
    again = (await owner(GET, {"id": started["reissue"]["id"]}))["reissue"]
    assert again["status"] == "PENDING_MANUAL_REVIEW" and again["certificate"]["reissueCount"] == 0


# -- what the CA refuses ---------------------------------------------------------------------


async def test_a_name_the_ca_refuses_is_a_user_error_and_nothing_is_stored(acme_servers, through, services):
    owner = await through(acme_servers[0])
    cert, _ = await upload_cert(owner, f"shop.{BLOCKED_ZONE}")
    result = await request(owner, certificateId=cert["id"], csrSource="ONLINE", reason="rotate")
    assert error_codes(result) == ["CA_REJECTED"] and result["reissue"] is None
    message = result["userErrors"][0]["message"]
    assert message.startswith("the CA refused: ") and f"shop.{BLOCKED_ZONE}" in message
    assert await services.database.db.reissues.count_documents({"certificateId": cert["id"]}) == 0
    assert await services.database.db.reissue_locks.count_documents({"certificateId": cert["id"]}) == 0


async def test_a_csr_the_ca_rejects_leaves_the_reissue_pending_with_the_cas_reason(
    acme_servers, through, dns_server
):
    owner = await through(acme_servers[0])
    zone = unique_zone()
    cert, _ = await upload_cert(owner, f"a.{zone}")
    # R8 accepts a CSR that names the domain among others; the order is for the domain
    # alone, and the CA refuses a CSR that names more when it is finalised (Pebble says
    # `unauthorized`, Let's Encrypt `badCSR`): the CA's reason is the diagnosis.
    result = await request(owner, certificateId=cert["id"], csrSource="UPLOAD",
                           csrPem=csr_for([f"a.{zone}", f"b.{zone}"]), reason="extra name")
    assert result["userErrors"] == []
    reissue = result["reissue"]
    await publish_dns(dns_server, reissue)
    checked = await act(owner, CHECK, reissue["id"])
    assert checked["userErrors"] == []
    after = checked["reissue"]
    assert after["status"] == "PENDING_DOMAIN_VALIDATION"
    assert after["domainValidation"]["status"] == "VERIFIED"
    error = after["domainValidation"]["lastError"]
    assert error.startswith("the CA refused while finalising the order (unauthorized): "), error
    assert error.endswith("Order includes different number of DNSnames identifiers than CSR specifies"), error
    assert after["certificate"]["reissueCount"] == 0 and after["certificate"]["status"] == "REISSUING"


# -- two processes, one order ----------------------------------------------------------------


async def test_two_api_processes_finishing_the_same_order_issue_it_once(
    acme_servers, through, dns_server, services, pebble
):
    a = await through(acme_servers[0])
    b = await through(acme_servers[1], a.account)
    zone = unique_zone()
    cert, _ = await upload_cert(a, f"twice.{zone}")
    reissue = (await request(a, certificateId=cert["id"], csrSource="ONLINE", reason="rotate"))["reissue"]
    await publish_dns(dns_server, reissue)
    answers = await asyncio.gather(*(act(c, CHECK, reissue["id"]) for c in (a, b, a, b)))

    final = (await a(GET.replace("lastError", "lastError caOrderUrl"), {"id": reissue["id"]}))["reissue"]
    assert final["status"] == "ISSUED"
    assert [e["to"] for e in final["events"]] == ["PENDING_DOMAIN_VALIDATION", "ISSUED"]
    assert final["certificate"]["reissueCount"] == 1 and len(final["certificate"]["versions"]) == 2
    serial = final["certificate"]["serialNumber"]
    for answer in answers:
        if answer["userErrors"]:
            # R23: the others were told it is being (or was) issued; none finalised again.
            assert error_codes(answer) == ["INVALID_STATE"], answer["userErrors"]
        else:
            assert answer["reissue"]["status"] == "ISSUED", answer["reissue"]["domainValidation"]
            assert answer["reissue"]["certificate"]["serialNumber"] == serial
    # The CA was asked to finalise once, and issued once, this serial.
    order_id = final["domainValidation"]["caOrderUrl"].rsplit("/", 1)[1]
    log = pebble.log_path.read_text()
    assert log.count(f"Order {order_id} is fully authorized. Processing finalization") == 1
    issued = re.findall(rf"Issued certificate serial ([0-9a-f]+) for order {order_id}", log)
    assert len(issued) == 1 and int(issued[0], 16) == int(serial, 16)
    assert await services.database.db.reissue_issuing.count_documents({"_id": {"$regex": f"^{reissue['id']}#"}}) == 0


async def test_processes_sharing_a_database_register_one_acme_account_and_keep_its_key_sealed(
    pebble, settings, database_uri, services
):
    sealer = AesGcmSealer(load_or_create_master_key(settings.data_dir, settings.master_key))
    first, second = (
        AcmeAuthority(pebble.directory_url, services.database, sealer, ca_bundle=pebble.ca_bundle) for _ in range(2)
    )
    zone = unique_zone()
    orders = await asyncio.gather(
        first.open_order(csr_for([f"x.{zone}"]), f"x.{zone}", "dns-01"),
        second.open_order(csr_for([f"y.{zone}"]), f"y.{zone}", "dns-01"),
    )
    assert all(o.challenge is not None for o in orders)
    # One key for the directory, created once, used by both; one account URL.
    assert first._key.thumbprint() == second._key.thumbprint()
    docs = await services.database.db.acme_accounts.find({"_id": pebble.directory_url}).to_list()
    assert len(docs) == 1 and docs[0]["uri"].startswith(f"https://127.0.0.1:{pebble.port}/")
    assert b"PRIVATE KEY" not in bytes(docs[0]["key"])  # sealed with the master key
    # A challenge's value is bound to the account key (RFC 8555 8.1), the same for both.
    order = await first.order(orders[1].url, "dns-01")
    assert order.challenge == orders[1].challenge
    # An order of another directory (CERTS_ACME_DIRECTORY changed) is lost, not fetched.
    elsewhere = orders[1].url.replace(f"127.0.0.1:{pebble.port}", "acme.example.net")
    with pytest.raises(CaError) as lost:
        await first.order(elsewhere, "dns-01")
    assert lost.value.kind == "orderGone" and "another ACME directory" in lost.value.message


# -- a CA with external account binding, a CA that goes away --------------------------------


async def test_a_directory_requiring_external_account_binding_registers_with_the_configured_key(
    dns_server, file_site, settings, database_uri, tmp_path, through
):
    require_pebble()
    strict = Pebble(tmp_path / "eab", dns_port=dns_server.port, http_port=file_site.port,
                    eab_keys={EAB_KID: EAB_HMAC}).start()
    processes: list[ServeProcess] = []
    try:
        without = ServeProcess(settings, database_uri, tmp_path, serve_env(strict, dns_server, file_site))
        with_eab = ServeProcess(settings, database_uri, tmp_path, serve_env(
            strict, dns_server, file_site, CERTS_ACME_EAB_KID=EAB_KID, CERTS_ACME_EAB_HMAC=EAB_HMAC))
        processes = [without, with_eab]
        await asyncio.gather(*(p.wait_ready() for p in processes))
        refused = await through(without)
        zone = unique_zone()
        cert, _ = await upload_cert(refused, f"eab.{zone}")
        result = await request(refused, certificateId=cert["id"], csrSource="ONLINE", reason="rotate")
        assert error_codes(result) == ["CA_REJECTED"]
        assert "'externalAccountBinding' field" in result["userErrors"][0]["message"]
        assert result["reissue"] is None

        owner = await through(with_eab, refused.account)
        result = await request(owner, certificateId=cert["id"], csrSource="ONLINE", reason="rotate")
        assert result["userErrors"] == []
        await publish_dns(dns_server, result["reissue"])
        checked = await act(owner, CHECK, result["reissue"]["id"])
        assert checked["reissue"]["status"] == "ISSUED", checked
    finally:
        for p in processes:
            p.stop()
        strict.stop()


async def test_a_ca_restarted_mid_order_leaves_the_reissue_pending_and_a_later_check_finishes(
    dns_server, file_site, settings, database_uri, tmp_path, through
):
    require_pebble()
    ca = Pebble(tmp_path / "restarted", dns_port=dns_server.port, http_port=file_site.port).start()
    process = None
    try:
        process = ServeProcess(settings, database_uri, tmp_path, serve_env(ca, dns_server, file_site))
        await process.wait_ready()
        owner = await through(process)
        cert, _ = await upload_cert(owner, f"down.{unique_zone()}")
        reissue = (await request(owner, certificateId=cert["id"], csrSource="ONLINE", reason="rotate"))["reissue"]
        await publish_dns(dns_server, reissue)

        ca.stop()
        checked = await act(owner, CHECK, reissue["id"])
        # A CA outage: pending, never lost; the diagnosis says so and the order is kept.
        assert checked["userErrors"] == [] and checked["reissue"]["status"] == "PENDING_DOMAIN_VALIDATION"
        error = checked["reissue"]["domainValidation"]["lastError"]
        assert "could not be reached" in error and "the order is kept, check again later" in error

        ca.start()  # Pebble forgets every account and order when it restarts
        checked = await act(owner, CHECK, reissue["id"])
        after = checked["reissue"]
        assert after["status"] == "PENDING_DOMAIN_VALIDATION"
        error = after["domainValidation"]["lastError"]
        assert "no longer knows order" in error and "new challenge" in error, error
        renewed = after["domainValidation"]["dns"]
        assert renewed["name"] == reissue["domainValidation"]["dns"]["name"]
        assert renewed["value"] != reissue["domainValidation"]["dns"]["value"] and renewed["value"] in error

        await publish_dns(dns_server, after)
        checked = await act(owner, CHECK, reissue["id"])
        assert checked["reissue"]["status"] == "ISSUED", checked["reissue"]["domainValidation"]
        leaf = leaf_of(checked["reissue"])
        assert leaf.issuer.rfc4514_string().startswith("CN=Pebble Intermediate CA")
        # This Pebble issues for 5 years: the CA's notAfter is later than R5's, and it is the one.
        assert datetime.fromisoformat(checked["reissue"]["notAfter"]) == leaf.not_valid_after_utc
        assert checked["reissue"]["notAfterCapped"] is False
    finally:
        if process is not None:
            process.stop()
        ca.stop()
