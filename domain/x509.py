"""Reading certificates, chains and private keys (pure computation with `cryptography`).

Every failure is an InvalidInput whose message says what was wrong, so that a person who
pasted the wrong thing knows what to paste instead.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from asn1crypto import core as asn1_core
from asn1crypto import keys as asn1_keys
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from domain.errors import ErrorCode, InvalidInput
from domain.facts import first_attribute
from domain.hostnames import normalize_hostname
from domain.model import KeyAlgorithm

MAX_PEM_BYTES = 64 * 1024
# The body may not cross a "-----" marker: linear time on hostile input of many BEGIN lines.
_PEM_BLOCK = re.compile(
    r"-----BEGIN ([A-Z0-9 ]+)-----\s*((?:(?!-----).)*?)\s*-----END \1-----", re.DOTALL
)
# OpenSSL names, as the contract and DOMAIN.md R8 use them.
CURVE_NAMES = {"secp256r1": "prime256v1", "secp384r1": "secp384r1", "secp521r1": "secp521r1"}


@dataclass(frozen=True)
class KeyDescription:
    algorithm: KeyAlgorithm
    parameter: str  # "2048" for RSA, the OpenSSL curve name for ECC
    rsa_exponent: int | None = None  # R31


@dataclass(frozen=True)
class ParsedCertificate:
    domain: str
    subject_alt_names: tuple[str, ...]
    organization_name: str | None
    serial_number: str
    fingerprint_sha256: str
    not_before: datetime
    not_after: datetime
    key: KeyDescription
    certificate_pem: str
    chain_pem: str
    public_key_der: bytes
    leaf: x509.Certificate
    intermediates: tuple[x509.Certificate, ...]


def _pem_blocks(text: str, field: list[str]) -> list[tuple[str, str]]:
    if len(text.encode("utf-8", "replace")) > MAX_PEM_BYTES:
        raise InvalidInput(
            f"the PEM text is larger than {MAX_PEM_BYTES // 1024} KiB",
            code=ErrorCode.INVALID_INPUT,
            field=field,
        )
    blocks = [(m.group(1), m.group(0)) for m in _PEM_BLOCK.finditer(text)]
    return blocks


def describe_public_key(public_key, *, field: list[str], code: ErrorCode) -> KeyDescription:
    if isinstance(public_key, rsa.RSAPublicKey):
        return KeyDescription(KeyAlgorithm.RSA, str(public_key.key_size), public_key.public_numbers().e)
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        name = CURVE_NAMES.get(public_key.curve.name, public_key.curve.name)
        return KeyDescription(KeyAlgorithm.ECC, name)
    raise InvalidInput(
        f"the key type {type(public_key).__name__.removeprefix('_')} is not supported: use RSA or ECC",
        code=ErrorCode.UNSUPPORTED_ALGORITHM,
        field=field,
    )


def public_key_der(public_key) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _dns_names(cert: x509.Certificate) -> list[str]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return list(ext.value.get_values_for_type(x509.DNSName))


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def parse_certificate_chain(text: str, *, field: list[str]) -> ParsedCertificate:
    """Parses `leaf [intermediate ...]` PEM text (R-"Words": the certificate's facts)."""
    blocks = _pem_blocks(text or "", field)
    if not blocks:
        raise InvalidInput(
            "no PEM block found: paste the certificate starting with "
            "-----BEGIN CERTIFICATE-----",
            code=ErrorCode.INVALID_CERTIFICATE,
            field=field,
        )
    others = sorted({label for label, _ in blocks if label != "CERTIFICATE"})
    if others:
        raise InvalidInput(
            f"expected only CERTIFICATE blocks, found {', '.join(others)}"
            + (": put the private key in privateKeyPem" if any("KEY" in o for o in others) else "")
            + (": put the CSR in csrPem" if any("REQUEST" in o for o in others) else ""),
            code=ErrorCode.INVALID_CERTIFICATE,
            field=field,
        )
    certs: list[x509.Certificate] = []
    for index, (_, block) in enumerate(blocks):
        try:
            certs.append(x509.load_pem_x509_certificate(block.encode("ascii", "replace")))
        except ValueError as exc:
            where = "the first certificate" if index == 0 else f"certificate #{index + 1} of the chain"
            raise InvalidInput(
                f"{where} could not be read: it is truncated or not DER inside the PEM ({exc})",
                code=ErrorCode.INVALID_CERTIFICATE,
                field=field,
            ) from exc
    for index, cert in enumerate(certs):
        try:
            cert.extensions  # parsed lazily: malformed DER surfaces here  # noqa: B018
        except (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType) as exc:
            where = "the first certificate" if index == 0 else f"certificate #{index + 1} of the chain"
            raise InvalidInput(
                f"{where} has an extension that cannot be read ({exc})",
                code=ErrorCode.INVALID_CERTIFICATE,
                field=field,
            ) from exc
    leaf = certs[0]
    # A repeated certificate (the leaf again, an intermediate twice) adds nothing: dropped.
    chain = list({c.fingerprint(hashes.SHA256()): c for c in certs[1:] if c != leaf}.values())
    if _is_ca(leaf) and chain:
        raise InvalidInput(
            "the first certificate is a CA certificate: put the leaf (your site's certificate) first, then the intermediates",
            code=ErrorCode.INVALID_CERTIFICATE,
            field=field,
        )
    # The order of the rest does not matter: path validation (domain.trust) builds the
    # path from them as a pool, and certificates not on it are ignored.
    _refuse_ip_names(leaf, field)

    common_name = first_attribute(leaf.subject, NameOID.COMMON_NAME)
    raw_sans = _dns_names(leaf)
    bound = common_name or (raw_sans[0] if raw_sans else None)
    if not bound:
        raise InvalidInput(
            "the certificate names no domain: it has neither a common name nor a DNS subject alternative name",
            code=ErrorCode.INVALID_CERTIFICATE,
            field=field,
        )
    try:
        domain = normalize_hostname(bound, field=field)
        sans = tuple(dict.fromkeys(normalize_hostname(n, field=field) for n in raw_sans))
    except InvalidInput as exc:
        raise InvalidInput(
            f"the certificate's domain is not a valid hostname: {exc.message}",
            code=ErrorCode.INVALID_CERTIFICATE,
            field=field,
        ) from exc
    key = describe_public_key(leaf.public_key(), field=field, code=ErrorCode.INVALID_CERTIFICATE)
    return ParsedCertificate(
        domain=domain,
        subject_alt_names=sans,
        organization_name=first_attribute(leaf.subject, NameOID.ORGANIZATION_NAME),
        serial_number=format(leaf.serial_number, "X"),
        fingerprint_sha256=leaf.fingerprint(hashes.SHA256()).hex().upper(),
        not_before=leaf.not_valid_before_utc,
        not_after=leaf.not_valid_after_utc,
        key=key,
        certificate_pem=leaf.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        chain_pem="".join(c.public_bytes(serialization.Encoding.PEM).decode("ascii") for c in chain),
        public_key_der=public_key_der(leaf.public_key()),
        leaf=leaf,
        intermediates=tuple(chain),
    )


def is_ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip().strip("[]"))
    except ValueError:
        return False
    return True


def _refuse_ip_names(leaf: x509.Certificate, field: list[str]) -> None:
    """R27: a certificate for an IP address is not one this service reissues."""
    try:
        ips = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.IPAddress
        )
    except x509.ExtensionNotFound:
        ips = []
    common_name = first_attribute(leaf.subject, NameOID.COMMON_NAME)
    if ips or (common_name and is_ip_literal(common_name)):
        shown = ", ".join(str(ip) for ip in ips) or common_name
        raise InvalidInput(
            f"the certificate names an IP address ({shown}): only certificates for domain names "
            "under a registrable domain can be imported (R27)",
            code=ErrorCode.INVALID_CERTIFICATE,
            field=field,
        )


def _single_block(text: str, wanted, *, what: str, extra: str, code: ErrorCode, field: list[str]) -> str:
    """The one PEM block whose label `wanted` accepts; otherwise an error saying what was found."""
    blocks = _pem_blocks(text or "", field)
    matching = [block for label, block in blocks if wanted(label)]
    if not matching:
        found = ", ".join(sorted({label for label, _ in blocks})) or "no PEM block"
        raise InvalidInput(f"expected {what}, found {found}", code=code, field=field)
    if len(matching) > 1:
        raise InvalidInput(f"{len(matching)} blocks were given where one is expected: {extra}", code=code, field=field)
    return matching[0]


def load_private_key(text: str, password: str | None, *, field: list[str], password_field: list[str]):
    """Reads a PEM private key, decrypting it with `password` when it is encrypted."""
    block = _single_block(
        text,
        lambda label: label.endswith("PRIVATE KEY"),
        what="a PEM private key (-----BEGIN PRIVATE KEY-----)",
        extra="paste only the certificate's key",
        code=ErrorCode.INVALID_CERTIFICATE,
        field=field,
    )
    data = block.encode("ascii", "replace")
    encrypted = b"ENCRYPTED" in data
    if encrypted and not password:
        raise InvalidInput(
            "the private key is encrypted: give its password in privateKeyPassword",
            code=ErrorCode.INVALID_INPUT,
            field=password_field,
        )
    if encrypted:
        check_key_derivation_cost(block, field=field)
    try:
        key = serialization.load_pem_private_key(data, password.encode() if encrypted and password else None)
    except TypeError as exc:
        # A password for a key that is not encrypted, or the reverse.
        raise InvalidInput(
            "the private key is not encrypted: leave privateKeyPassword empty",
            code=ErrorCode.INVALID_INPUT,
            field=password_field,
        ) from exc
    except ValueError as exc:
        if encrypted:
            raise InvalidInput(
                "the private key could not be decrypted: the password is wrong",
                code=ErrorCode.INVALID_INPUT,
                field=password_field,
            ) from exc
        raise InvalidInput(
            f"the private key could not be read: it is truncated or corrupt ({exc})",
            code=ErrorCode.INVALID_CERTIFICATE,
            field=field,
        ) from exc
    except UnsupportedAlgorithm as exc:
        raise InvalidInput(
            f"the private key's algorithm is not supported ({exc})",
            code=ErrorCode.UNSUPPORTED_ALGORITHM,
            field=field,
        ) from exc
    return key, encrypted


# What decrypting an uploaded key may cost: the sender chooses the key derivation's work,
# and an upload must not hold a CPU for seconds (or reserve gigabytes) to decrypt it.
MAX_PBKDF_ITERATIONS = 1_000_000  # PBKDF2-HMAC-SHA256: ~0.3 s on a server core
MAX_SCRYPT_WORK = 1 << 20  # N * r * p
MAX_SCRYPT_MEMORY = 64 * 1024 * 1024  # 128 * N * r bytes
SCRYPT_OID = "1.3.6.1.4.1.11591.4.11"


class _ScryptParams(asn1_core.Sequence):
    _fields = [
        ("salt", asn1_core.OctetString),
        ("cost", asn1_core.Integer),
        ("block_size", asn1_core.Integer),
        ("parallelization", asn1_core.Integer),
        ("key_length", asn1_core.Integer, {"optional": True}),
    ]


def check_key_derivation_cost(block: str, *, field: list[str]) -> None:
    """An encrypted PKCS#8 key's key derivation (PBKDF2, PKCS#12's KDF, scrypt) must be
    within bounds before it is run. The traditional OpenSSL form derives with one MD5."""
    if "BEGIN ENCRYPTED PRIVATE KEY" not in block:
        return
    body = "".join(line for line in block.splitlines() if line and not line.startswith("-----"))
    try:
        algorithm = asn1_keys.EncryptedPrivateKeyInfo.load(base64.b64decode(body))["encryption_algorithm"]
        if algorithm["algorithm"].native == "pbes2":
            kdf = algorithm["parameters"]["key_derivation_func"]
            if kdf["algorithm"].dotted == SCRYPT_OID:
                params = _ScryptParams.load(kdf["parameters"].dump())
                n, r, p = params["cost"].native, params["block_size"].native, params["parallelization"].native
                if n * r * p > MAX_SCRYPT_WORK or 128 * n * r > MAX_SCRYPT_MEMORY:
                    raise _TooCostly(f"scrypt with N={n}, r={r}, p={p}")
                return
        iterations = algorithm.kdf_iterations
    except _TooCostly as exc:
        raise InvalidInput(
            f"the private key is encrypted with {exc}, more work than this service spends on one upload: "
            "re-encrypt it (openssl pkcs8 -topk8 -v2 aes-256-cbc -iter 600000) or upload it unencrypted",
            code=ErrorCode.INVALID_INPUT,
            field=field,
        ) from None
    except (ValueError, TypeError, KeyError, binascii.Error) as exc:
        raise InvalidInput(
            "the encrypted private key could not be read: it is truncated, corrupt, or encrypted in a way "
            f"this service does not take ({type(exc).__name__})",
            code=ErrorCode.INVALID_CERTIFICATE,
            field=field,
        ) from None
    if iterations > MAX_PBKDF_ITERATIONS:
        raise InvalidInput(
            f"the private key is encrypted with {iterations:,} key-derivation iterations; at most "
            f"{MAX_PBKDF_ITERATIONS:,} are accepted: re-encrypt it (openssl pkcs8 -topk8 -v2 aes-256-cbc "
            "-iter 600000) or upload it unencrypted",
            code=ErrorCode.INVALID_INPUT,
            field=field,
        )


class _TooCostly(Exception):
    pass


def private_key_pkcs8(key, password: str | None) -> bytes:
    """PKCS#8 PEM, encrypted with `password` when one is given (R9)."""
    encryption = (
        serialization.BestAvailableEncryption(password.encode())
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def load_csr(text: str, *, field: list[str]) -> x509.CertificateSigningRequest:
    """Reads one PEM CSR and checks its self-signature (R8: INVALID_CSR)."""
    block = _single_block(
        text,
        lambda label: label in ("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"),
        what="a PEM CSR (-----BEGIN CERTIFICATE REQUEST-----)",
        extra="paste one CSR",
        code=ErrorCode.INVALID_CSR,
        field=field,
    )
    try:
        csr = x509.load_pem_x509_csr(block.encode("ascii", "replace"))
    except ValueError as exc:
        raise InvalidInput(
            f"the CSR could not be read: it is truncated or corrupt ({exc})",
            code=ErrorCode.INVALID_CSR,
            field=field,
        ) from exc
    try:
        csr.extensions  # parsed lazily: malformed DER surfaces here  # noqa: B018
    except (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType) as exc:
        raise InvalidInput(
            f"the CSR has an extension that cannot be read ({exc})", code=ErrorCode.INVALID_CSR, field=field
        ) from exc
    try:
        valid = csr.is_signature_valid
    except (UnsupportedAlgorithm, ValueError) as exc:
        raise InvalidInput(
            f"the CSR's signature cannot be checked ({exc})", code=ErrorCode.INVALID_CSR, field=field
        ) from exc
    if not valid:
        raise InvalidInput(
            "the CSR's signature is not valid: it was altered after it was signed",
            code=ErrorCode.INVALID_CSR,
            field=field,
        )
    return csr


def csr_names(csr: x509.CertificateSigningRequest) -> list[str]:
    """The CSR's common name and DNS SANs, normalized where they are hostnames."""
    names: list[str] = []
    cn = first_attribute(csr.subject, NameOID.COMMON_NAME)
    if cn:
        names.append(cn)
    try:
        ext = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names.extend(ext.value.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        pass
    result = []
    for name in names:
        try:
            result.append(normalize_hostname(name))
        except InvalidInput:
            continue
    return list(dict.fromkeys(result))


def utc(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def csr_key(csr: x509.CertificateSigningRequest) -> tuple[KeyAlgorithm | None, str, int | None]:
    """The CSR's key as (algorithm, parameter, RSA public exponent); algorithm None for a
    type we do not take."""
    key = csr.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return KeyAlgorithm.RSA, str(key.key_size), key.public_numbers().e
    if isinstance(key, ec.EllipticCurvePublicKey):
        return KeyAlgorithm.ECC, CURVE_NAMES.get(key.curve.name, key.curve.name), None
    return None, type(key).__name__.removeprefix("_").replace("PublicKey", ""), None


def same_csr(a_pem: str | None, b_pem: str | None) -> bool:
    """R17: the same CSR, compared by its DER bytes (PEM line breaks do not matter)."""
    if not a_pem or not b_pem:
        return False
    try:
        a = x509.load_pem_x509_csr(a_pem.encode())
        b = x509.load_pem_x509_csr(b_pem.encode())
    except ValueError:
        return False
    return a.public_bytes(serialization.Encoding.DER) == b.public_bytes(serialization.Encoding.DER)


def build_csr(private_key, domain: str, organization: str | None) -> str:
    """R6 ONLINE: a CSR for one domain, signed by the generated key."""
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, domain)]
    if organization:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name(attrs))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(domain)]), critical=False)
        .sign(private_key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode("ascii")


def csr_pem_normalized(csr: x509.CertificateSigningRequest) -> str:
    return csr.public_bytes(serialization.Encoding.PEM).decode("ascii")
