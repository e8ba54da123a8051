"""uploadCertificate through the real HTTP stack (DOMAIN.md "Words", R9, R26, R27, R29)."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from tests import certs

CERTIFICATE_FIELDS = """
      id domain subjectAltNames primaryDomain brand validationLevel isFree status
      keyAlgorithm keyParameter notBefore notAfter issuedAt serialNumber fingerprintSha256
      validationMethod organization { name } reissueCount certificatePem chainPem privateKeyPem
      provenance chainTrusted keyVerified chainUntrustedReason purchasedYears autoValidationConfigured
      versions { serialNumber fingerprintSha256 notAfter supersededAt keyAlgorithm keyParameter }
      activeReissue { id }
"""

UPLOAD = """
mutation Upload($input: UploadCertificateInput!) {
  uploadCertificate(input: $input) {
    certificate { %s }
    userErrors { code message field }
  }
}
""" % CERTIFICATE_FIELDS

SET_ORDER_FACTS = """
mutation Facts($input: SetOrderFactsInput!) {
  setOrderFacts(input: $input) {
    certificate { %s orderFactChanges { at actor fact old new } }
    userErrors { code message field }
  }
}
""" % CERTIFICATE_FIELDS


def upload_input(issued: certs.Issued, **overrides) -> dict:
    data = {
        "certificatePem": issued.chain_pem,
        "privateKeyPem": issued.key_pem(),
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


async def upload(client, issued, **overrides) -> dict:
    data = await client(UPLOAD, {"input": upload_input(issued, **overrides)})
    return data["uploadCertificate"]


async def test_uploading_an_rsa_chain_stores_every_fact_of_the_leaf(owner):
    issued = certs.issue_rsa("Shop.Example.COM", ["shop.example.com", "www.shop.example.com"])
    result = await upload(owner, issued, csrPem=issued.csr_pem)
    assert result["userErrors"] == []
    cert = result["certificate"]
    assert cert["id"].startswith("crt_")
    assert cert["domain"] == "shop.example.com"
    assert cert["subjectAltNames"] == ["shop.example.com", "www.shop.example.com"]
    assert cert["primaryDomain"] == "example.com"
    assert cert["keyAlgorithm"] == "RSA" and cert["keyParameter"] == "2048"
    assert cert["status"] == "ISSUED"
    assert cert["serialNumber"] == format(issued.cert.serial_number, "X")
    assert cert["fingerprintSha256"] == issued.cert.fingerprint(certs.hashes.SHA256()).hex().upper()
    assert datetime.fromisoformat(cert["notAfter"]) == issued.cert.not_valid_after_utc
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", cert["notAfter"])  # one format everywhere
    assert cert["certificatePem"] == certs.pem(issued.cert)
    assert cert["chainPem"] == certs.pem(certs.intermediate_ca().cert)
    assert cert["reissueCount"] == 0 and cert["activeReissue"] is None
    assert len(cert["versions"]) == 1 and cert["versions"][0]["supersededAt"] is None
    # The owner downloads the key they uploaded, as PKCS#8.
    assert cert["privateKeyPem"] == issued.key_pem()


async def test_uploading_an_ecdsa_chain_reads_the_curve_name(owner):
    issued = certs.issue("api.example.org", key=certs.ec_key(certs.ec.SECP384R1))
    result = await upload(owner, issued)
    assert result["userErrors"] == []
    assert result["certificate"]["keyAlgorithm"] == "ECC"
    assert result["certificate"]["keyParameter"] == "secp384r1"
    p256 = await upload(owner, certs.issue("p256.example.org"))
    assert p256["certificate"]["keyParameter"] == "prime256v1"


async def test_bound_domain_is_the_first_san_when_there_is_no_common_name(owner):
    issued = certs.issue(None, ["first.example.net", "second.example.net"])
    result = await upload(owner, issued)
    assert result["certificate"]["domain"] == "first.example.net"


async def test_organization_level_and_brand_are_read_from_a_trusted_certificate(owner):
    # R29: organization from the subject's O, level from the policy OID, brand from the issuer's O
    issued = certs.issue("org.example.com", org="Example Ltd", brand="DIGICERT", level="OV")
    result = await upload(owner, issued)
    cert = result["certificate"]
    assert cert["organization"] == {"name": "Example Ltd"}
    assert (cert["brand"], cert["validationLevel"]) == ("DIGICERT", "OV")
    # R29: an import starts paid, 1 year, no automatic validation
    assert (cert["isFree"], cert["purchasedYears"], cert["autoValidationConfigured"]) == (False, 1, False)


async def test_a_password_protected_key_is_stored_as_the_owners_encrypted_pkcs8(owner, services):
    issued = certs.issue("locked.example.com")
    result = await upload(owner, issued, privateKeyPem=issued.key_pem("s3cret-pw"), privateKeyPassword="s3cret-pw")
    assert result["userErrors"] == []
    stored = result["certificate"]["privateKeyPem"]
    assert "ENCRYPTED PRIVATE KEY" in stored
    loaded = certs.serialization.load_pem_private_key(stored.encode(), b"s3cret-pw")
    assert loaded.private_numbers() == issued.key.private_numbers()


async def test_a_readable_key_is_sealed_at_rest_never_plaintext(owner, services):
    issued = certs.issue("sealed.example.com")
    result = await upload(owner, issued)
    doc = await services.database.certificates.find_one({"_id": result["certificate"]["id"]})
    raw = bytes(doc["privateKey"]["data"])
    assert doc["privateKey"]["storage"] == "SEALED"
    body = "".join(issued.key_pem().splitlines()[1:-1])
    assert b"PRIVATE KEY" not in raw and body.encode() not in raw


@pytest.mark.parametrize(
    ("name", "primary"),
    [
        ("a.b.example.co.uk", "example.co.uk"),
        ("x.github.io", "x.github.io"),
        ("*.example.com", "example.com"),
        ("WWW.MiXeD.Example.COM", "example.com"),
        ("shop.example.com.", "example.com"),
        ("shop.bücher.de", "xn--bcher-kva.de"),
        ("shop.xn--bcher-kva.de", "xn--bcher-kva.de"),
    ],
)
async def test_primary_domain_follows_the_public_suffix_list_with_its_private_section(owner, name, primary):
    # A Unicode name can stand in the common name; SANs carry A-labels (RFC 5280).
    issued = certs.issue(name, [certs.a_label(name)])
    result = await upload(owner, issued)
    assert result["userErrors"] == []
    assert result["certificate"]["primaryDomain"] == primary


# -- every upload error code ------------------------------------------------------------


async def test_garbage_is_invalid_certificate_saying_no_pem_was_found(owner):
    result = await owner(UPLOAD, {"input": {"certificatePem": "hello"}})
    error = result["uploadCertificate"]["userErrors"][0]
    assert error["code"] == "INVALID_CERTIFICATE"
    assert error["field"] == ["input", "certificatePem"]
    assert "no PEM block" in error["message"]
    assert result["uploadCertificate"]["certificate"] is None


async def test_a_truncated_certificate_is_invalid_certificate(owner):
    text = certs.pem(certs.issue("t.example.com").cert)
    lines = text.splitlines()
    truncated = "\n".join(lines[:5] + lines[-1:]) + "\n"
    result = await upload(owner, certs.issue("t.example.com"), certificatePem=truncated)
    error = result["userErrors"][0]
    assert error["code"] == "INVALID_CERTIFICATE" and "could not be read" in error["message"]


async def test_a_private_key_pasted_as_the_certificate_says_where_it_belongs(owner):
    issued = certs.issue("k.example.com")
    result = await upload(owner, issued, certificatePem=issued.key_pem())
    error = result["userErrors"][0]
    assert error["code"] == "INVALID_CERTIFICATE" and "privateKeyPem" in error["message"]


async def test_a_chain_with_the_intermediate_first_is_refused(owner):
    issued = certs.issue("order.example.com")
    wrong = certs.pem(certs.intermediate_ca().cert) + certs.pem(issued.cert)
    result = await upload(owner, issued, certificatePem=wrong)
    error = result["userErrors"][0]
    assert error["code"] == "INVALID_CERTIFICATE" and "leaf" in error["message"]


async def test_a_key_of_another_certificate_is_key_mismatch(owner):
    issued = certs.issue("mine.example.com")
    other = certs.issue("other.example.com")
    result = await upload(owner, issued, privateKeyPem=other.key_pem())
    error = result["userErrors"][0]
    assert error["code"] == "KEY_MISMATCH" and error["field"] == ["input", "privateKeyPem"]


async def test_a_csr_of_another_key_is_key_mismatch_on_csr_pem(owner):
    issued = certs.issue("csr.example.com")
    other = certs.issue("csr.example.com")
    result = await upload(owner, issued, csrPem=other.csr_pem)
    error = result["userErrors"][0]
    assert error["code"] == "KEY_MISMATCH" and error["field"] == ["input", "csrPem"]


async def test_a_corrupt_csr_is_invalid_csr(owner):
    issued = certs.issue("badcsr.example.com")
    result = await upload(owner, issued, csrPem="-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n")
    assert result["userErrors"][0]["code"] == "INVALID_CSR"


async def test_an_encrypted_key_without_its_password_asks_for_it(owner):
    issued = certs.issue("pw.example.com")
    result = await upload(owner, issued, privateKeyPem=issued.key_pem("pw-123456"))
    error = result["userErrors"][0]
    assert error["code"] == "INVALID_INPUT" and error["field"] == ["input", "privateKeyPassword"]


async def test_a_wrong_key_password_says_the_password_is_wrong(owner):
    issued = certs.issue("pw2.example.com")
    result = await upload(owner, issued, privateKeyPem=issued.key_pem("right-one"), privateKeyPassword="wrong-one")
    error = result["userErrors"][0]
    assert error["code"] == "INVALID_INPUT" and "password is wrong" in error["message"]


async def test_an_ed25519_certificate_is_unsupported_algorithm(owner):
    from cryptography.hazmat.primitives.asymmetric import ed25519

    issued = certs.issue("ed.example.com", key=ed25519.Ed25519PrivateKey.generate())
    result = await upload(owner, issued, privateKeyPem=None)
    assert result["userErrors"][0]["code"] == "UNSUPPORTED_ALGORITHM"


@pytest.mark.parametrize("declared", ["brand", "validationLevel", "organizationName", "isFree",
                                      "autoValidationConfigured", "purchasedYears"])
async def test_the_upload_no_longer_takes_facts_the_uploader_declares(owner, declared):
    # R29: facts come from the certificate, order facts from an operator; the input has no such field
    value = {"brand": "TRUSTASIA", "validationLevel": "EV", "organizationName": "Google LLC", "isFree": True,
             "autoValidationConfigured": True, "purchasedYears": 2}[declared]
    issued = certs.issue("declared.example.com")
    response = await owner.raw(UPLOAD, {"input": {**upload_input(issued), declared: value}})
    body = response.json()
    assert body["data"] is None and declared in body["errors"][0]["message"]


async def test_uploading_the_same_certificate_twice_names_the_first_copy(owner):
    issued = certs.issue("twice.example.com")
    first = await upload(owner, issued)
    second = await upload(owner, issued)
    error = second["userErrors"][0]
    assert error["code"] == "INVALID_INPUT" and first["certificate"]["id"] in error["message"]


async def test_a_failed_upload_stores_nothing(owner, services):
    issued = certs.issue("nothing.example.com")
    other = certs.issue("nothing.example.com")
    await upload(owner, issued, privateKeyPem=other.key_pem())
    count = await services.database.certificates.count_documents({"domain": "nothing.example.com"})
    assert count == 0
