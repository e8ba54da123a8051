"""The built-in certificate authority: a root and one intermediate per brand, generated
into `<CERTS_DATA_DIR>/ca/v2/` on first start, signing reissue CSRs (R5, R23).

Each intermediate's organization names its brand in the words R29 reads back
(`certreissue built-in CA for TrustAsia`), and each leaf carries the CA/Browser Forum
policy OID of its validation level, so a certificate reissued here keeps its brand and
level. The profile (key usages, key identifiers, basic constraints) is the one
RFC 5280 path validation with the web PKI profile expects (domain.trust).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from domain.facts import BRAND_WORDS, POLICY_OF_LEVEL
from domain.model import Brand, RevocationReason, ValidationLevel
from adapters.private_files import private_dir
from domain.ports import CertificateAuthority, Revocation, SignedCertificate

CA_DIR = "v2"
BUILTIN_ISSUER_ID = "builtin"  # CertificateVersion.issued_by of what this CA signs
CRL_LIFETIME = timedelta(hours=24)  # nextUpdate
CRL_REUSE = timedelta(seconds=60)  # a process signs each issuer's CRL at most once a minute
_CRL_REASON = {RevocationReason.SUPERSEDED: x509.ReasonFlags.superseded}
ORGANIZATION = "certreissue built-in CA"
ROOT_YEARS, INTERMEDIATE_YEARS = 30, 25
_WORD_OF_BRAND = {brand: word for word, brand in BRAND_WORDS}


def organization_for(brand: Brand) -> str:
    """The intermediate's O: R29's brand table maps it back to `brand`."""
    word = _WORD_OF_BRAND.get(brand)
    return f"{ORGANIZATION} for {word}" if word else ORGANIZATION


def _name(cn: str, organization: str) -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, cn), x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization)]
    )


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
        key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False,
    )


def _pem(key, cert: x509.Certificate) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ) + cert.public_bytes(serialization.Encoding.PEM)


def _generate(directory: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    root_key = ec.generate_private_key(ec.SECP384R1())
    root_name = _name("certreissue Root CA", ORGANIZATION)
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365 * ROOT_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA384())
    )
    (directory / "root.pem").write_bytes(_pem(root_key, root))
    for brand in Brand:
        key = ec.generate_private_key(ec.SECP256R1())
        label = _WORD_OF_BRAND.get(brand, "")
        intermediate = (
            x509.CertificateBuilder()
            .subject_name(_name(f"certreissue {label} CA".replace("  ", " "), organization_for(brand)))
            .issuer_name(root.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=365 * INTERMEDIATE_YEARS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_ca_key_usage(), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
            .sign(root_key, hashes.SHA384())
        )
        (directory / f"{brand.value.lower()}.pem").write_bytes(_pem(key, intermediate))
    for path in directory.iterdir():
        os.chmod(path, 0o600)


def load_or_create(data_dir: Path) -> Path:
    """Processes racing on first start agree: the set appears at once (a directory rename),
    and a loser discards its own."""
    private_dir(data_dir)
    parent = private_dir(data_dir / "ca")
    directory = parent / CA_DIR
    if not directory.exists():
        tmp = Path(tempfile.mkdtemp(dir=parent))
        try:
            _generate(tmp)
            try:
                os.rename(tmp, directory)
            except OSError:
                if not directory.exists():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return directory


@dataclass(frozen=True)
class _Issuer:
    key: object
    cert: x509.Certificate


def _load(path: Path) -> _Issuer:
    material = path.read_bytes()
    return _Issuer(serialization.load_pem_private_key(material, None), x509.load_pem_x509_certificate(material))


class BuiltInAuthority(CertificateAuthority):
    """`revocations` (adapters.mongo_downloads.MongoCaRevocations) keeps the revoked serials
    every process publishes; without it the CA revokes nothing."""

    def __init__(self, data_dir: Path, revocations=None) -> None:
        directory = load_or_create(data_dir)
        self._root = _load(directory / "root.pem")
        self._issuers = {brand: _load(directory / f"{brand.value.lower()}.pem") for brand in Brand}
        self._revocations = revocations
        self._crls: dict[Brand, tuple[datetime, bytes]] = {}

    def issuer_of(self, certificate: x509.Certificate) -> Brand | None:
        """The brand whose intermediate signed `certificate`; None when none of ours did."""
        for brand, issuer in self._issuers.items():
            if certificate.issuer != issuer.cert.subject:
                continue
            try:
                certificate.verify_directly_issued_by(issuer.cert)
            except (ValueError, TypeError, InvalidSignature):
                continue
            return brand
        return None

    @property
    def issuer_id(self) -> str:
        return BUILTIN_ISSUER_ID

    @property
    def can_revoke(self) -> bool:
        return self._revocations is not None

    async def revoke(self, certificate_pem: str, reason: RevocationReason, now: datetime) -> Revocation | None:
        try:
            certificate = x509.load_pem_x509_certificate(certificate_pem.encode())
        except ValueError:
            return None
        brand = self.issuer_of(certificate)
        if brand is None or self._revocations is None:
            return None  # issued elsewhere (an upload): not ours to revoke
        return await self._revocations.add(brand.value.lower(), certificate.serial_number, reason, now)

    async def crl(self, brand: Brand, now: datetime) -> bytes:
        """The DER CRL of `brand`'s intermediate: every serial it revoked, with the reason;
        thisUpdate when it was made, nextUpdate CRL_LIFETIME later, numbered by that time.
        Made again once CRL_REUSE has passed (unauthenticated readers cost at most one
        read and one signature per issuer a minute), so a revocation shows within that."""
        made = self._crls.get(brand)
        if made is not None and made[0] <= now < made[0] + CRL_REUSE:
            return made[1]
        issuer = self._issuers[brand]
        revoked = await self._revocations.of_issuer(brand.value.lower()) if self._revocations else []
        now = now.replace(microsecond=0)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(issuer.cert.subject)
            .last_update(now)
            .next_update(now + CRL_LIFETIME)
            .add_extension(x509.CRLNumber(int(now.timestamp())), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.cert.public_key()), critical=False
            )
        )
        for serial, revoked_at, reason in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(serial)
                .revocation_date(revoked_at)
                .add_extension(x509.CRLReason(_CRL_REASON[reason]), critical=False)
                .build()
            )
        der = builder.sign(issuer.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
        self._crls[brand] = (now, der)
        return der

    @property
    def root(self) -> x509.Certificate:
        return self._root.cert

    @property
    def roots(self) -> list:
        return [self._root.cert]

    def issuer(self, brand: Brand) -> x509.Certificate:
        return self._issuers[brand].cert

    def issuer_not_after(self, brand: Brand) -> datetime:
        return self._issuers[brand].cert.not_valid_after_utc

    async def sign(
        self,
        csr_pem: str,
        domain: str,
        not_after: datetime,
        now: datetime,
        *,
        brand: Brand,
        level: ValidationLevel,
        organization: str | None = None,
    ) -> SignedCertificate:
        issuer = self._issuers[brand]
        csr = x509.load_pem_x509_csr(csr_pem.encode())
        not_before = now.replace(microsecond=0)
        if not_after > issuer.cert.not_valid_after_utc or not_after <= not_before:
            # R30 is decided before signing; this CA never signs past its own validity.
            raise ValueError(f"notAfter {not_after.isoformat()} is outside the issuing CA's validity")
        subject = [x509.NameAttribute(NameOID.COMMON_NAME, domain)]
        if organization:
            subject.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
        public_key = csr.public_key()
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(subject))
            .issuer_name(issuer.cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=False,
                    key_encipherment=isinstance(public_key, rsa.RSAPublicKey), data_encipherment=False,
                    key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(domain)]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.CertificatePolicies([x509.PolicyInformation(x509.ObjectIdentifier(POLICY_OF_LEVEL[level]), None)]),
                critical=False,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.cert.public_key()), critical=False
            )
        )
        cert = builder.sign(issuer.key, hashes.SHA256())
        return SignedCertificate(
            certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
            chain_pem=issuer.cert.public_bytes(serialization.Encoding.PEM).decode(),
        )
