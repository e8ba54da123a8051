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
    OTHER = "OTHER"


class Provenance(str, Enum):
    """How a certificate (version) came to the service (R27)."""

    ISSUED_HERE = "ISSUED_HERE"  # signed by the service's own CA after its own checks
    IMPORTED = "IMPORTED"  # uploaded


class RevocationReason(str, Enum):
    """Why a CA revoked a version (RFC 5280 reason codes the service uses)."""

    SUPERSEDED = "SUPERSEDED"  # a reissue replaced it (CERTS_REVOKE_SUPERSEDED_AFTER later)


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
    """Token roles (R26): `owner` and `viewer` belong to account tokens, `reviewer` and
    `operator` to staff tokens (the service provider's people, no account)."""

    OWNER = "owner"
    VIEWER = "viewer"
    REVIEWER = "reviewer"
    OPERATOR = "operator"

    @property
    def is_staff(self) -> bool:
        return self in STAFF_ROLES


ACCOUNT_ROLES = frozenset({Role.OWNER, Role.VIEWER})
STAFF_ROLES = frozenset({Role.REVIEWER, Role.OPERATOR})


@dataclass(frozen=True)
class Caller:
    """Who is calling (R26): an account token (`account` set, role owner or viewer) or a
    staff token (`account` None, role reviewer or operator). Never both."""

    account: str | None
    role: Role | None
    token_id: str = ""

    def has(self, role: Role) -> bool:
        return self.role == role

    @property
    def is_staff(self) -> bool:
        return self.account is None and self.role is not None and self.role.is_staff

    @property
    def scope(self) -> str | None:
        """The account whose objects the caller may read; None for staff (every account's,
        one object at a time: R22, R14, R29)."""
        return None if self.is_staff else self.account

    def may_read(self, account: str) -> bool:
        """R26: an account token reads its own account's objects; staff read any one."""
        return self.is_staff or (self.account is not None and self.account == account)

    @property
    def actor(self) -> str:
        """Who did it, as events record it (R25): `acct/owner`, `staff/reviewer/tok_...`."""
        role = self.role.value if self.role else "none"
        if self.is_staff:
            return f"staff/{role}/{self.token_id}" if self.token_id else f"staff/{role}"
        return f"{self.account}/{role}"


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
    # R27: the facts stored about this version, read by later rules, never recomputed.
    provenance: Provenance = Provenance.IMPORTED
    chain_trusted: bool = False
    key_verified: bool = False
    # Why the chain did not verify (path validation's own words); None when trusted.
    chain_untrusted_reason: str | None = None
    # Set once the issuing CA revoked this version (a superseded one, on schedule).
    revoked_at: datetime | None = None
    revocation_reason: RevocationReason | None = None
    # The CA that issued this version for the service (CertificateAuthority.issuer_id:
    # the built-in CA, or an ACME CA by its directory), so that it is revoked through that
    # CA whichever is configured later. None for an upload (issued elsewhere) and for a
    # version issued before issuers were recorded.
    issued_by: str | None = None

    @property
    def is_evidence(self) -> bool:
        """R28: what this version says about itself (issue time, CSR) is evidence: the
        service issued it, or it was imported with a trusted chain and its private key."""
        return self.provenance == Provenance.ISSUED_HERE or (self.chain_trusted and self.key_verified)


@dataclass(frozen=True)
class OrderFactChange:
    """R29: an operator changed an order fact; kept on the certificate, never rewritten."""

    at: datetime
    actor: str
    fact: str  # "isFree", "purchasedYears", "autoValidationConfigured"
    old: str
    new: str


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
    order_fact_changes: tuple[OrderFactChange, ...] = ()

    @property
    def current(self) -> CertificateVersion:
        return self.versions[0]

    # R27: the current version's provenance facts are the certificate's.
    @property
    def provenance(self) -> Provenance:
        return self.current.provenance

    @property
    def chain_trusted(self) -> bool:
        return self.current.chain_trusted

    @property
    def key_verified(self) -> bool:
        return self.current.key_verified

    @property
    def has_provenance(self) -> bool:
        """R28: waivers apply only to a certificate issued here, or imported with a
        trusted chain and its key."""
        return self.current.is_evidence

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
