"""Plain data for certificates and callers: what the rules read, with no behaviour of I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum


class ValidationLevel(str, Enum):
    DV = "DV"
    OV = "OV"
    EV = "EV"


class Brand(str, Enum):
    TRUSTASIA = "TRUSTASIA"
    DNSPOD = "DNSPOD"
    WOTRUS = "WOTRUS"
    DIGICERT = "DIGICERT"
    GEOTRUST = "GEOTRUST"
    GLOBALSIGN = "GLOBALSIGN"
    SECTIGO = "SECTIGO"


class CertificateStatus(str, Enum):
    PENDING_ISSUE = "PENDING_ISSUE"
    ISSUED = "ISSUED"
    REISSUING = "REISSUING"
    EXPIRED = "EXPIRED"
    REVOKED = "REVOKED"


class KeyAlgorithm(str, Enum):
    RSA = "RSA"
    ECC = "ECC"
    SM2 = "SM2"


class ValidationMethod(str, Enum):
    DNS = "DNS"
    FILE = "FILE"
    DNS_AUTO = "DNS_AUTO"
    FILE_AUTO = "FILE_AUTO"


class Role(str, Enum):
    """Token roles (R26)."""

    OWNER = "owner"
    REVIEWER = "reviewer"
    OPERATOR = "operator"


@dataclass(frozen=True)
class Caller:
    """Who is calling: one account, some roles (R26)."""

    account: str
    roles: frozenset[Role]
    token_id: str = ""

    def has(self, role: Role) -> bool:
        return role in self.roles


class PrivateKeyStorage(str, Enum):
    """How a private key is kept at rest: never in plaintext."""

    SEALED = "SEALED"  # encrypted with the service master key (AES-GCM)
    PASSWORD = "PASSWORD"  # the owner's password-encrypted PKCS#8, as given (R9)


@dataclass(frozen=True)
class StoredPrivateKey:
    storage: PrivateKeyStorage
    # SEALED: the sealed blob (bytes); PASSWORD: the encrypted PKCS#8 PEM (bytes).
    data: bytes


@dataclass(frozen=True)
class CertificateVersion:
    """One issued certificate: the current one, or one a reissue superseded (R23)."""

    serial_number: str
    fingerprint_sha256: str
    not_before: datetime
    not_after: datetime
    key_algorithm: KeyAlgorithm
    key_parameter: str
    issued_at: datetime
    certificate_pem: str
    chain_pem: str
    superseded_at: datetime | None = None


@dataclass(frozen=True)
class Certificate:
    """A certificate owned by one account. `versions[0]` is the current version."""

    id: str
    account: str
    domain: str
    subject_alt_names: tuple[str, ...]
    primary_domain: str
    brand: Brand
    validation_level: ValidationLevel
    is_free: bool
    status: CertificateStatus
    validation_method: ValidationMethod
    organization_name: str | None
    reissue_count: int
    versions: tuple[CertificateVersion, ...]
    private_key: StoredPrivateKey | None = None
    csr_pem: str | None = None
    auto_validation_configured: bool = False
    purchased_years: int = 1
    created_at: datetime | None = None
    # The uploaded chain ends at a CA this service trusts: only then are the facts it
    # states (issue time, same CSR) enough to waive domain validation (R17, R18).
    chain_trusted: bool = True

    @property
    def current(self) -> CertificateVersion:
        return self.versions[0]

    def status_at(self, now: datetime) -> CertificateStatus:
        """The stored status, with EXPIRED once `notAfter` has passed."""
        if self.status == CertificateStatus.ISSUED and self.current.not_after <= now:
            return CertificateStatus.EXPIRED
        return self.status

    @property
    def names(self) -> tuple[str, ...]:
        """The bound domain first, then the other SANs, without repeats."""
        seen = [self.domain]
        for name in self.subject_alt_names:
            if name not in seen:
                seen.append(name)
        return tuple(seen)


@dataclass(frozen=True)
class CertificateFilter:
    status: CertificateStatus | None = None
    primary_domain: str | None = None
    domain_contains: str | None = None
    expires_before: datetime | None = None


@dataclass(frozen=True)
class Page:
    """One page of a keyset-paginated list."""

    items: list = field(default_factory=list)
    has_next_page: bool = False
    total_count: int | None = 0  # None: not counted (the caller did not ask)
