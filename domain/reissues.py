"""The reissue: its words (flows, statuses, waivers) and its plain data (DOMAIN.md R6-R25)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from domain.model import CertificateVersion, KeyAlgorithm, StoredPrivateKey, ValidationMethod
from domain.validity import BoundedValidity, ValiditySchedule, bounded_not_after


class ReissueFlow(str, Enum):
    ORGANIZATION_WOTRUS_DNSPOD = "ORGANIZATION_WOTRUS_DNSPOD"
    ORGANIZATION_OTHER_BRAND = "ORGANIZATION_OTHER_BRAND"
    PAID_DV = "PAID_DV"
    FREE_DV = "FREE_DV"


class ReissueStatus(str, Enum):
    PENDING_DOMAIN_VALIDATION = "PENDING_DOMAIN_VALIDATION"
    PENDING_MANUAL_REVIEW = "PENDING_MANUAL_REVIEW"
    PENDING_CA_VERIFICATION = "PENDING_CA_VERIFICATION"
    ISSUED = "ISSUED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"

    @property
    def is_active(self) -> bool:
        return self in ACTIVE_STATUSES


ACTIVE_STATUSES = frozenset(
    {
        ReissueStatus.PENDING_DOMAIN_VALIDATION,
        ReissueStatus.PENDING_MANUAL_REVIEW,
        ReissueStatus.PENDING_CA_VERIFICATION,
    }
)


class Waiver(str, Enum):
    SUBMITTED_WITHIN_3_DAYS = "SUBMITTED_WITHIN_3_DAYS"
    SAME_CSR = "SAME_CSR"
    AUTO_VALIDATION_CONFIGURED = "AUTO_VALIDATION_CONFIGURED"
    VERIFIED_WITHIN_13_MONTHS = "VERIFIED_WITHIN_13_MONTHS"
    ORGANIZATION_UNCHANGED = "ORGANIZATION_UNCHANGED"


class CsrSource(str, Enum):
    ORIGINAL = "ORIGINAL"
    ONLINE = "ONLINE"
    UPLOAD = "UPLOAD"


class DomainValidationStatus(str, Enum):
    PENDING = "PENDING"
    VERIFIED = "VERIFIED"
    FAILED = "FAILED"


DNS_CHALLENGE_LABEL = "_dnsauth"
FILE_CHALLENGE_PATH = "/.well-known/pki-validation/fileauth.txt"
# R20 with an ACME CA (RFC 8555 8.3, 8.4): the CA's challenge, at the CA's names.
ACME_DNS_LABEL = "_acme-challenge"
ACME_FILE_DIRECTORY = "/.well-known/acme-challenge/"


@dataclass(frozen=True)
class DomainValidation:
    """R20: the challenge for one domain, and what the last check found (R21)."""

    method: ValidationMethod
    status: DomainValidationStatus
    token: str
    last_checked_at: datetime | None = None
    last_error: str | None = None
    # With an ACME CA the order is kept so that a later check resumes it, and the challenge
    # is the CA's (`ca_token` set): `token` is then the value to publish (the TXT value, or
    # the file's content), `ca_token` the challenge's token (the file's name). An order the
    # CA authorized already (it reuses a valid authorization) has no challenge: the
    # service's own is checked (R21), then the order is finalised.
    ca_order_url: str | None = None
    ca_token: str | None = None

    @property
    def is_cas(self) -> bool:
        return self.ca_token is not None

    def dns_name(self, hostname: str) -> str:
        label = ACME_DNS_LABEL if self.is_cas else DNS_CHALLENGE_LABEL
        return f"{label}.{hostname.removeprefix('*.')}"

    @property
    def file_path(self) -> str:
        return f"{ACME_FILE_DIRECTORY}{self.ca_token}" if self.is_cas else FILE_CHALLENGE_PATH

    def file_url(self, hostname: str) -> str:
        return f"http://{hostname.removeprefix('*.')}{self.file_path}"


@dataclass(frozen=True)
class ReissueEvent:
    """R25: one appended state change; never rewritten."""

    at: datetime
    actor: str
    from_status: ReissueStatus | None
    to_status: ReissueStatus
    note: str | None = None


@dataclass(frozen=True)
class Reissue:
    id: str
    account: str
    certificate_id: str
    primary_domain: str
    flow: ReissueFlow
    status: ReissueStatus
    domain: str
    csr_source: CsrSource
    csr_pem: str
    key_algorithm: KeyAlgorithm
    key_parameter: str
    reason: str | None
    organization_name: str | None
    private_key_protected: bool
    domain_validation_required: bool
    manual_review_required: bool
    waivers: tuple[Waiver, ...]
    domain_validation: DomainValidation | None
    events: tuple[ReissueEvent, ...]
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    completed_at: datetime | None = None
    private_key: StoredPrivateKey | None = None
    reminded_at: datetime | None = None
    reminder_count: int = 0
    # Set by issuance (R23): the version the reissue produced, and whether the
    # certificate carries it yet (until then the reissue still holds its locks).
    issued_version: CertificateVersion | None = None
    applied: bool = False
    # R5/R30: the certificate's notAfter when the reissue was requested, and the notAfter
    # of the CA certificate that will sign it.
    target_not_after: datetime | None = None
    issuer_not_after: datetime | None = None

    def validity(self, now: datetime, schedule: ValiditySchedule) -> BoundedValidity | None:
        """R30: the notAfter the new certificate gets: the issued one's, or, while pending,
        what it would get if it were issued now."""
        if self.issued_version is not None:
            target = self.target_not_after or self.issued_version.not_after
            return BoundedValidity(self.issued_version.not_after, self.issued_version.not_after < target.replace(microsecond=0))
        if self.target_not_after is None or self.issuer_not_after is None:
            return None
        return bounded_not_after(
            self.target_not_after, issuer_not_after=self.issuer_not_after, issued_at=now, schedule=schedule
        )

    @property
    def deployable_to_cloud_services(self) -> bool:
        """R9: a password-protected key cannot go to cloud load balancers or CDNs."""
        return not self.private_key_protected
