"""The applicant's choices (R6-R11) and the uploaded CSR's key and names (R8)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from domain.errors import ErrorCode, InvalidInput
from domain.model import Brand, KeyAlgorithm, ValidationLevel, ValidationMethod
from domain.reissues import CsrSource
from domain.rules import check_csr_covers, check_request, check_uploaded_key
from domain.x509 import build_csr, csr_key, csr_names, load_csr
from tests import certs
from tests.unit.factories import free_dv, make_request, organization_cert, paid_dv

ORIGINAL_CSR = "-----BEGIN CERTIFICATE REQUEST-----\nMA==\n-----END CERTIFICATE REQUEST-----\n"
UPLOADED_CSR = "-----BEGIN CERTIFICATE REQUEST-----\nMQ==\n-----END CERTIFICATE REQUEST-----\n"


def refused(certificate, **request) -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        check_request(certificate, make_request(**request))
    return info.value


# -- R6: the CSR source ---------------------------------------------------------------------


def test_original_without_a_csr_on_file_gets_original_csr_unavailable():
    # R6
    err = refused(paid_dv(csr_pem=None), csr_source=CsrSource.ORIGINAL)
    assert err.code == ErrorCode.ORIGINAL_CSR_UNAVAILABLE
    assert err.field == ["input", "csrSource"]


def test_original_with_a_csr_on_file_keeps_the_current_key():
    # R6: ORIGINAL reuses the original CSR and key
    cert = paid_dv(csr_pem=ORIGINAL_CSR, key_algorithm=KeyAlgorithm.ECC, key_parameter="secp384r1")
    checked = check_request(cert, make_request(csr_source=CsrSource.ORIGINAL))
    assert checked.csr_source == CsrSource.ORIGINAL
    assert (checked.key_algorithm, checked.key_parameter) == (KeyAlgorithm.ECC, "secp384r1")
    assert checked.csr_pem is None


def test_upload_without_csr_pem_is_invalid_input_on_csr_pem():
    # R6
    err = refused(paid_dv(), csr_source=CsrSource.UPLOAD)
    assert err.code == ErrorCode.INVALID_INPUT
    assert err.field == ["input", "csrPem"]


def test_upload_with_a_blank_csr_pem_is_invalid_input_on_csr_pem():
    # R6
    err = refused(paid_dv(), csr_source=CsrSource.UPLOAD, csr_pem="  \n ")
    assert err.code == ErrorCode.INVALID_INPUT
    assert err.field == ["input", "csrPem"]


def test_upload_with_csr_pem_is_accepted_and_carries_it():
    # R6
    checked = check_request(paid_dv(), make_request(csr_source=CsrSource.UPLOAD, csr_pem=UPLOADED_CSR))
    assert checked.csr_source == CsrSource.UPLOAD
    assert checked.csr_pem == UPLOADED_CSR


@pytest.mark.parametrize("source", [CsrSource.ONLINE, CsrSource.ORIGINAL])
def test_csr_pem_with_another_source_gets_option_not_allowed(source):
    # R6: csrPem is only for UPLOAD
    err = refused(paid_dv(csr_pem=ORIGINAL_CSR), csr_source=source, csr_pem=UPLOADED_CSR)
    assert err.code == ErrorCode.OPTION_NOT_ALLOWED
    assert err.field == ["input", "csrPem"]


# -- R7: the domain --------------------------------------------------------------------------


def test_a_domain_not_on_the_certificate_gets_domain_not_on_certificate():
    # R7
    err = refused(paid_dv(), domain="mail.example.com")
    assert err.code == ErrorCode.DOMAIN_NOT_ON_CERTIFICATE
    assert err.field == ["input", "domain"]


def test_a_san_in_another_case_and_with_a_trailing_dot_is_accepted_normalized():
    # R7 + "Words": names compare case-insensitively, without a trailing dot
    checked = check_request(paid_dv(), make_request(domain="API.Example.COM."))
    assert checked.domain == "api.example.com"


def test_the_domain_defaults_to_the_bound_domain():
    # R7
    assert check_request(paid_dv(), make_request()).domain == "www.example.com"


def test_the_bound_domain_given_explicitly_is_accepted():
    # R7
    assert check_request(paid_dv(), make_request(domain="www.example.com")).domain == "www.example.com"


def test_a_unicode_san_matches_its_punycode_form():
    # R7 + "Words": compared in IDNA (punycode) form
    cert = paid_dv(domain="www.xn--bcher-kva.de", subject_alt_names=("www.xn--bcher-kva.de",))
    assert check_request(cert, make_request(domain="WWW.Bücher.de")).domain == "www.xn--bcher-kva.de"


def test_a_malformed_domain_is_invalid_input_on_domain():
    # R7: the domain must be a hostname
    err = refused(paid_dv(), domain="www..example.com")
    assert err.code == ErrorCode.INVALID_INPUT
    assert err.field == ["input", "domain"]


# -- R8: algorithm and key parameter for ONLINE -----------------------------------------------


def test_online_rsa_1024_gets_weak_key():
    # R8
    err = refused(paid_dv(), key_algorithm=KeyAlgorithm.RSA, key_parameter="1024")
    assert err.code == ErrorCode.WEAK_KEY
    assert err.field == ["input", "keyParameter"]


def test_online_rsa_5000_gets_unsupported_algorithm():
    # R8: RSA is 2048, 3072 or 4096 only
    err = refused(paid_dv(), key_algorithm=KeyAlgorithm.RSA, key_parameter="5000")
    assert err.code == ErrorCode.UNSUPPORTED_ALGORITHM


def test_online_ecc_secp521r1_gets_unsupported_algorithm():
    # R8: ECC is prime256v1 or secp384r1 only
    err = refused(paid_dv(), key_algorithm=KeyAlgorithm.ECC, key_parameter="secp521r1")
    assert err.code == ErrorCode.UNSUPPORTED_ALGORITHM


@pytest.mark.parametrize("brand", [b for b in Brand if b != Brand.DNSPOD])
def test_online_sm2_for_a_non_dnspod_brand_gets_unsupported_algorithm(brand):
    # R8: SM2 only for DNSPod SM2 certificates
    err = refused(paid_dv(brand=brand), key_algorithm=KeyAlgorithm.SM2, key_parameter="sm2p256v1")
    assert err.code == ErrorCode.UNSUPPORTED_ALGORITHM


def test_online_sm2_for_a_dnspod_rsa_certificate_gets_unsupported_algorithm():
    # R8: SM2 only for DNSPod *SM2* certificates; a DNSPod RSA certificate is not one
    cert = organization_cert(Brand.DNSPOD, key_algorithm=KeyAlgorithm.RSA, key_parameter="2048")
    err = refused(cert, key_algorithm=KeyAlgorithm.SM2, key_parameter="sm2p256v1")
    assert err.code == ErrorCode.UNSUPPORTED_ALGORITHM


def test_online_sm2_for_a_dnspod_sm2_certificate_is_accepted():
    # R8
    cert = organization_cert(Brand.DNSPOD, key_algorithm=KeyAlgorithm.SM2, key_parameter="sm2p256v1")
    checked = check_request(cert, make_request(key_algorithm=KeyAlgorithm.SM2))
    assert (checked.key_algorithm, checked.key_parameter) == (KeyAlgorithm.SM2, "sm2p256v1")


@pytest.mark.parametrize(
    "algorithm,parameter",
    [
        (KeyAlgorithm.RSA, "2048"),
        (KeyAlgorithm.RSA, "3072"),
        (KeyAlgorithm.RSA, "4096"),
        (KeyAlgorithm.ECC, "prime256v1"),
        (KeyAlgorithm.ECC, "secp384r1"),
    ],
)
def test_online_allowed_algorithms_and_parameters_are_accepted(algorithm, parameter):
    # R8
    checked = check_request(paid_dv(), make_request(key_algorithm=algorithm, key_parameter=parameter))
    assert (checked.key_algorithm, checked.key_parameter) == (algorithm, parameter)


def test_online_without_algorithm_defaults_to_the_current_algorithm_and_parameter():
    # R8: defaults to the certificate's current key
    cert = paid_dv(key_algorithm=KeyAlgorithm.ECC, key_parameter="secp384r1")
    checked = check_request(cert, make_request())
    assert (checked.key_algorithm, checked.key_parameter) == (KeyAlgorithm.ECC, "secp384r1")


def test_online_rsa_4096_certificate_defaults_to_rsa_4096():
    # R8
    cert = paid_dv(key_algorithm=KeyAlgorithm.RSA, key_parameter="4096")
    checked = check_request(cert, make_request())
    assert (checked.key_algorithm, checked.key_parameter) == (KeyAlgorithm.RSA, "4096")


@pytest.mark.parametrize(
    "alias,expected", [("P-256", "prime256v1"), ("secp256r1", "prime256v1"), ("P-384", "secp384r1"), (" PRIME256V1 ", "prime256v1")]
)
def test_online_curve_aliases_are_accepted_and_canonicalized(alias, expected):
    # R8: OpenSSL names are canonical; common aliases are accepted
    checked = check_request(paid_dv(), make_request(key_algorithm=KeyAlgorithm.ECC, key_parameter=alias))
    assert (checked.key_algorithm, checked.key_parameter) == (KeyAlgorithm.ECC, expected)


@pytest.mark.parametrize("name,value", [("keyAlgorithm", KeyAlgorithm.ECC), ("keyParameter", "4096")])
@pytest.mark.parametrize("source", [CsrSource.ORIGINAL, CsrSource.UPLOAD])
def test_algorithm_choices_with_original_or_upload_get_option_not_allowed(source, name, value):
    # R8: algorithm and parameter are choices of ONLINE generation
    kwargs = {"keyAlgorithm": {"key_algorithm": value}, "keyParameter": {"key_parameter": value}}[name]
    csr = UPLOADED_CSR if source == CsrSource.UPLOAD else None
    err = refused(paid_dv(csr_pem=ORIGINAL_CSR), csr_source=source, csr_pem=csr, **kwargs)
    assert err.code == ErrorCode.OPTION_NOT_ALLOWED
    assert err.field == ["input", name]


# -- R9: private key password -------------------------------------------------------------


@pytest.mark.parametrize("source", [CsrSource.ORIGINAL, CsrSource.UPLOAD])
def test_a_password_with_original_or_upload_gets_option_not_allowed(source):
    # R9: ONLINE only
    csr = UPLOADED_CSR if source == CsrSource.UPLOAD else None
    err = refused(paid_dv(csr_pem=ORIGINAL_CSR), csr_source=source, csr_pem=csr, private_key_password="s3cret-pass")
    assert err.code == ErrorCode.OPTION_NOT_ALLOWED
    assert err.field == ["input", "privateKeyPassword"]


@pytest.mark.parametrize("password", ["", "abc"])
def test_a_too_short_password_is_invalid_input(password):
    # R9
    err = refused(paid_dv(), private_key_password=password)
    assert err.code == ErrorCode.INVALID_INPUT
    assert err.field == ["input", "privateKeyPassword"]


def test_a_password_with_online_is_kept():
    # R9
    checked = check_request(paid_dv(), make_request(private_key_password="s3cret-pass"))
    assert checked.private_key_password == "s3cret-pass"


# -- R10: the reason ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "certificate",
    [
        organization_cert(Brand.WOTRUS, ValidationLevel.OV),
        organization_cert(Brand.DNSPOD, ValidationLevel.EV),
        organization_cert(Brand.DIGICERT, ValidationLevel.OV),
        paid_dv(),
    ],
    ids=["wotrus-ov", "dnspod-ev", "digicert-ov", "paid-dv"],
)
@pytest.mark.parametrize("reason", [None, "", "   "])
def test_a_missing_reason_for_organization_and_paid_dv_is_invalid_input_on_reason(certificate, reason):
    # R10: required for OV/EV and paid DV
    err = refused(certificate, reason=reason)
    assert err.code == ErrorCode.INVALID_INPUT
    assert err.field == ["input", "reason"]


def test_the_reason_is_optional_for_free_dv():
    # R10
    checked = check_request(free_dv(), make_request(reason=None))
    assert checked.reason is None


def test_a_reason_of_200_characters_is_accepted():
    # R10: 1-200 characters
    assert check_request(paid_dv(), make_request(reason="x" * 200)).reason == "x" * 200


def test_a_reason_of_one_character_is_accepted():
    # R10
    assert check_request(paid_dv(), make_request(reason="x")).reason == "x"


def test_a_reason_of_201_characters_is_refused():
    # R10
    err = refused(paid_dv(), reason="x" * 201)
    assert err.code == ErrorCode.INVALID_INPUT
    assert err.field == ["input", "reason"]


def test_a_free_dv_reason_of_201_characters_is_refused_too():
    # R10: optional, but still 1-200 when given
    err = refused(free_dv(), reason="x" * 201)
    assert err.field == ["input", "reason"]


@pytest.mark.parametrize("reason", ["key\x00leaked", "key\nleaked", "key\x1b[31mleaked", "key\tleaked"])
def test_a_reason_with_control_characters_is_refused(reason):
    # R10: a brief text, no control characters
    err = refused(paid_dv(), reason=reason)
    assert err.code == ErrorCode.INVALID_INPUT
    assert err.field == ["input", "reason"]


def test_a_non_ascii_reason_is_accepted():
    # R10
    assert check_request(paid_dv(), make_request(reason="私钥泄露")).reason == "私钥泄露"


# -- R11: free DV takes only algorithm (+parameter) and password ----------------------------


@pytest.mark.parametrize("source", [CsrSource.UPLOAD, CsrSource.ORIGINAL])
def test_free_dv_with_upload_or_original_gets_option_not_allowed(source):
    # R11: CSR source is ONLINE
    csr = UPLOADED_CSR if source == CsrSource.UPLOAD else None
    err = refused(free_dv(csr_pem=ORIGINAL_CSR), csr_source=source, csr_pem=csr, reason=None)
    assert err.code == ErrorCode.OPTION_NOT_ALLOWED
    assert err.field == ["input", "csrSource"]


def test_free_dv_with_another_domain_of_the_certificate_gets_option_not_allowed():
    # R11: the domain is the bound domain (even a SAN of the certificate is refused)
    err = refused(free_dv(), domain="api.example.com", reason=None)
    assert err.code == ErrorCode.OPTION_NOT_ALLOWED
    assert err.field == ["input", "domain"]


def test_free_dv_with_a_domain_not_on_the_certificate_gets_option_not_allowed():
    # R11
    err = refused(free_dv(), domain="other.example.org", reason=None)
    assert err.code == ErrorCode.OPTION_NOT_ALLOWED


def test_free_dv_with_the_bound_domain_in_another_form_is_accepted():
    # R11 + "Words"
    assert check_request(free_dv(), make_request(domain="WWW.example.com.", reason=None)).domain == "www.example.com"


def test_free_dv_with_another_validation_method_gets_option_not_allowed():
    # R11: domain validation reuses the original method
    err = refused(free_dv(validation_method=ValidationMethod.DNS), validation_method=ValidationMethod.FILE, reason=None)
    assert err.code == ErrorCode.OPTION_NOT_ALLOWED
    assert err.field == ["input", "validationMethod"]


def test_free_dv_with_its_original_validation_method_is_accepted():
    # R11
    cert = free_dv(validation_method=ValidationMethod.FILE)
    checked = check_request(cert, make_request(validation_method=ValidationMethod.FILE, reason=None))
    assert checked.validation_method == ValidationMethod.FILE


def test_free_dv_validation_method_defaults_to_the_original_one():
    # R11 / R16
    cert = free_dv(validation_method=ValidationMethod.FILE)
    assert check_request(cert, make_request(reason=None)).validation_method == ValidationMethod.FILE


def test_free_dv_with_an_organization_name_gets_option_not_allowed():
    # R11
    err = refused(free_dv(), organization_name="Example Ltd", reason=None)
    assert err.code == ErrorCode.OPTION_NOT_ALLOWED
    assert err.field == ["input", "organizationName"]


def test_free_dv_with_csr_pem_and_online_gets_option_not_allowed():
    # R11 / R6
    err = refused(free_dv(), csr_pem=UPLOADED_CSR, reason=None)
    assert err.code == ErrorCode.OPTION_NOT_ALLOWED
    assert err.field == ["input", "csrPem"]


def test_free_dv_with_algorithm_parameter_and_password_is_accepted():
    # R11: exactly what free DV may choose
    checked = check_request(
        free_dv(),
        make_request(
            key_algorithm=KeyAlgorithm.ECC, key_parameter="prime256v1", private_key_password="s3cret-pass", reason=None
        ),
    )
    assert (checked.key_algorithm, checked.key_parameter) == (KeyAlgorithm.ECC, "prime256v1")
    assert checked.private_key_password == "s3cret-pass"
    assert checked.domain == "www.example.com"


# -- organizationName (R13) ------------------------------------------------------------------


def test_an_organization_name_on_a_paid_dv_certificate_gets_option_not_allowed():
    # R13: the organization is for OV/EV re-applications
    err = refused(paid_dv(), organization_name="Example Ltd")
    assert err.code == ErrorCode.OPTION_NOT_ALLOWED
    assert err.field == ["input", "organizationName"]


def test_the_organization_defaults_to_the_one_on_file():
    # R13
    cert = organization_cert(Brand.WOTRUS, organization_name="Example Ltd")
    assert check_request(cert, make_request()).organization_name == "Example Ltd"


def test_a_new_organization_name_is_taken_stripped():
    # R13
    cert = organization_cert(Brand.WOTRUS, organization_name="Example Ltd")
    assert check_request(cert, make_request(organization_name="  Example Group  ")).organization_name == "Example Group"


@pytest.mark.parametrize("name", ["", "   ", "x" * 201, "Example\x00Ltd"])
def test_a_bad_organization_name_is_invalid_input(name):
    # R13
    err = refused(organization_cert(Brand.WOTRUS), organization_name=name)
    assert err.code == ErrorCode.INVALID_INPUT
    assert err.field == ["input", "organizationName"]


# -- R8: the uploaded CSR's key and names ------------------------------------------------------


def uploaded_key(key) -> tuple:
    csr = load_csr(certs.issue("www.example.com", key=key).csr_pem, field=["input", "csrPem"])
    return csr_key(csr)


def test_an_uploaded_rsa_1024_csr_gets_weak_key():
    # R8: RSA under 2048 bits -> WEAK_KEY
    algorithm, parameter, exponent = uploaded_key(certs.rsa_key(1024))
    assert (algorithm, parameter) == (KeyAlgorithm.RSA, "1024")
    with pytest.raises(InvalidInput) as info:
        check_uploaded_key(algorithm, parameter, exponent)
    assert info.value.code == ErrorCode.WEAK_KEY
    assert info.value.field == ["input", "csrPem"]


@pytest.mark.parametrize("exponent", [3, 17, 65539])
def test_an_uploaded_rsa_csr_with_an_exponent_other_than_65537_gets_weak_key(exponent):
    # R31: RSA public exponent 65537 only
    key = certs.rsa_key_with_exponent(exponent)
    algorithm, parameter, found = uploaded_key(key)
    assert found == exponent
    with pytest.raises(InvalidInput) as info:
        check_uploaded_key(algorithm, parameter, found)
    assert info.value.code == ErrorCode.WEAK_KEY
    assert info.value.field == ["input", "csrPem"]
    assert "65537" in info.value.message


def test_a_reused_original_csr_is_judged_on_the_csr_source_field():
    # R31 for csrSource ORIGINAL: the error names the field the applicant chose
    with pytest.raises(InvalidInput) as info:
        check_uploaded_key(KeyAlgorithm.RSA, "2048", 3, field=["input", "csrSource"], what="the original CSR's")
    assert info.value.field == ["input", "csrSource"]
    assert info.value.message.startswith("the original CSR's RSA key")


def test_an_uploaded_csr_of_an_unknown_key_type_gets_unsupported_algorithm():
    # R8: algorithm None is a key type we do not take (here Ed25519)
    algorithm, parameter, exponent = uploaded_key(ed25519.Ed25519PrivateKey.generate())
    assert algorithm is None
    with pytest.raises(InvalidInput) as info:
        check_uploaded_key(algorithm, parameter, exponent)
    assert info.value.code == ErrorCode.UNSUPPORTED_ALGORITHM


def test_an_uploaded_p521_csr_gets_unsupported_algorithm():
    # R8: another curve -> UNSUPPORTED_ALGORITHM
    algorithm, parameter, exponent = uploaded_key(certs.ec_key(ec.SECP521R1))
    assert (algorithm, parameter) == (KeyAlgorithm.ECC, "secp521r1")
    with pytest.raises(InvalidInput) as info:
        check_uploaded_key(algorithm, parameter, exponent)
    assert info.value.code == ErrorCode.UNSUPPORTED_ALGORITHM


def test_an_uploaded_rsa_key_of_an_odd_size_above_2048_gets_unsupported_algorithm():
    # R8: RSA 2048, 3072, 4096 only
    with pytest.raises(InvalidInput) as info:
        check_uploaded_key(KeyAlgorithm.RSA, "2560")
    assert info.value.code == ErrorCode.UNSUPPORTED_ALGORITHM


@pytest.mark.parametrize(
    "key_factory,expected",
    [
        (lambda: certs.rsa_key(2048), (KeyAlgorithm.RSA, "2048")),
        (lambda: certs.ec_key(ec.SECP256R1), (KeyAlgorithm.ECC, "prime256v1")),
        (lambda: certs.ec_key(ec.SECP384R1), (KeyAlgorithm.ECC, "secp384r1")),
    ],
    ids=["rsa2048", "p256", "p384"],
)
def test_uploaded_csrs_with_allowed_keys_pass(key_factory, expected):
    # R8
    algorithm, parameter, exponent = uploaded_key(key_factory())
    assert (algorithm, parameter) == expected
    check_uploaded_key(algorithm, parameter, exponent)


def test_an_uploaded_csr_naming_the_domain_covers_it():
    # R8
    csr = load_csr(certs.issue("www.example.com", ["www.example.com", "api.example.com"]).csr_pem, field=["csrPem"])
    check_csr_covers("api.example.com", csr_names(csr))
    check_csr_covers("www.example.com", csr_names(csr))


def test_an_uploaded_csr_not_naming_the_domain_gets_csr_domain_mismatch():
    # R8: a subject/SAN that does not cover the chosen domain
    csr = load_csr(certs.issue("shop.example.com").csr_pem, field=["csrPem"])
    with pytest.raises(InvalidInput) as info:
        check_csr_covers("www.example.com", csr_names(csr))
    assert info.value.code == ErrorCode.CSR_DOMAIN_MISMATCH
    assert info.value.field == ["input", "csrPem"]
    assert "shop.example.com" in info.value.message


def test_an_uploaded_csr_with_no_names_gets_csr_domain_mismatch():
    # R8
    with pytest.raises(InvalidInput) as info:
        check_csr_covers("www.example.com", [])
    assert info.value.code == ErrorCode.CSR_DOMAIN_MISMATCH


def test_csr_names_are_normalized_so_an_upper_case_csr_covers_the_domain():
    # R8 + "Words": names compare case-insensitively
    csr = load_csr(certs.issue("WWW.Example.COM", ["WWW.Example.COM"]).csr_pem, field=["csrPem"])
    check_csr_covers("www.example.com", csr_names(csr))


# -- R6 ONLINE: the generated CSR (domain.x509.build_csr) -----------------------------------


def test_an_online_csr_names_exactly_the_chosen_domain_and_carries_the_organization():
    # R6 ONLINE + R8: the generated CSR covers the chosen domain and is validly signed
    key = certs.ec_key(ec.SECP384R1)
    csr = load_csr(build_csr(key, "api.example.com", "Example Ltd"), field=["csrPem"])
    assert csr_names(csr) == ["api.example.com"]
    check_csr_covers("api.example.com", csr_names(csr))
    assert csr_key(csr) == (KeyAlgorithm.ECC, "secp384r1", None)
    assert csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Example Ltd"


def test_an_online_csr_without_organization_has_no_organization_attribute():
    csr = load_csr(build_csr(certs.rsa_key(2048), "www.example.com", None), field=["csrPem"])
    assert csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME) == []
    assert csr_key(csr) == (KeyAlgorithm.RSA, "2048", 65537)


@pytest.mark.parametrize(
    "overrides",
    [dict(domain="a" * 100_000 + ".example.com"), dict(csr_source=CsrSource.ONLINE, key_algorithm=KeyAlgorithm.RSA,
                                                      key_parameter="9" * 100_000)],
    ids=["domain", "keyParameter"],
)
def test_an_error_names_a_huge_input_without_echoing_it_back(overrides):
    # A 100 KB value is refused in a message a person can read, not repeated in full.
    with pytest.raises(InvalidInput) as info:
        check_request(paid_dv(), make_request(**overrides))
    assert len(info.value.message) < 400 and "100" in info.value.message
