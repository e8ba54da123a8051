"""Nobody gets a certificate for a name they do not control (R26-R31): each attack found
against the service, replayed over HTTP against two `certreissue serve` processes on one
database. Every one must end without a certificate for the attacker's key (or with the
refusal the rules name); where the attack needs a victim, the victim's own flow is shown
to work, so the refusal is the rule at work and not a broken setup."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from tests import certs
from tests.conftest import GraphQLClient, new_token
from tests.integration.reissue_api import (
    CHECK,
    CONFIRM,
    PREVIEW,
    act,
    checked_dns_provider,
    error_codes,
    request,
    set_order_facts,
    unique_zone,
    upload_cert,
)
from tests.integration.test_upload_certificate import UPLOAD
from tests.support.serve import ServeProcess


@dataclass
class Processes:
    """Two API processes; a caller's requests alternate between them."""

    urls: list[str]
    http: list[httpx.AsyncClient]

    def client(self, token: str, account: str, staff: dict[str, str], index: int) -> GraphQLClient:
        return GraphQLClient(self.http[index % 2], token, account, staff)


@pytest.fixture(scope="module")
async def processes(settings, database_uri, dns_server, file_site, tmp_path_factory):
    logs = tmp_path_factory.mktemp("serve-logs")
    env = {
        "CERTS_DNS_NAMESERVERS": f"127.0.0.1:{dns_server.port}",
        "CERTS_HTTP_VALIDATION_PORT": str(file_site.port),
        "CERTS_HTTP_VALIDATION_ALLOW_PRIVATE": "true",
        "CERTS_TOKEN_CACHE_SECONDS": "1",
    }
    started = [ServeProcess(settings, database_uri, logs, env) for _ in range(2)]
    try:
        await asyncio.gather(*(p.wait_ready() for p in started))
        async with httpx.AsyncClient(base_url=started[0].url, timeout=60) as a, \
                httpx.AsyncClient(base_url=started[1].url, timeout=60) as b:
            yield Processes([p.url for p in started], [a, b])
    finally:
        for p in started:
            p.stop()


@dataclass
class Party:
    """One account's owner, talking to process A (`a`) and process B (`b`)."""

    account: str
    a: GraphQLClient
    b: GraphQLClient


@pytest.fixture
async def party(processes, services, staff_tokens, new_account):
    async def make(prefix: str) -> Party:
        account = new_account(prefix)
        token = await new_token(services, account, "owner")
        return Party(account, processes.client(token, account, staff_tokens, 0),
                     processes.client(token, account, staff_tokens, 1))

    return make


CERTIFICATE = """
query($id: ID!) {
  certificate(id: $id) {
    id domain brand validationLevel organization { name } provenance chainTrusted keyVerified
    chainUntrustedReason reissueCount certificatePem chainPem notAfter
    versions { serialNumber notAfter }
  }
}
"""


async def upload_raw(client: GraphQLClient, **input) -> dict:
    payload = (await client(UPLOAD, {"input": input}))["uploadCertificate"]
    assert payload["userErrors"] == [], payload["userErrors"]
    return payload["certificate"]


async def preview(client: GraphQLClient, **input) -> dict:
    return (await client(PREVIEW, {"input": input}))["previewReissue"]


async def assert_not_issued(client: GraphQLClient, certificate_id: str) -> None:
    """No new version: nothing was signed for the caller."""
    cert = (await client(CERTIFICATE, {"id": certificate_id}))["certificate"]
    assert cert["reissueCount"] == 0 and len(cert["versions"]) == 1, cert


def leaf(pem_text: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem_text.encode())


# -- declared facts and a copied certificate ----------------------------------------------------


async def test_an_operator_can_no_longer_declare_automatic_validation(party):
    # R18, R29: the fact comes from configured DNS providers; the input stays (the contract)
    # but is refused, naming the field, and nothing changes
    owner = await party("declared")
    certificate, _ = await upload_cert(owner.a, f"*.{unique_zone()}", brand="TRUSTASIA", purchased_years=2)
    from tests.integration.test_upload_certificate import SET_ORDER_FACTS

    result = (await owner.a.as_staff("operator")(SET_ORDER_FACTS, {"input": {
        "certificateId": certificate["id"], "autoValidationConfigured": True, "purchasedYears": 3,
    }}))["setOrderFacts"]
    assert result["certificate"] is None
    [error] = result["userErrors"]
    assert error["field"] == ["input", "autoValidationConfigured"] and "DNS providers" in error["message"]
    seen = await preview(owner.a, certificateId=certificate["id"], csrSource="ONLINE", reason="rotate")
    assert seen["waivers"] == [] and seen["domainValidationRequired"] is True
    facts = "query($id: ID!) { certificate(id: $id) { purchasedYears autoValidationConfigured orderFactChanges { fact } } }"
    stored = (await owner.a(facts, {"id": certificate["id"]}))["certificate"]
    assert (stored["purchasedYears"], stored["autoValidationConfigured"]) == (2, False)
    assert [c["fact"] for c in stored["orderFactChanges"]] == ["purchasedYears"]


async def test_a_copy_of_another_accounts_public_certificate_earns_no_waiver_and_no_certificate(party, dns_server, services):
    """The attack: upload someone's public TrustAsia 2-year wildcard and its chain (from a
    TLS handshake, no key), declare auto validation, ask for an ONLINE reissue: it was
    ISSUED at once with AUTO_VALIDATION_CONFIGURED."""
    zone = unique_zone()
    victim, attacker = await party("victim"), await party("attacker")
    original, issued = await upload_cert(victim.a, f"*.{zone}", brand="TRUSTASIA", purchased_years=2)
    await checked_dns_provider(services, victim.account, zone)  # R18: the victim's zone is configured
    # The owner, who has the key, earns the waiver (R18 with R28).
    own = await preview(victim.a, certificateId=original["id"], csrSource="ONLINE", reason="rotate")
    assert own["waivers"] == ["AUTO_VALIDATION_CONFIGURED"]

    # R29: the upload input has no facts to declare any more.
    declared = await attacker.b.raw(UPLOAD, {"input": {"certificatePem": issued.chain_pem, "brand": "TRUSTASIA",
                                                       "purchasedYears": 2, "autoValidationConfigured": True}})
    assert declared.json()["data"] is None
    copy = await upload_raw(attacker.b, certificatePem=issued.chain_pem)
    assert (copy["provenance"], copy["chainTrusted"], copy["keyVerified"]) == ("IMPORTED", True, False)  # R27
    assert (copy["purchasedYears"], copy["autoValidationConfigured"]) == (1, False)  # R29: import defaults
    # Even with the order facts set by an operator and a checked provider covering the zone,
    # the copy is no evidence (R28).
    await set_order_facts(attacker.a.as_staff("operator"), copy["id"], purchasedYears=2)
    await checked_dns_provider(services, attacker.account, zone)

    seen = await preview(attacker.a, certificateId=copy["id"], csrSource="ONLINE", reason="rotate")
    assert seen["waivers"] == [] and seen["domainValidationRequired"] is True
    assert "private key was not supplied" in seen["waiversUnavailableReason"]
    result = await request(attacker.b, certificateId=copy["id"], csrSource="ONLINE", reason="rotate")
    assert result["reissue"]["status"] == "PENDING_DOMAIN_VALIDATION" and result["reissue"]["waivers"] == []
    checked = await act(attacker.a, CHECK, result["reissue"]["id"])
    assert checked["reissue"]["status"] == "PENDING_DOMAIN_VALIDATION"  # the attacker cannot place the record
    await assert_not_issued(attacker.b, copy["id"])


async def test_a_copy_of_a_certificate_issued_minutes_ago_earns_no_three_day_waiver(party):
    """The attack: right after the owner's reissue, upload the fresh public certificate:
    it was SUBMITTED_WITHIN_3_DAYS and ISSUED."""
    zone = unique_zone()
    victim, attacker = await party("victim"), await party("attacker")
    original, _ = await upload_cert(victim.a, f"shop.{zone}")
    reissued = await request(victim.b, certificateId=original["id"], reason="rotate")  # SAME_CSR, R19
    assert reissued["reissue"]["status"] == "ISSUED"
    fresh = (await victim.a(CERTIFICATE, {"id": original["id"]}))["certificate"]
    assert fresh["provenance"] == "ISSUED_HERE"

    copy = await upload_raw(attacker.a, certificatePem=fresh["certificatePem"] + fresh["chainPem"])
    assert copy["chainTrusted"] is True and copy["keyVerified"] is False
    seen = await preview(attacker.b, certificateId=copy["id"], csrSource="ONLINE", reason="mine now")
    assert seen["waivers"] == [] and seen["waiversUnavailableReason"]  # the timing would allow one
    result = await request(attacker.a, certificateId=copy["id"], csrSource="ONLINE", reason="mine now")
    assert result["reissue"]["status"] == "PENDING_DOMAIN_VALIDATION" and result["reissue"]["waivers"] == []
    await assert_not_issued(attacker.b, copy["id"])


# -- a forged chain ---------------------------------------------------------------------------


async def test_a_chain_forged_with_an_end_entity_key_is_untrusted_and_validated(party):
    """The attack: sign a certificate for login.<victim> with the key of one's own valid
    leaf, upload [forged, own leaf, intermediate]: it was ISSUED with SUBMITTED_WITHIN_3_DAYS."""
    attacker = await party("attacker")
    own, own_issued = await upload_cert(attacker.a, f"www.{unique_zone()}")
    assert own["chainTrusted"] is True
    victim_name = f"login.bank-{unique_zone()}"
    forged = certs.issue(
        victim_name, issuer=certs.Authority(own_issued.key, own_issued.cert),
        chain=[own_issued.cert, certs.intermediate_ca().cert],
        not_before=datetime.now(UTC) - timedelta(hours=1),
    )
    copy = await upload_raw(attacker.b, certificatePem=forged.chain_pem, privateKeyPem=forged.key_pem(),
                            csrPem=forged.csr_pem)
    assert copy["chainTrusted"] is False and copy["chainUntrustedReason"]  # R27: basicConstraints
    assert (copy["brand"], copy["validationLevel"], copy["organization"]) == ("OTHER", "DV", None)  # R29
    seen = await preview(attacker.a, certificateId=copy["id"], reason="r")
    assert set(["SUBMITTED_WITHIN_3_DAYS", "SAME_CSR"]).isdisjoint(seen["waivers"])
    assert "path validation" in seen["waiversUnavailableReason"]
    result = await request(attacker.b, certificateId=copy["id"], reason="r")  # ORIGINAL: the same CSR
    assert result["reissue"]["status"] == "PENDING_DOMAIN_VALIDATION" and result["reissue"]["waivers"] == []
    checked = await act(attacker.a, CHECK, result["reissue"]["id"])
    assert "NXDOMAIN" in checked["reissue"]["domainValidation"]["lastError"]
    await assert_not_issued(attacker.b, copy["id"])


# -- a declared organization, a self-confirmed operator -----------------------------------------


async def test_an_organization_a_self_signed_certificate_claims_never_reaches_an_issued_certificate(party, dns_server):
    """The attack: O=Google LLC on a self-signed certificate became the name on file, was
    waived ORGANIZATION_UNCHANGED, and the issued certificate said O=Google LLC."""
    attacker = await party("attacker")
    name = f"www.{unique_zone()}"  # the attacker's own domain: it can validate it
    claimed = certs.self_signed(name, org="Google LLC", level="EV")
    copy = await upload_raw(attacker.a, certificatePem=claimed.chain_pem, privateKeyPem=claimed.key_pem(),
                            csrPem=claimed.csr_pem)
    assert (copy["organization"], copy["validationLevel"], copy["brand"]) == (None, "DV", "OTHER")  # R29
    named = await request(attacker.b, certificateId=copy["id"], csrSource="ONLINE", reason="r",
                          organizationName="Google LLC")
    assert error_codes(named) == ["OPTION_NOT_ALLOWED"]  # a DV certificate names no organization
    started = await request(attacker.a, certificateId=copy["id"], csrSource="ONLINE", reason="r")
    dns = started["reissue"]["domainValidation"]["dns"]
    dns_server.resolver.set(dns["name"], "TXT", [dns["value"]])
    done = await act(attacker.b, CHECK, started["reissue"]["id"])
    assert done["reissue"]["status"] == "ISSUED"
    issued = leaf(done["reissue"]["certificate"]["certificatePem"])
    assert issued.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME) == []
    assert done["reissue"]["certificate"]["organization"] is None


async def test_an_account_cannot_confirm_the_ca_verification_of_its_own_reissue(party, services):
    """The attack: the account's own operator token confirmed the CA verification of its
    OTHER_BRAND reissue of a self-signed www.google.com EV certificate: issued, no validation."""
    attacker = await party("attacker")
    # R26: an account token never holds a staff role (the CLI refuses it: test_cli), and the
    # account's owner lacks the operator role.
    claimed = certs.self_signed("www.google.com", org="Google LLC", level="EV")
    copy = await upload_raw(attacker.a, certificatePem=claimed.chain_pem, privateKeyPem=claimed.key_pem(),
                            csrPem=claimed.csr_pem)
    started = await request(attacker.b, certificateId=copy["id"], reason="r")
    # R29: an untrusted EV is DV: no CA verification step to confirm, domain validation first.
    assert started["reissue"]["flow"] == "PAID_DV" and started["reissue"]["status"] == "PENDING_DOMAIN_VALIDATION"
    assert error_codes(await act(attacker.a, CONFIRM, started["reissue"]["id"])) == ["FORBIDDEN"]
    operator = attacker.b.as_staff("operator")
    assert error_codes(await act(operator, CONFIRM, started["reissue"]["id"])) == ["INVALID_STATE"]
    await assert_not_issued(attacker.a, copy["id"])


async def test_a_trusted_ev_certificate_copied_without_its_key_is_validated_before_the_cas_check(party, dns_server):
    # R28 + R14: the CA's offline check waits for domain validation when there is no provenance
    zone = unique_zone()
    victim, attacker = await party("victim"), await party("attacker")
    _, issued = await upload_cert(victim.a, f"pay.{zone}", brand="DIGICERT", level="EV", org="Pay Corp")
    copy = await upload_raw(attacker.b, certificatePem=issued.chain_pem)
    assert (copy["brand"], copy["validationLevel"], copy["keyVerified"]) == ("DIGICERT", "EV", False)
    started = await request(attacker.a, certificateId=copy["id"], csrSource="ONLINE", reason="r")
    assert started["reissue"]["flow"] == "ORGANIZATION_OTHER_BRAND"
    assert started["reissue"]["status"] == "PENDING_DOMAIN_VALIDATION"
    operator = attacker.a.as_staff("operator")
    assert error_codes(await act(operator, CONFIRM, started["reissue"]["id"])) == ["INVALID_STATE"]
    await assert_not_issued(attacker.b, copy["id"])


# -- validity ---------------------------------------------------------------------------


async def test_a_hundred_year_certificate_is_reissued_within_the_ca_browser_forum_maximum(party, dns_server):
    """The attack: a self-signed 100-year certificate gave an issued leaf valid to 2126."""
    attacker = await party("attacker")
    name = f"www.{unique_zone()}"
    century = certs.self_signed(name, days=36500)
    copy = await upload_raw(attacker.a, certificatePem=century.chain_pem, privateKeyPem=century.key_pem())
    now = datetime.now(UTC)
    longest = now + timedelta(days=certs.max_days(now) + 1)
    seen = await preview(attacker.b, certificateId=copy["id"], csrSource="ONLINE", reason="r")
    assert seen["notAfterCapped"] is True and datetime.fromisoformat(seen["notAfter"]) <= longest  # R30
    started = await request(attacker.a, certificateId=copy["id"], csrSource="ONLINE", reason="r")
    assert started["reissue"]["notAfterCapped"] is True
    dns = started["reissue"]["domainValidation"]["dns"]
    dns_server.resolver.set(dns["name"], "TXT", [dns["value"]])
    done = (await act(attacker.b, CHECK, started["reissue"]["id"]))["reissue"]
    assert done["status"] == "ISSUED" and done["notAfterCapped"] is True
    issued = leaf(done["certificate"]["certificatePem"])
    assert issued.not_valid_after_utc <= longest
    assert issued.not_valid_after_utc - issued.not_valid_before_utc < timedelta(days=certs.max_days(now) + 1)
    cert = (await attacker.a(CERTIFICATE, {"id": copy["id"]}))["certificate"]
    intermediate = x509.load_pem_x509_certificates(cert["chainPem"].encode())[0]
    assert issued.not_valid_after_utc <= intermediate.not_valid_after_utc
    assert datetime.fromisoformat(done["notAfter"]) == issued.not_valid_after_utc


# -- R18 and R31 ------------------------------------------------------------------------------


async def test_another_accounts_validation_of_a_domain_earns_no_thirteen_month_waiver(party, dns_server):
    # R18 + R28: a validation counts only when this service performed it for this account
    zone = unique_zone()
    first, second = await party("first"), await party("second")
    mine, _ = await upload_cert(first.a, f"a.{zone}")
    started = await request(first.a, certificateId=mine["id"], csrSource="ONLINE", reason="r")
    dns = started["reissue"]["domainValidation"]["dns"]
    dns_server.resolver.set(dns["name"], "TXT", [dns["value"]])
    assert (await act(first.b, CHECK, started["reissue"]["id"]))["reissue"]["status"] == "ISSUED"
    again, _ = await upload_cert(first.b, f"a.{zone}", sans=[f"a.{zone}", f"c.{zone}"])
    assert (await preview(first.a, certificateId=again["id"], csrSource="ONLINE", reason="r"))["waivers"] == [
        "VERIFIED_WITHIN_13_MONTHS"]
    theirs, _ = await upload_cert(second.a, f"a.{zone}")
    assert (await preview(second.b, certificateId=theirs["id"], csrSource="ONLINE", reason="r"))["waivers"] == []


async def test_a_replayed_request_shows_the_generated_key_only_to_the_token_that_made_it(party, services):
    # R31
    owner = await party("owner")
    cert, _ = await upload_cert(owner.a, f"k.{unique_zone()}")
    args = dict(certificateId=cert["id"], csrSource="ONLINE", reason="r", idempotencyKey="once")
    first = await request(owner.a, **args)
    assert "PRIVATE KEY" in first["privateKeyPem"]
    same_token = await request(owner.b, **args)
    assert same_token["reissue"]["id"] == first["reissue"]["id"]
    assert same_token["privateKeyPem"] == first["privateKeyPem"]
    other_token = GraphQLClient(owner.a.http, await new_token(services, owner.account, "owner"), owner.account)
    replayed = await request(other_token, **args)
    assert replayed["userErrors"] == [] and replayed["reissue"]["id"] == first["reissue"]["id"]
    assert replayed["privateKeyPem"] is None


async def test_rsa_keys_with_an_exponent_other_than_65537_are_weak(party):
    # R31, for an uploaded CSR and for the original CSR reused
    owner = await party("owner")
    zone = unique_zone()
    cert, _ = await upload_cert(owner.a, f"e.{zone}")
    odd = certs.issue(f"e.{zone}", key=certs.rsa_key_with_exponent(3))
    uploaded = await request(owner.b, certificateId=cert["id"], csrSource="UPLOAD", csrPem=odd.csr_pem, reason="r")
    assert error_codes(uploaded) == ["WEAK_KEY"] and uploaded["userErrors"][0]["field"] == ["input", "csrPem"]
    weak, _ = await upload_cert(owner.a, f"w.{zone}", key=certs.rsa_key_with_exponent(3))
    original = await request(owner.b, certificateId=weak["id"], reason="r")
    assert error_codes(original) == ["WEAK_KEY"] and original["userErrors"][0]["field"] == ["input", "csrSource"]


# -- cost, not root fields ----------------------------------------------------------------------


async def test_thirty_online_rsa_4096_requests_in_a_root_fragment_are_refused_before_any_runs(
    settings, database_uri, services, new_account, tmp_path
):
    """The attack: `mutation { ... on Mutation { a0: ... a29: ... } }` ran 300 mutations on
    10 slots (30 RSA-4096 key generations in one request)."""
    limited = ServeProcess(settings, database_uri, tmp_path, {"CERTS_RATE_LIMIT_PER_MINUTE": "10"})
    try:
        await limited.wait_ready()
        account = new_account("flood")
        token = await new_token(services, account, "owner")
        async with httpx.AsyncClient(base_url=limited.url, timeout=60) as http:
            client = GraphQLClient(http, token, account)
            ids = [(await upload_cert(client, f"f{i}.{unique_zone()}"))[0]["id"] for i in range(3)]
            fields = " ".join(
                f'a{i}: requestReissue(input: {{certificateId: "{ids[i % 3]}", csrSource: ONLINE, keyAlgorithm: RSA, '
                f'keyParameter: "4096", reason: "flood"}}) {{ reissue {{ id }} }}'
                for i in range(30)
            )
            response = await client.raw(f"mutation {{ ... on Mutation {{ {fields} }} }}")
            assert response.status_code == 429 and int(response.headers["retry-after"]) >= 1
            body = response.json()
            assert body["data"] is None and body["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert await services.database.db.reissues.count_documents({"account": account}) == 0
    finally:
        limited.stop()


# -- names claimed but never validated ---------------------------------------------------------


async def test_names_an_import_claimed_are_gone_once_it_is_reissued_for_one_of_them(party, dns_server):
    """The attack: a self-signed certificate for a.<own> that also lists shop.<victim>;
    validated and reissued for a.<own>, it became ISSUED_HERE and still listed
    shop.<victim>, so the next reissue chose shop.<victim> and was waived
    SUBMITTED_WITHIN_3_DAYS: a certificate for a name never validated."""
    attacker = await party("attacker")
    own, victim = f"a.{unique_zone()}", f"shop.{unique_zone()}"
    claimed = certs.self_signed(own, sans=[own, victim])
    copy = await upload_raw(attacker.a, certificatePem=claimed.chain_pem)
    assert copy["chainTrusted"] is False
    started = await request(attacker.b, certificateId=copy["id"], csrSource="ONLINE", keyAlgorithm="ECC", reason="r")
    dns = started["reissue"]["domainValidation"]["dns"]
    assert dns["name"] == f"_dnsauth.{own}"
    dns_server.resolver.set(dns["name"], "TXT", [dns["value"]])
    assert (await act(attacker.a, CHECK, started["reissue"]["id"]))["reissue"]["status"] == "ISSUED"

    cert = (await attacker.b(NAMES, {"id": copy["id"]}))["certificate"]
    assert (cert["domain"], cert["subjectAltNames"]) == (own, [own])  # the names of the version issued here
    for source in ("ONLINE", "UPLOAD"):
        extra = {"csrPem": certs.issue(victim).csr_pem} if source == "UPLOAD" else {"keyAlgorithm": "ECC"}
        seen = await preview(attacker.a, certificateId=copy["id"], csrSource=source, domain=victim, reason="r", **extra)
        assert [e["code"] for e in seen["userErrors"]] == ["DOMAIN_NOT_ON_CERTIFICATE"]
        refused = await request(attacker.b, certificateId=copy["id"], csrSource=source, domain=victim, reason="r", **extra)
        assert error_codes(refused) == ["DOMAIN_NOT_ON_CERTIFICATE"]


async def test_a_trusted_multi_name_certificate_covers_only_the_name_it_was_reissued_for(party):
    # R7 + R23: the new version names one domain; the certificate's names follow it
    owner = await party("owner")
    zone = unique_zone()
    cert, _ = await upload_cert(owner.a, f"www.{zone}", sans=[f"www.{zone}", f"api.{zone}", f"*.{zone}"])
    done = await request(owner.b, certificateId=cert["id"], domain=f"api.{zone}", reason="r")  # SAME_CSR, R19
    assert done["reissue"]["status"] == "ISSUED"
    after = (await owner.a(NAMES, {"id": cert["id"]}))["certificate"]
    assert (after["domain"], after["subjectAltNames"], after["primaryDomain"]) == (f"api.{zone}", [f"api.{zone}"], zone)
    issued = leaf(done["reissue"]["certificate"]["certificatePem"])
    names = issued.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert names == [f"api.{zone}"]


NAMES = "query($id: ID!) { certificate(id: $id) { domain subjectAltNames primaryDomain } }"
