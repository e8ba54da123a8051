"""R27: path validation of an imported chain (pyca/cryptography's verifier), and proof
that the private key belongs to the certificate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography import x509

from domain.trust import prove_key_possession, verify_chain
from tests import certs

NOW = datetime.now(UTC)


def verdict(issued: certs.Issued, name: str | None = None, *, intermediates=None, roots=None, now=NOW):
    pool = intermediates if intermediates is not None else [certs.intermediate_ca("SECTIGO").cert]
    hostname = name or issued.cert.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)[0].value
    return verify_chain(issued.cert, pool, roots if roots is not None else [certs.root_ca().cert], hostname, now)


def test_a_chain_to_a_trusted_root_is_trusted():
    # R27
    issued = certs.issue("shop.example.com", brand="SECTIGO")
    result = verdict(issued)
    assert result.trusted is True and result.reason is None


def test_intermediates_are_a_pool_in_any_order_with_strangers_ignored():
    # R27: path building, not a hand-written walk of the given order
    issued = certs.issue("shop.example.com", brand="SECTIGO")
    pool = [certs.intermediate_ca("DIGICERT").cert, certs.root_ca().cert, certs.intermediate_ca("SECTIGO").cert]
    assert verdict(issued, intermediates=pool).trusted is True


def test_a_leaf_posing_as_an_issuer_is_not_trusted():
    # R27: every issuer must be a CA by basicConstraints (the forged-chain attack)
    own = certs.issue("attacker-owned.com", brand="SECTIGO")
    forged = certs.issue("login.bank-victim.com", issuer=certs.Authority(own.key, own.cert))
    result = verdict(forged, intermediates=[own.cert, certs.intermediate_ca("SECTIGO").cert])
    assert result.trusted is False and result.reason


def test_a_self_signed_certificate_is_not_trusted():
    # R27
    issued = certs.self_signed("www.google.com", org="Google LLC", level="EV")
    result = verdict(issued, intermediates=[])
    assert result.trusted is False and result.reason


def test_a_chain_to_a_root_the_service_does_not_trust_is_not_trusted():
    # R27: only the service's trust store counts
    issued = certs.issue("shop.example.com", brand="SECTIGO")
    stranger = certs.self_signed("other-root.example.com").cert
    assert verdict(issued, roots=[stranger]).trusted is False
    assert verify_chain(issued.cert, [], [], "shop.example.com", NOW).trusted is False


def test_an_expired_certificate_is_not_trusted_at_import():
    # R27: validity at import
    issued = certs.issue("old.example.com", brand="SECTIGO", not_before=NOW - timedelta(days=100), days=50)
    result = verdict(issued)
    assert result.trusted is False
    assert "not valid at validation time" in result.reason


def test_a_leaf_without_server_auth_is_not_trusted():
    # R27: serverAuth extended key usage
    issued = certs.issue(
        "client.example.com", brand="SECTIGO", profile=False,
        extensions=[
            (x509.KeyUsage(True, False, False, False, False, False, False, False, False), True),
            (x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), False),
            (x509.AuthorityKeyIdentifier.from_issuer_public_key(certs.intermediate_ca("SECTIGO").key.public_key()), False),
        ],
    )
    assert verdict(issued).trusted is False


def test_a_name_the_leaf_does_not_cover_is_not_trusted():
    # R27: verified for the bound domain
    issued = certs.issue("shop.example.com", ["www.example.com"], brand="SECTIGO")
    assert verdict(issued, "shop.example.com").trusted is False
    assert verdict(issued, "www.example.com").trusted is True


def test_a_wildcard_certificate_is_verified_for_its_wildcard():
    issued = certs.issue("*.example.com", brand="SECTIGO")
    assert verdict(issued, "*.example.com").trusted is True


def test_name_constraints_of_an_issuer_are_enforced():
    # R27: an intermediate limited to allowed.com cannot vouch for bank.com
    root = certs.root_ca()
    key = certs.ec_key()
    constrained = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "Constrained CA")]))
        .issuer_name(root.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=100))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.NameConstraints([x509.DNSName("allowed.com")], None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root.key.public_key()), critical=False)
        .sign(root.key, certs.hashes.SHA256())
    )
    ca = certs.Authority(key, constrained)
    inside = certs.issue("www.allowed.com", issuer=ca, chain=[constrained])
    outside = certs.issue("login.bank.com", issuer=ca, chain=[constrained])
    assert verdict(inside, intermediates=[constrained]).trusted is True
    assert verdict(outside, intermediates=[constrained]).trusted is False


def test_the_key_of_the_certificate_proves_possession_and_another_does_not():
    # R27 keyVerified
    issued = certs.issue("key.example.com")
    assert prove_key_possession(issued.key, issued.cert) is True
    assert prove_key_possession(certs.ec_key(), issued.cert) is False
