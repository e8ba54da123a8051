"""Test certificates made on the spot with `cryptography`: a CA, chains, keys, CSRs."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def a_label(name: str) -> str:
    import idna

    wildcard = name.startswith("*.")
    text = idna.encode(name.removeprefix("*.").rstrip("."), uts46=True).decode()
    return ("*." if wildcard else "") + text


def rsa_key(bits: int = 2048):
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def rsa_key_with_exponent(exponent: int, bits: int = 2048):
    """An RSA key whose public exponent is `exponent` (cryptography generates only 3 and
    65537): the primes of a generated key, with d computed for `exponent`."""
    import math

    while True:
        numbers = rsa_key(bits).private_numbers()
        p, q = numbers.p, numbers.q
        phi = (p - 1) * (q - 1)
        if math.gcd(exponent, phi) != 1:
            continue
        d = pow(exponent, -1, phi)
        private = rsa.RSAPrivateNumbers(
            p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q), rsa.rsa_crt_iqmp(p, q),
            rsa.RSAPublicNumbers(exponent, p * q),
        )
        return private.private_key()


def ec_key(curve=ec.SECP256R1):
    return ec.generate_private_key(curve())


def pem(obj) -> str:
    return obj.public_bytes(serialization.Encoding.PEM).decode()


def key_pem(key, password: str | None = None, *, traditional: bool = False) -> str:
    fmt = serialization.PrivateFormat.TraditionalOpenSSL if traditional else serialization.PrivateFormat.PKCS8
    enc = serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, fmt, enc).decode()


@dataclass
class Authority:
    key: object
    cert: x509.Certificate


def _name(cn: str, org: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def _ca_usage() -> x509.KeyUsage:
    return x509.KeyUsage(True, False, False, False, False, True, True, False, False)


@functools.cache
def root_ca() -> Authority:
    """The tests' root (trusted by the tests' data dir, as an operator trusts a public CA)."""
    key = ec_key(ec.SECP384R1)
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("Test Root CA", "certreissue tests"))
        .issuer_name(_name("Test Root CA", "certreissue tests"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=3650))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_ca_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA384())
    )
    return Authority(key, cert)


# The issuer organization of each brand's test intermediate: R29 reads the brand from it.
BRAND_ISSUERS = {
    "TRUSTASIA": "TrustAsia Technologies, Inc. (test)",
    "DNSPOD": "DNSPod, Inc. (test)",
    "WOTRUS": "WoTrus CA Limited (test)",
    "DIGICERT": "DigiCert Inc (test)",
    "GEOTRUST": "GeoTrust Inc. (test)",
    "GLOBALSIGN": "GlobalSign nv-sa (test)",
    "SECTIGO": "Sectigo Limited (test)",
    "OTHER": "certreissue tests",
}
# R29: CA/Browser Forum policy OIDs.
LEVEL_POLICIES = {"DV": "2.23.140.1.2.1", "OV": "2.23.140.1.2.2", "EV": "2.23.140.1.1"}


def intermediate_ca(brand: str = "OTHER") -> Authority:
    """The test intermediate of `brand` (its organization names the brand, R29)."""
    return _intermediate(brand)


@functools.cache
def _intermediate(brand: str) -> Authority:
    root = root_ca()
    key = ec_key(ec.SECP256R1)
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(f"Test {brand.title()} CA", BRAND_ISSUERS[brand]))
        .issuer_name(root.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=3000))
        .not_valid_after(now + timedelta(days=3000))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_ca_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root.key.public_key()), critical=False)
        .sign(root.key, hashes.SHA256())
    )
    return Authority(key, cert)


@dataclass
class Issued:
    key: object
    cert: x509.Certificate
    chain_pem: str  # leaf + intermediate
    csr: x509.CertificateSigningRequest

    @property
    def leaf_pem(self) -> str:
        return pem(self.cert)

    @property
    def csr_pem(self) -> str:
        return pem(self.csr)

    def key_pem(self, password: str | None = None) -> str:
        return key_pem(self.key, password)


@functools.cache
def _shared_rsa_key():
    return rsa_key(2048)


def issue(
    common_name: str | None,
    sans: list[str] | None = None,
    *,
    key=None,
    org: str | None = None,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    days: int | None = None,
    brand: str = "OTHER",
    level: str | None = "DV",
    issuer: Authority | None = None,
    chain: list[x509.Certificate] | None = None,
    extensions: list[tuple[x509.ExtensionType, bool]] | None = None,
    profile: bool = True,
) -> Issued:
    """A leaf signed by the test intermediate of `brand` (or by `issuer`), asserting the
    CA/B policy of `level` (None: no policy), with the web PKI profile path validation
    expects (`profile=False` leaves out key usages and key identifiers). The key defaults
    to a fresh ECDSA P-256; the validity to what a CA may issue now (R30, see `max_days`)."""
    key = key or ec_key()
    ca = issuer or intermediate_ca(brand)
    now = datetime.now(UTC)
    not_before = not_before or (now - timedelta(days=1))
    not_after = not_after or (not_before + timedelta(days=days if days is not None else max_days(not_before)))
    sans = sans if sans is not None else ([common_name] if common_name else [])
    subject = _name(common_name, org) if common_name else x509.Name(
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)] if org else []
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    if sans:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in sans]), critical=False
        )
    if profile:
        builder = (
            builder.add_extension(
                x509.KeyUsage(True, False, isinstance(key, rsa.RSAPrivateKey), False, False, False, False, False, False),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
        )
    if level is not None:
        builder = builder.add_extension(
            x509.CertificatePolicies([x509.PolicyInformation(x509.ObjectIdentifier(LEVEL_POLICIES[level]), None)]),
            critical=False,
        )
    for extension, critical in extensions or ():
        builder = builder.add_extension(extension, critical=critical)
    from cryptography.hazmat.primitives.asymmetric import ed448, ed25519

    ca_digest = None if isinstance(ca.key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)) else hashes.SHA256()
    cert = builder.sign(ca.key, ca_digest)
    csr_builder = x509.CertificateSigningRequestBuilder().subject_name(subject)
    if sans:
        csr_builder = csr_builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in sans]), critical=False
        )
    digest = None if isinstance(key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)) else hashes.SHA256()
    csr = csr_builder.sign(key, digest)
    rest = chain if chain is not None else [ca.cert]
    return Issued(key=key, cert=cert, chain_pem=pem(cert) + "".join(pem(c) for c in rest), csr=csr)


def self_signed(
    common_name: str, *, key=None, org: str | None = None, days: int = 365, level: str | None = "DV",
    sans: list[str] | None = None,
) -> Issued:
    """A certificate that signs itself: it names whatever its maker wants (R27: untrusted)."""
    key = key or ec_key()
    now = datetime.now(UTC)
    subject = _name(common_name, org)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now - timedelta(days=1) + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in sans or [common_name]]), critical=False)
    )
    if level is not None:
        builder = builder.add_extension(
            x509.CertificatePolicies([x509.PolicyInformation(x509.ObjectIdentifier(LEVEL_POLICIES[level]), None)]),
            critical=False,
        )
    cert = builder.sign(key, hashes.SHA256())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(subject)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(common_name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(key=key, cert=cert, chain_pem=pem(cert), csr=csr)


def max_days(issued_at: datetime | None = None) -> int:
    """The longest validity a CA may issue at `issued_at` under the default R30 schedule:
    test certificates stay within it so that a reissue keeps their notAfter (R5)."""
    from domain.validity import DEFAULT_SCHEDULE

    return DEFAULT_SCHEDULE.max_days(issued_at or datetime.now(UTC)) - 1


def issue_rsa(common_name: str, sans: list[str] | None = None, **kw) -> Issued:
    return issue(common_name, sans, key=kw.pop("key", None) or rsa_key(2048), **kw)
