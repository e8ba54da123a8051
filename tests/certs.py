"""Test certificates made on the spot with `cryptography`: a CA, chains, keys, CSRs."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID


def a_label(name: str) -> str:
    import idna

    wildcard = name.startswith("*.")
    text = idna.encode(name.removeprefix("*.").rstrip("."), uts46=True).decode()
    return ("*." if wildcard else "") + text


def rsa_key(bits: int = 2048):
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


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


@functools.cache
def root_ca() -> Authority:
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
        .sign(key, hashes.SHA384())
    )
    return Authority(key, cert)


@functools.cache
def intermediate_ca() -> Authority:
    root = root_ca()
    key = ec_key(ec.SECP256R1)
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("Test Intermediate CA", "certreissue tests"))
        .issuer_name(root.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=3000))
        .not_valid_after(now + timedelta(days=3000))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
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
    days: int = 365,
) -> Issued:
    """A leaf signed by the test intermediate. The key defaults to a fresh ECDSA P-256."""
    key = key or ec_key()
    ca = intermediate_ca()
    now = datetime.now(UTC)
    not_before = not_before or (now - timedelta(days=1))
    not_after = not_after or (not_before + timedelta(days=days))
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
    cert = builder.sign(ca.key, hashes.SHA256())
    csr_builder = x509.CertificateSigningRequestBuilder().subject_name(subject)
    if sans:
        csr_builder = csr_builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in sans]), critical=False
        )
    from cryptography.hazmat.primitives.asymmetric import ed448, ed25519

    digest = None if isinstance(key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)) else hashes.SHA256()
    csr = csr_builder.sign(key, digest)
    return Issued(key=key, cert=cert, chain_pem=pem(cert) + pem(ca.cert), csr=csr)


def issue_rsa(common_name: str, sans: list[str] | None = None, **kw) -> Issued:
    return issue(common_name, sans, key=kw.pop("key", None) or rsa_key(2048), **kw)
