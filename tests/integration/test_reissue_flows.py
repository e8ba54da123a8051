"""The four flows end to end through HTTP (DOMAIN.md R1-R31)."""

from __future__ import annotations

from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests import certs
from tests.integration.reissue_api import (
    APPROVE,
    CANCEL,
    CHECK,
    CONFIRM,
    GET,
    PREVIEW,
    REJECT,
    REMIND,
    act,
    error_codes,
    request,
    unique_zone,
    upload_cert,
)


def leaf_of(reissue: dict) -> x509.Certificate:
    return x509.load_pem_x509_certificate(reissue["certificate"]["certificatePem"].encode())


# -- PAID_DV -------------------------------------------------------------------------------


async def test_paid_dv_online_reissue_is_issued_after_real_dns_validation(owner, dns_server):
    zone = unique_zone()
    cert, issued = await upload_cert(owner, f"shop.{zone}")
    result = await request(owner, certificateId=cert["id"], csrSource="ONLINE", keyAlgorithm="RSA",
                           keyParameter="3072", reason="key compromised")
    assert result["userErrors"] == []
    reissue = result["reissue"]
    # R15, R17: a new CSR 10 days after issue needs validation.
    assert reissue["flow"] == "PAID_DV" and reissue["status"] == "PENDING_DOMAIN_VALIDATION"
    assert reissue["waivers"] == [] and reissue["domainValidationRequired"] is True
    dns = reissue["domainValidation"]["dns"]
    assert dns["name"] == f"_dnsauth.shop.{zone}" and dns["type"] == "TXT" and len(dns["value"]) >= 32
    assert reissue["certificate"]["status"] == "REISSUING"
    assert reissue["certificate"]["activeReissue"] == {"id": reissue["id"]}

    # R21: no record yet -> stays pending with a diagnosis.
    checked = await act(owner, CHECK, reissue["id"])
    assert checked["reissue"]["status"] == "PENDING_DOMAIN_VALIDATION"
    assert checked["reissue"]["domainValidation"]["status"] == "FAILED"
    assert "NXDOMAIN" in checked["reissue"]["domainValidation"]["lastError"]

    dns_server.resolver.set(dns["name"], "TXT", ["not-the-token"])
    checked = await act(owner, CHECK, reissue["id"])
    assert "wrong value" in checked["reissue"]["domainValidation"]["lastError"]
    assert "not-the-token" in checked["reissue"]["domainValidation"]["lastError"]

    dns_server.resolver.set(dns["name"], "TXT", [dns["value"]])
    checked = await act(owner, CHECK, reissue["id"])
    done = checked["reissue"]
    assert checked["userErrors"] == [] and done["status"] == "ISSUED"
    assert done["domainValidation"]["status"] == "VERIFIED"
    assert [(e["from"], e["to"]) for e in done["events"]] == [
        (None, "PENDING_DOMAIN_VALIDATION"),
        ("PENDING_DOMAIN_VALIDATION", "ISSUED"),
    ]
    # R5, R23: same notAfter to the second, new serial, the old version kept as superseded.
    after = done["certificate"]
    assert after["id"] == cert["id"] and after["reissueCount"] == 1 and after["status"] == "ISSUED"
    assert after["activeReissue"] is None
    assert datetime.fromisoformat(after["notAfter"]) == issued.cert.not_valid_after_utc
    assert after["serialNumber"] != cert["serialNumber"]
    assert [v["serialNumber"] for v in after["versions"]] == [after["serialNumber"], cert["serialNumber"]]
    assert after["versions"][0]["supersededAt"] is None and after["versions"][1]["supersededAt"] is not None
    assert after["keyAlgorithm"] == "RSA" and after["keyParameter"] == "3072"
    # The new certificate is for the key handed back once.
    key = serialization.load_pem_private_key(result["privateKeyPem"].encode(), None)
    assert leaf_of(done).public_key().public_numbers() == key.public_key().public_numbers()
    assert leaf_of(done).not_valid_before_utc <= datetime.fromisoformat(done["completedAt"])


async def test_paid_dv_with_the_original_csr_is_issued_at_once(owner):
    cert, issued = await upload_cert(owner, f"www.{unique_zone()}")
    result = await request(owner, certificateId=cert["id"], reason="re-key")
    reissue = result["reissue"]
    # R17 SAME_CSR, R19: nothing required, issued in the same request.
    assert reissue["status"] == "ISSUED" and reissue["waivers"] == ["SAME_CSR"]
    assert reissue["domainValidation"] is None and reissue["domainValidationRequired"] is False
    assert [(e["from"], e["to"]) for e in reissue["events"]] == [(None, "ISSUED")]
    assert reissue["certificate"]["reissueCount"] == 1
    assert leaf_of(reissue).public_key().public_numbers() == issued.key.public_key().public_numbers()


async def test_reissue_within_three_days_of_issue_waives_validation(owner):
    cert, _ = await upload_cert(owner, f"new.{unique_zone()}", issued_days_ago=1)
    result = await request(owner, certificateId=cert["id"], csrSource="ONLINE", reason="new key")
    assert result["reissue"]["waivers"] == ["SUBMITTED_WITHIN_3_DAYS"]
    assert result["reissue"]["status"] == "ISSUED"


async def test_a_domain_verified_recently_for_the_organization_waives_the_next_validation(owner, dns_server):
    zone = unique_zone()
    first, _ = await upload_cert(owner, f"a.{zone}", sans=[f"a.{zone}"])
    started = await request(owner, certificateId=first["id"], csrSource="ONLINE", reason="rotate")
    dns = started["reissue"]["domainValidation"]["dns"]
    dns_server.resolver.set(dns["name"], "TXT", [dns["value"]])
    assert (await act(owner, CHECK, started["reissue"]["id"]))["reissue"]["status"] == "ISSUED"
    # R18/R21: the check was recorded for (a.zone, no organization); a second certificate
    # for the same name is waived.
    second, _ = await upload_cert(owner, f"a.{zone}", sans=[f"a.{zone}", f"b.{zone}"])
    again = await request(owner, certificateId=second["id"], csrSource="ONLINE", reason="rotate")
    assert again["reissue"]["waivers"] == ["VERIFIED_WITHIN_13_MONTHS"]


# -- FREE_DV -------------------------------------------------------------------------------


async def test_free_dv_reissue_validates_by_file_with_a_password_protected_key(owner, file_site):
    zone = unique_zone()
    cert, _ = await upload_cert(owner, f"blog.{zone}", brand="TRUSTASIA", free=True, method="FILE",
                                issued_days_ago=1)
    result = await request(owner, certificateId=cert["id"], csrSource="ONLINE", keyAlgorithm="ECC",
                           keyParameter="secp384r1", privateKeyPassword="correct horse")
    reissue = result["reissue"]
    # R16: free DV is validated even within 3 days; R9: protected key.
    assert reissue["flow"] == "FREE_DV" and reissue["status"] == "PENDING_DOMAIN_VALIDATION"
    assert reissue["privateKeyProtected"] is True and reissue["deployableToCloudServices"] is False
    assert "ENCRYPTED PRIVATE KEY" in result["privateKeyPem"]
    file = reissue["domainValidation"]["file"]
    assert file["url"] == f"http://blog.{zone}/.well-known/pki-validation/fileauth.txt"

    checked = await act(owner, CHECK, reissue["id"])
    assert "NXDOMAIN" in checked["reissue"]["domainValidation"]["lastError"]


async def test_free_dv_can_be_reissued_only_once(owner, dns_server, file_site):
    zone = unique_zone()
    host = f"blog.{zone}"
    cert, _ = await upload_cert(owner, host, brand="TRUSTASIA", free=True, method="FILE")
    dns_server.resolver.set(host, "A", ["127.0.0.1"])
    started = await request(owner, certificateId=cert["id"], csrSource="ONLINE")
    file = started["reissue"]["domainValidation"]["file"]
    file_site.serve(host, file["path"], "wrong body")
    checked = await act(owner, CHECK, started["reissue"]["id"])
    assert "body mismatch" in checked["reissue"]["domainValidation"]["lastError"]
    file_site.serve(host, file["path"], file["content"] + "\n")
    checked = await act(owner, CHECK, started["reissue"]["id"])
    assert checked["reissue"]["status"] == "ISSUED"
    # R2: the one chance is used.
    again = await request(owner, certificateId=cert["id"], csrSource="ONLINE")
    assert error_codes(again) == ["FREE_REISSUE_LIMIT_REACHED"]


async def test_free_dv_takes_only_algorithm_and_password(owner):
    cert, _ = await upload_cert(owner, f"f.{unique_zone()}", brand="TRUSTASIA", free=True)
    result = await request(owner, certificateId=cert["id"], csrSource="ORIGINAL")
    assert error_codes(result) == ["OPTION_NOT_ALLOWED"]  # R11
    assert result["userErrors"][0]["field"] == ["input", "csrSource"]


# -- ORGANIZATION_WOTRUS_DNSPOD ------------------------------------------------------------


async def test_wotrus_ov_with_a_new_organization_needs_review_and_takes_the_new_name(owner, client_for):
    cert, _ = await upload_cert(owner, f"corp.{unique_zone()}", brand="WOTRUS", level="OV", org="Old Name Ltd")
    result = await request(owner, certificateId=cert["id"], reason="rename", organizationName="New Name Ltd")
    reissue = result["reissue"]
    # R13 + R17 SAME_CSR: no validation, but review.
    assert reissue["flow"] == "ORGANIZATION_WOTRUS_DNSPOD" and reissue["status"] == "PENDING_MANUAL_REVIEW"
    assert reissue["manualReviewRequired"] is True and reissue["waivers"] == ["SAME_CSR"]

    # R26: nobody reviews their own reissue: the owner, a viewer of the account and the owner
    # of another account lack the reviewer role; reviewers are staff.
    denied = await act(owner, APPROVE, reissue["id"])
    assert error_codes(denied) == ["FORBIDDEN"]
    viewer = await client_for(owner_account(owner), "viewer")
    assert error_codes(await act(viewer, APPROVE, reissue["id"])) == ["FORBIDDEN"]
    stranger = await client_for("someone-else", "owner")
    assert error_codes(await act(stranger, APPROVE, reissue["id"])) == ["FORBIDDEN"]

    reviewer = await client_for("staff", "reviewer")
    assert error_codes(await act(owner, REMIND, reissue["id"])) == []
    reminded_again = await act(owner, REMIND, reissue["id"])
    assert error_codes(reminded_again) == ["RATE_LIMITED"] and "24" in reminded_again["userErrors"][0]["message"]

    approved = await act(reviewer, APPROVE, reissue["id"], comment="checked the registry")
    assert approved["reissue"]["status"] == "ISSUED"
    assert approved["reissue"]["certificate"]["organization"] == {"name": "New Name Ltd"}
    assert approved["reissue"]["events"][-1]["note"] == "checked the registry"


async def test_wotrus_ov_with_the_organization_on_file_skips_review(owner):
    cert, _ = await upload_cert(owner, f"corp.{unique_zone()}", brand="DNSPOD", level="EV", org="Same Ltd")
    result = await request(owner, certificateId=cert["id"], reason="rekey")
    assert set(result["reissue"]["waivers"]) == {"SAME_CSR", "ORGANIZATION_UNCHANGED"}
    assert result["reissue"]["status"] == "ISSUED"


async def test_a_rejected_review_ends_the_reissue_and_frees_the_primary_domain(owner, client_for):
    zone = unique_zone()
    cert, _ = await upload_cert(owner, f"a.{zone}", brand="WOTRUS", level="OV", org="A Ltd")
    other, _ = await upload_cert(owner, f"b.{zone}")
    started = await request(owner, certificateId=cert["id"], reason="x", organizationName="B Ltd")
    reviewer = await client_for("staff", "reviewer")
    no_reason = await reviewer.raw(REJECT, {"id": started["reissue"]["id"]})
    assert no_reason.status_code == 200 and no_reason.json().get("errors")  # reason is required by the schema
    rejected = await act(reviewer, REJECT, started["reissue"]["id"], reason="registry disagrees")
    assert rejected["reissue"]["status"] == "REJECTED"
    assert rejected["reissue"]["certificate"]["reissueCount"] == 0
    assert (await request(owner, certificateId=other["id"], reason="next"))["userErrors"] == []


# -- ORGANIZATION_OTHER_BRAND --------------------------------------------------------------


async def test_other_brand_ov_waits_for_the_cas_offline_check_recorded_by_an_operator(owner, client_for):
    cert, _ = await upload_cert(owner, f"bank.{unique_zone()}", brand="DIGICERT", level="OV", org="Bank")
    started = await request(owner, certificateId=cert["id"], reason="compromise")
    assert started["reissue"]["status"] == "PENDING_CA_VERIFICATION"  # R14
    reviewer = await client_for("staff", "reviewer")
    assert error_codes(await act(reviewer, CONFIRM, started["reissue"]["id"])) == ["FORBIDDEN"]
    assert error_codes(await act(owner, CONFIRM, started["reissue"]["id"])) == ["FORBIDDEN"]  # R26
    operator = await client_for("staff", "operator")
    confirmed = await act(operator, CONFIRM, started["reissue"]["id"])
    assert confirmed["reissue"]["status"] == "ISSUED"
    assert confirmed["reissue"]["events"][-1]["actor"].startswith("staff/operator/tok_")


# -- locks, preview, cancel --------------------------------------------------------------


async def test_second_subdomain_waits_while_first_is_reissued(owner):
    zone = unique_zone()
    first, _ = await upload_cert(owner, f"a.{zone}")
    second, _ = await upload_cert(owner, f"b.{zone}")
    started = await request(owner, certificateId=first["id"], csrSource="ONLINE", reason="r")
    assert started["reissue"]["status"] == "PENDING_DOMAIN_VALIDATION"

    blocked = await request(owner, certificateId=second["id"], csrSource="ONLINE", reason="r")
    assert error_codes(blocked) == ["PRIMARY_DOMAIN_LOCKED"]  # R3
    assert first["id"] in blocked["userErrors"][0]["message"] and f"a.{zone}" in blocked["userErrors"][0]["message"]

    again = await request(owner, certificateId=first["id"], csrSource="ONLINE", reason="r")
    assert error_codes(again) == ["REISSUE_IN_PROGRESS"]  # R4

    preview = (await owner(PREVIEW, {"input": {"certificateId": second["id"], "reason": "r"}}))["previewReissue"]
    assert preview["eligibility"]["eligible"] is False
    assert [r["code"] for r in preview["eligibility"]["reasons"]] == ["PRIMARY_DOMAIN_LOCKED"]

    cancelled = await act(owner, CANCEL, started["reissue"]["id"])
    assert cancelled["reissue"]["status"] == "CANCELLED"  # R24 releases the locks
    assert error_codes(await act(owner, CANCEL, started["reissue"]["id"])) == ["INVALID_STATE"]
    assert (await request(owner, certificateId=second["id"], csrSource="ONLINE", reason="r"))["userErrors"] == []


async def test_preview_reports_steps_without_taking_a_lock(owner):
    zone = unique_zone()
    cert, _ = await upload_cert(owner, f"p.{zone}")
    preview = (
        await owner(PREVIEW, {"input": {"certificateId": cert["id"], "csrSource": "ONLINE", "reason": "r"}})
    )["previewReissue"]
    assert preview["eligibility"] == {"eligible": True, "flow": "PAID_DV", "reasons": []}
    assert preview["userErrors"] == [] and preview["domainValidationRequired"] is True
    bad = (await owner(PREVIEW, {"input": {"certificateId": cert["id"], "domain": "x.other.com", "reason": "r"}}))
    assert [e["code"] for e in bad["previewReissue"]["userErrors"]] == ["DOMAIN_NOT_ON_CERTIFICATE"]
    # R12: nothing was locked, so a real request goes through.
    assert (await request(owner, certificateId=cert["id"], csrSource="ONLINE", reason="r"))["userErrors"] == []


async def test_a_certificate_expiring_within_30_days_cannot_be_reissued(owner):
    cert, _ = await upload_cert(owner, f"old.{unique_zone()}", issued_days_ago=350, days=370)
    assert error_codes(await request(owner, certificateId=cert["id"], reason="r")) == ["EXPIRES_WITHIN_30_DAYS"]


async def test_an_expired_reissue_releases_its_locks_on_access(owner, services):
    zone = unique_zone()
    first, _ = await upload_cert(owner, f"a.{zone}")
    second, _ = await upload_cert(owner, f"b.{zone}")
    started = await request(owner, certificateId=first["id"], csrSource="ONLINE", reason="r")
    await services.database.db.reissues.update_one(
        {"_id": started["reissue"]["id"]}, {"$set": {"expiresAt": certs.datetime(2020, 1, 1, tzinfo=certs.UTC)}}
    )
    seen = (await owner(GET, {"id": started["reissue"]["id"]}))["reissue"]
    assert seen["status"] == "EXPIRED" and seen["events"][-1]["actor"] == "system"  # R24
    assert (await request(owner, certificateId=second["id"], csrSource="ONLINE", reason="r"))["userErrors"] == []


# -- idempotency --------------------------------------------------------------------------


async def test_the_same_idempotency_key_and_input_return_the_first_result(owner):
    cert, _ = await upload_cert(owner, f"i.{unique_zone()}")
    args = dict(certificateId=cert["id"], csrSource="ONLINE", reason="r", idempotencyKey="k-1")
    first = await request(owner, **args)
    second = await request(owner, **args)
    assert second["userErrors"] == [] and second["reissue"]["id"] == first["reissue"]["id"]
    assert second["privateKeyPem"] == first["privateKeyPem"]
    changed = await request(owner, **{**args, "reason": "other"})
    assert error_codes(changed) == ["IDEMPOTENCY_KEY_REUSED"]


# -- uploaded CSRs (R8) -----------------------------------------------------------------


async def test_uploaded_csrs_are_checked_for_signature_names_and_key_strength(owner):
    zone = unique_zone()
    cert, _ = await upload_cert(owner, f"u.{zone}")

    async def codes(csr_pem: str) -> list[str]:
        return error_codes(await request(owner, certificateId=cert["id"], csrSource="UPLOAD", csrPem=csr_pem, reason="r"))

    assert await codes("-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n") == ["INVALID_CSR"]
    assert await codes(certs.issue(f"other.{zone}").csr_pem) == ["CSR_DOMAIN_MISMATCH"]
    assert await codes(certs.issue(f"u.{zone}", key=certs.rsa_key(1024)).csr_pem) == ["WEAK_KEY"]
    assert await codes(certs.issue(f"u.{zone}", key=certs.ec_key(certs.ec.SECP521R1)).csr_pem) == ["UNSUPPORTED_ALGORITHM"]
    fresh = certs.issue(f"u.{zone}")
    ok = await request(owner, certificateId=cert["id"], csrSource="UPLOAD", csrPem=fresh.csr_pem, reason="r")
    assert ok["userErrors"] == [] and ok["privateKeyPem"] is None
    assert ok["reissue"]["status"] == "PENDING_DOMAIN_VALIDATION"


def owner_account(client) -> str:
    return client.account


async def test_without_the_original_csr_the_original_source_is_unavailable(owner):
    cert, _ = await upload_cert(owner, f"n.{unique_zone()}", with_csr=False)
    result = await request(owner, certificateId=cert["id"], reason="r")
    assert error_codes(result) == ["ORIGINAL_CSR_UNAVAILABLE"]  # R6


async def test_an_expired_certificate_is_not_issued_for_reissue(owner):
    cert, _ = await upload_cert(owner, f"e.{unique_zone()}", issued_days_ago=400, days=365)
    assert cert["status"] == "EXPIRED"
    assert error_codes(await request(owner, certificateId=cert["id"], reason="r")) == ["CERTIFICATE_NOT_ISSUED"]  # R1


async def test_automatic_validation_without_a_provider_is_not_allowed(owner):
    cert, _ = await upload_cert(owner, f"auto.{unique_zone()}")
    result = await request(owner, certificateId=cert["id"], csrSource="ONLINE", reason="r", validationMethod="DNS_AUTO")
    assert error_codes(result) == ["OPTION_NOT_ALLOWED"]
    assert "provider" in result["userErrors"][0]["message"]


async def test_a_wildcard_cannot_be_validated_by_file(owner):
    cert, _ = await upload_cert(owner, f"*.{unique_zone()}")
    result = await request(owner, certificateId=cert["id"], csrSource="ONLINE", reason="r", validationMethod="FILE")
    assert error_codes(result) == ["OPTION_NOT_ALLOWED"]


async def test_validating_a_reissue_that_is_not_pending_validation_is_invalid_state(owner):
    cert, _ = await upload_cert(owner, f"s.{unique_zone()}")
    issued = await request(owner, certificateId=cert["id"], reason="r")  # SAME_CSR: issued at once
    assert error_codes(await act(owner, CHECK, issued["reissue"]["id"])) == ["INVALID_STATE"]


async def test_another_accounts_reissue_does_not_exist(owner, client_for):
    cert, _ = await upload_cert(owner, f"o.{unique_zone()}")
    started = await request(owner, certificateId=cert["id"], csrSource="ONLINE", reason="r")
    stranger = await client_for("stranger-acct", "owner")
    assert (await stranger(GET, {"id": started["reissue"]["id"]}))["reissue"] is None  # R26
    assert error_codes(await act(stranger, CANCEL, started["reissue"]["id"])) == ["NOT_FOUND"]
    node = await stranger("query($id: ID!) { node(id: $id) { id } }", {"id": started["reissue"]["id"]})
    assert node["node"] is None


async def test_a_chain_from_an_untrusted_ca_earns_no_waiver(owner):
    """A self-signed certificate says what it likes about itself: no SAME_CSR, no 3 days (R28)."""
    from tests.integration.test_upload_certificate import UPLOAD

    issued = certs.self_signed(f"login.{unique_zone()}")
    uploaded = (await owner(UPLOAD, {"input": {
        "certificatePem": issued.chain_pem, "csrPem": issued.csr_pem, "privateKeyPem": issued.key_pem()}}
    ))["uploadCertificate"]
    assert uploaded["userErrors"] == []
    cert_id = uploaded["certificate"]["id"]
    assert uploaded["certificate"]["chainTrusted"] is False and uploaded["certificate"]["keyVerified"] is True
    preview = (await owner(PREVIEW, {"input": {"certificateId": cert_id, "reason": "r"}}))["previewReissue"]
    assert preview["waivers"] == [] and "R28" in preview["waiversUnavailableReason"]
    result = await request(owner, certificateId=cert_id, reason="r")
    assert result["reissue"]["waivers"] == [] and result["reissue"]["status"] == "PENDING_DOMAIN_VALIDATION"
