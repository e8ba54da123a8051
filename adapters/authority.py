"""The built-in certificate authority: a root and an intermediate generated into
`<CERTS_DATA_DIR>/ca/` on first start, signing reissue CSRs (R5, R23)."""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from adapters.private_files import private_dir
from domain.ports import CertificateAuthority, SignedCertificate

CA_FILE = "authority.pem"


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "certreissue built-in CA"),
        ]
    )


def _generate() -> bytes:
    now = datetime.now(UTC).replace(microsecond=0)
    root_key = ec.generate_private_key(ec.SECP384R1())
    root = (
        x509.CertificateBuilder()
        .subject_name(_name("certreissue Root CA"))
        .issuer_name(_name("certreissue Root CA"))
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365 * 30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(root_key, hashes.SHA384())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    intermediate = (
        x509.CertificateBuilder()
        .subject_name(_name("certreissue Intermediate CA"))
        .issuer_name(root.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365 * 25))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(root_key, hashes.SHA384())
    )
    parts = [
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        intermediate.public_bytes(serialization.Encoding.PEM),
        root.public_bytes(serialization.Encoding.PEM),
    ]
    return b"".join(parts)


def load_or_create(data_dir: Path) -> bytes:
    """Processes racing on first start agree: the file appears atomically (link)."""
    private_dir(data_dir)
    directory = private_dir(data_dir / "ca")
    path = directory / CA_FILE
    if not path.exists():
        fd, tmp = tempfile.mkstemp(dir=directory)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(_generate())
            os.chmod(tmp, 0o600)
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp)
    return path.read_bytes()


class BuiltInAuthority(CertificateAuthority):
    def __init__(self, data_dir: Path) -> None:
        material = load_or_create(data_dir)
        self._key = serialization.load_pem_private_key(material, None)
        certs = x509.load_pem_x509_certificates(material)
        self._intermediate, self.root = certs[0], certs[1]

    async def sign(
        self, csr_pem: str, domain: str, not_after: datetime, now: datetime, organization: str | None = None
    ) -> SignedCertificate:
        csr = x509.load_pem_x509_csr(csr_pem.encode())
        not_before = now.replace(microsecond=0)
        subject = [x509.NameAttribute(NameOID.COMMON_NAME, domain)]
        if organization:
            subject.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(subject))
            .issuer_name(self._intermediate.subject)
            .public_key(csr.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(domain)]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        )
        cert = builder.sign(self._key, hashes.SHA256())
        return SignedCertificate(
            certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
            chain_pem=self._intermediate.public_bytes(serialization.Encoding.PEM).decode(),
        )
