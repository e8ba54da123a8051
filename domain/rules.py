"""The reissue rules as pure functions over plain data (DOMAIN.md R1-R31).

Nothing here reads a clock, a database or the network: callers pass `now` and the facts.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.errors import DomainError, ErrorCode, InvalidInput
from domain.hostnames import normalize_hostname
from domain.text import has_control_characters, shown
from domain.model import (
    Brand,
    Certificate,
    CertificateStatus,
    KeyAlgorithm,
    ValidationLevel,
    ValidationMethod,
)
from domain.reissues import (
    ACTIVE_STATUSES,
    CsrSource,
    Reissue,
    ReissueFlow,
    ReissueStatus,
    Waiver,
)

MIN_REMAINING_VALIDITY = timedelta(days=30)  # R1
SAME_CSR_WINDOW = timedelta(hours=72)  # R17
VERIFICATION_MONTHS = 13  # R18
REMINDER_INTERVAL = timedelta(hours=24)  # R22
MAX_REASON = 200  # R10
MAX_ORGANIZATION_NAME = 200
MAX_PASSWORD = 1024
MIN_PASSWORD = 4
RSA_EXPONENT = 65537  # R31
# R24: a lock whose reissue never appeared; longer than a request may run (the 30 s
# execution timeout plus database waits), and checked again by its holder after insert.
LOCK_GRACE = timedelta(seconds=60)

# R8: the algorithms and key parameters a reissue may use.
ALLOWED_PARAMETERS: dict[KeyAlgorithm, tuple[str, ...]] = {
    KeyAlgorithm.RSA: ("2048", "3072", "4096"),
    KeyAlgorithm.ECC: ("prime256v1", "secp384r1"),
    KeyAlgorithm.SM2: ("sm2p256v1",),
}
PARAMETER_ALIASES = {"p-256": "prime256v1", "secp256r1": "prime256v1", "p-384": "secp384r1"}
ORGANIZATION_BRANDS = frozenset({Brand.WOTRUS, Brand.DNSPOD})


def flow_for(certificate: Certificate) -> ReissueFlow:
    """The flow table of DOMAIN.md "Words"."""
    if certificate.validation_level in (ValidationLevel.OV, ValidationLevel.EV):
        if certificate.brand in ORGANIZATION_BRANDS:
            return ReissueFlow.ORGANIZATION_WOTRUS_DNSPOD
        return ReissueFlow.ORGANIZATION_OTHER_BRAND
    return ReissueFlow.FREE_DV if certificate.is_free else ReissueFlow.PAID_DV


# -- eligibility (R1-R4) ------------------------------------------------------------------


@dataclass(frozen=True)
class LockHolder:
    """Who holds a primary-domain lock: enough to name it in a message (R3)."""

    reissue_id: str
    certificate_id: str
    certificate_domain: str | None = None


def eligibility_errors(
    certificate: Certificate,
    now: datetime,
    *,
    active_reissue: Reissue | None,
    domain_lock_holder: LockHolder | None,
) -> list[DomainError]:
    """Every reason the certificate cannot be reissued now; empty when it can."""
    errors: list[DomainError] = []
    field = ["input", "certificateId"]
    status = certificate.status_at(now)
    if status not in (CertificateStatus.ISSUED, CertificateStatus.REISSUING):
        errors.append(
            InvalidInput(
                f"only an issued certificate can be reissued; this one is {status.value}",
                code=ErrorCode.CERTIFICATE_NOT_ISSUED,
                field=field,
            )
        )
    elif certificate.current.not_after - now <= MIN_REMAINING_VALIDITY:
        errors.append(
            InvalidInput(
                "the certificate expires within 30 days "
                f"(notAfter {certificate.current.not_after.isoformat()}): renew it instead",
                code=ErrorCode.EXPIRES_WITHIN_30_DAYS,
                field=field,
            )
        )
    if certificate.is_free and certificate.reissue_count >= 1:
        errors.append(
            InvalidInput(
                "a free DV certificate can be reissued once, and this one has been",
                code=ErrorCode.FREE_REISSUE_LIMIT_REACHED,
                field=field,
            )
        )
    if active_reissue is not None:
        errors.append(
            InvalidInput(
                f"reissue {active_reissue.id} of this certificate is in progress "
                f"({active_reissue.status.value}): finish or cancel it first",
                code=ErrorCode.REISSUE_IN_PROGRESS,
                field=field,
            )
        )
    elif domain_lock_holder is not None and domain_lock_holder.certificate_id != certificate.id:
        errors.append(primary_domain_locked(certificate.primary_domain, domain_lock_holder))
    return errors


def primary_domain_locked(primary: str, holder: LockHolder) -> DomainError:
    """R3: the message names the certificate being reissued."""
    what = f"certificate {holder.certificate_id}"
    if holder.certificate_domain:
        what += f" ({holder.certificate_domain})"
    return InvalidInput(
        f"{what} under the primary domain {primary} is being reissued "
        f"(reissue {holder.reissue_id}); only one certificate per primary domain can be reissued at a time",
        code=ErrorCode.PRIMARY_DOMAIN_LOCKED,
        field=["input", "certificateId"],
    )


# -- the request (R6-R11) -----------------------------------------------------------------


@dataclass(frozen=True)
class ReissueRequest:
    certificate_id: str
    csr_source: CsrSource = CsrSource.ORIGINAL
    csr_pem: str | None = None
    domain: str | None = None
    key_algorithm: KeyAlgorithm | None = None
    key_parameter: str | None = None
    private_key_password: str | None = None
    reason: str | None = None
    organization_name: str | None = None
    validation_method: ValidationMethod | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class CheckedRequest:
    """A request that passed R6-R11, with every default filled in."""

    csr_source: CsrSource
    domain: str
    key_algorithm: KeyAlgorithm
    key_parameter: str
    private_key_password: str | None
    reason: str | None
    organization_name: str | None
    validation_method: ValidationMethod
    csr_pem: str | None


def _f(name: str) -> list[str]:
    return ["input", name]


def check_request(certificate: Certificate, request: ReissueRequest) -> CheckedRequest:
    """R6-R11 on the applicant's choices. Raises the first rule broken."""
    flow = flow_for(certificate)
    source = request.csr_source

    # R11: a free DV certificate takes only algorithm (+parameter) and password.
    if flow == ReissueFlow.FREE_DV:
        if source != CsrSource.ONLINE:
            raise InvalidInput(
                "a free DV certificate is reissued with an online-generated CSR: set csrSource to ONLINE",
                code=ErrorCode.OPTION_NOT_ALLOWED,
                field=_f("csrSource"),
            )
        for name, value in (
            ("csrPem", request.csr_pem),
            ("organizationName", request.organization_name),
        ):
            if value is not None:
                raise InvalidInput(
                    f"{name} cannot be set for a free DV certificate", code=ErrorCode.OPTION_NOT_ALLOWED, field=_f(name)
                )
        if request.domain is not None and _normalize_domain(request.domain) != certificate.domain:
            raise InvalidInput(
                f"a free DV certificate keeps its bound domain {certificate.domain}",
                code=ErrorCode.OPTION_NOT_ALLOWED,
                field=_f("domain"),
            )
        if request.validation_method is not None and request.validation_method != certificate.validation_method:
            raise InvalidInput(
                "a free DV certificate is validated with its original method "
                f"({certificate.validation_method.value})",
                code=ErrorCode.OPTION_NOT_ALLOWED,
                field=_f("validationMethod"),
            )

    # R7: one domain, on the certificate.
    domain = certificate.domain if request.domain is None else _normalize_domain(request.domain)
    if domain not in certificate.names:
        raise InvalidInput(
            f"{shown(request.domain)} is not on this certificate; choose one of {', '.join(certificate.names)}",
            code=ErrorCode.DOMAIN_NOT_ON_CERTIFICATE,
            field=_f("domain"),
        )

    # R6: the CSR source and what each needs.
    if source == CsrSource.ORIGINAL and not certificate.csr_pem:
        raise InvalidInput(
            "the original CSR is not on file for this certificate: choose ONLINE or UPLOAD",
            code=ErrorCode.ORIGINAL_CSR_UNAVAILABLE,
            field=_f("csrSource"),
        )
    if source == CsrSource.UPLOAD and not (request.csr_pem or "").strip():
        raise InvalidInput("csrPem is required when csrSource is UPLOAD", field=_f("csrPem"))
    if source != CsrSource.UPLOAD and request.csr_pem is not None:
        raise InvalidInput("csrPem is only for csrSource UPLOAD", code=ErrorCode.OPTION_NOT_ALLOWED, field=_f("csrPem"))

    # R8 / R9: algorithm, parameter and password are choices of ONLINE generation.
    if source != CsrSource.ONLINE:
        for name, value in (
            ("keyAlgorithm", request.key_algorithm),
            ("keyParameter", request.key_parameter),
            ("privateKeyPassword", request.private_key_password),
        ):
            if value is not None:
                raise InvalidInput(
                    f"{name} applies only to csrSource ONLINE (the key comes with the {source.value.lower()} CSR)",
                    code=ErrorCode.OPTION_NOT_ALLOWED,
                    field=_f(name),
                )
        algorithm, parameter = certificate.current.key_algorithm, certificate.current.key_parameter
    else:
        algorithm, parameter = check_algorithm(certificate, request.key_algorithm, request.key_parameter)

    password = request.private_key_password
    if password is not None and not (MIN_PASSWORD <= len(password) <= MAX_PASSWORD):
        raise InvalidInput(
            f"privateKeyPassword must be {MIN_PASSWORD}-{MAX_PASSWORD} characters", field=_f("privateKeyPassword")
        )

    # R10: a reason, required except for free DV.
    reason = (request.reason or "").strip() or None
    if reason is None and flow != ReissueFlow.FREE_DV:
        raise InvalidInput("a reason is required (1-200 characters), e.g. \"key compromised\"", field=_f("reason"))
    if reason is not None:
        if len(reason) > MAX_REASON:
            raise InvalidInput(f"the reason is longer than {MAX_REASON} characters", field=_f("reason"))
        if has_control_characters(reason):
            raise InvalidInput("the reason may not hold control characters", field=_f("reason"))

    # R13: the organization of the re-application (OV/EV), defaulting to the one on file.
    organization = certificate.organization_name
    if request.organization_name is not None:
        if flow not in (ReissueFlow.ORGANIZATION_WOTRUS_DNSPOD, ReissueFlow.ORGANIZATION_OTHER_BRAND):
            raise InvalidInput(
                "organizationName applies only to OV and EV certificates",
                code=ErrorCode.OPTION_NOT_ALLOWED,
                field=_f("organizationName"),
            )
        organization = request.organization_name.strip()
        if not organization or len(organization) > MAX_ORGANIZATION_NAME or has_control_characters(organization):
            raise InvalidInput(
                f"organizationName must be 1-{MAX_ORGANIZATION_NAME} printable characters",
                field=_f("organizationName"),
            )

    method = request.validation_method or certificate.validation_method
    return CheckedRequest(
        csr_source=source,
        domain=domain,
        key_algorithm=algorithm,
        key_parameter=parameter,
        private_key_password=password,
        reason=reason,
        organization_name=organization,
        validation_method=method,
        csr_pem=request.csr_pem,
    )


def _normalize_domain(name: str) -> str:
    return normalize_hostname(name, field=_f("domain"))


def check_algorithm(
    certificate: Certificate, algorithm: KeyAlgorithm | None, parameter: str | None
) -> tuple[KeyAlgorithm, str]:
    """R8: defaults to the certificate's current algorithm and parameter."""
    if algorithm is None:
        algorithm = certificate.current.key_algorithm
        if parameter is None:
            parameter = certificate.current.key_parameter
    if parameter is None:
        parameter = ALLOWED_PARAMETERS[algorithm][0]
    parameter = PARAMETER_ALIASES.get(parameter.strip().lower(), parameter.strip().lower())
    if algorithm == KeyAlgorithm.SM2 and not (
        certificate.brand == Brand.DNSPOD and certificate.current.key_algorithm == KeyAlgorithm.SM2
    ):
        raise InvalidInput(
            "SM2 is only for DNSPod SM2 certificates", code=ErrorCode.UNSUPPORTED_ALGORITHM, field=_f("keyAlgorithm")
        )
    allowed = ALLOWED_PARAMETERS[algorithm]
    if parameter not in allowed:
        if algorithm == KeyAlgorithm.RSA and parameter.isdigit() and len(parameter) <= 4 and int(parameter) < 2048:
            raise InvalidInput(
                f"RSA {parameter} is too weak: use 2048, 3072 or 4096", code=ErrorCode.WEAK_KEY, field=_f("keyParameter")
            )
        raise InvalidInput(
            f"{algorithm.value} key parameter {shown(parameter)} is not supported: use {', '.join(allowed)}",
            code=ErrorCode.UNSUPPORTED_ALGORITHM,
            field=_f("keyParameter"),
        )
    return algorithm, parameter


def check_uploaded_key(
    algorithm: KeyAlgorithm | None,
    parameter: str,
    exponent: int | None = RSA_EXPONENT,
    *,
    field: list[str] | None = None,
    what: str = "the CSR's",
) -> None:
    """R8 and R31 for a key the service did not generate: an uploaded CSR's (algorithm None:
    a type we do not take), or the original CSR's when it is reused (csrSource ORIGINAL)."""
    field = field or _f("csrPem")
    if algorithm is None:
        raise InvalidInput(
            f"{what} key type ({parameter}) is not supported: use RSA or ECC",
            code=ErrorCode.UNSUPPORTED_ALGORITHM,
            field=field,
        )
    if algorithm == KeyAlgorithm.RSA and int(parameter) < 2048:
        raise InvalidInput(f"{what} RSA key has {parameter} bits; at least 2048 are needed", code=ErrorCode.WEAK_KEY, field=field)
    if algorithm == KeyAlgorithm.RSA and exponent != RSA_EXPONENT:
        raise InvalidInput(
            f"{what} RSA key has the public exponent {exponent}; only {RSA_EXPONENT} is accepted (R31)",
            code=ErrorCode.WEAK_KEY,
            field=field,
        )
    if algorithm == KeyAlgorithm.RSA and parameter not in ALLOWED_PARAMETERS[KeyAlgorithm.RSA]:
        raise InvalidInput(
            f"{what} RSA key has {parameter} bits; use 2048, 3072 or 4096",
            code=ErrorCode.UNSUPPORTED_ALGORITHM,
            field=field,
        )
    if algorithm == KeyAlgorithm.ECC and parameter not in ALLOWED_PARAMETERS[KeyAlgorithm.ECC]:
        raise InvalidInput(
            f"{what} curve {parameter} is not supported: use prime256v1 or secp384r1",
            code=ErrorCode.UNSUPPORTED_ALGORITHM,
            field=field,
        )


def check_csr_covers(domain: str, names: list[str]) -> None:
    """R8: the uploaded CSR's subject or SANs must cover the chosen domain."""
    if domain in names:
        return
    raise InvalidInput(
        f"the CSR names {', '.join(names) or 'no domain'}, not {domain}",
        code=ErrorCode.CSR_DOMAIN_MISMATCH,
        field=_f("csrPem"),
    )


# -- which steps a reissue needs (R13-R19) ------------------------------------------------


@dataclass(frozen=True)
class Steps:
    flow: ReissueFlow
    waivers: tuple[Waiver, ...]
    domain_validation_required: bool
    manual_review_required: bool
    initial_status: ReissueStatus
    # R28: why domain validation is required although a waiver's timing would allow one
    # (or although the flow has no validation step); None otherwise.
    waivers_unavailable_reason: str | None = None


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time `months` calendar months earlier (clamped to the month's end)."""
    year, month = divmod(moment.year * 12 + (moment.month - 1) - months, 12)
    month += 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def original_issue_time(certificate: Certificate) -> datetime | None:
    """R17 counts from the original issue time, and (R28) only a version that is evidence
    can tell it: the oldest version issued here, or imported with a trusted chain and its
    key. A certificate with neither has no issue time the service can rely on."""
    for version in reversed(certificate.versions):
        if version.is_evidence:
            return version.issued_at
    return None


def _within_window(issued_at: datetime | None, now: datetime) -> bool:
    # A notBefore in the future is not "less than 3 days ago".
    return issued_at is not None and timedelta(0) <= now - issued_at < SAME_CSR_WINDOW


def provenance_gap(certificate: Certificate) -> str | None:
    """R28: why this certificate's own statements earn no waiver; None when they do."""
    version = certificate.current
    if version.is_evidence:
        return None
    missing = []
    if not version.chain_trusted:
        why = version.chain_untrusted_reason or "no reason recorded"
        missing.append(f"its chain does not pass path validation to a root this service trusts ({why})")
    if not version.key_verified:
        missing.append("its private key was not supplied at import")
    return (
        "domain validation is required on every reissue of this certificate (R28): it was imported, and "
        + "; and ".join(missing)
        + ". Waivers need a certificate issued here, or imported with a trusted chain and its private key."
    )


def required_steps(
    certificate: Certificate,
    checked: CheckedRequest,
    now: datetime,
    *,
    same_csr: bool,
    last_verified_at: datetime | None,
    auto_validation_configured: bool = False,
) -> Steps:
    """Decides waivers and steps, and so the status a submitted reissue starts in.
    `auto_validation_configured` is R18's fact as the service found it: a DNS provider of
    the certificate's account covers its domain and passed its last check."""
    flow = flow_for(certificate)

    if flow == ReissueFlow.FREE_DV:
        # R16: validation with the original method, never waived.
        return Steps(flow, (), True, False, ReissueStatus.PENDING_DOMAIN_VALIDATION)

    # R28: the R17/R18 waivers rest on what the certificate says about itself (its issue
    # time, its CSR, its order); they apply only when it is evidence.
    gap = provenance_gap(certificate)

    if flow == ReissueFlow.ORGANIZATION_OTHER_BRAND:
        # R14: the CA verifies the applicant offline; R28: a certificate without provenance
        # needs domain validation first.
        if gap is None:
            return Steps(flow, (), False, False, ReissueStatus.PENDING_CA_VERIFICATION)
        return Steps(flow, (), True, False, ReissueStatus.PENDING_DOMAIN_VALIDATION, gap)

    claimed: list[Waiver] = []
    issued_at = original_issue_time(certificate) if gap is None else certificate.versions[-1].issued_at
    if _within_window(issued_at, now):  # R17
        claimed.append(Waiver.SUBMITTED_WITHIN_3_DAYS)
    if same_csr:  # R17
        claimed.append(Waiver.SAME_CSR)
    if flow == ReissueFlow.PAID_DV:  # R18
        if (
            certificate.brand == Brand.TRUSTASIA
            and certificate.purchased_years in (2, 3)
            and certificate.domain.startswith("*.")
            and auto_validation_configured
        ):
            claimed.append(Waiver.AUTO_VALIDATION_CONFIGURED)
        if last_verified_at is not None and last_verified_at >= months_before(now, VERIFICATION_MONTHS):
            claimed.append(Waiver.VERIFIED_WITHIN_13_MONTHS)
    waivers: list[Waiver] = claimed if gap is None else []
    withheld_reason = gap if (gap is not None and claimed) else None
    validation = not waivers

    review = False
    if flow == ReissueFlow.ORGANIZATION_WOTRUS_DNSPOD:
        # R13: review unless the organization is the one on file (the certificate's own, R29).
        if checked.organization_name == certificate.organization_name:
            waivers.append(Waiver.ORGANIZATION_UNCHANGED)
        else:
            review = True

    if validation:
        status = ReissueStatus.PENDING_DOMAIN_VALIDATION
    elif review:
        status = ReissueStatus.PENDING_MANUAL_REVIEW
    else:
        status = ReissueStatus.ISSUED  # R19
    return Steps(flow, tuple(waivers), validation, review, status, withheld_reason)


# -- the status machine (R13-R16, R19, R22, R24, R25) ------------------------------------

ALLOWED_TRANSITIONS: frozenset[tuple[ReissueStatus | None, ReissueStatus]] = frozenset(
    {
        (None, ReissueStatus.PENDING_DOMAIN_VALIDATION),
        (None, ReissueStatus.PENDING_MANUAL_REVIEW),
        (None, ReissueStatus.PENDING_CA_VERIFICATION),
        (None, ReissueStatus.ISSUED),  # R19
        (ReissueStatus.PENDING_DOMAIN_VALIDATION, ReissueStatus.PENDING_MANUAL_REVIEW),
        (ReissueStatus.PENDING_DOMAIN_VALIDATION, ReissueStatus.ISSUED),
        # R14 after R28: a certificate without provenance is validated, then the CA verifies.
        (ReissueStatus.PENDING_DOMAIN_VALIDATION, ReissueStatus.PENDING_CA_VERIFICATION),
        (ReissueStatus.PENDING_MANUAL_REVIEW, ReissueStatus.ISSUED),
        (ReissueStatus.PENDING_MANUAL_REVIEW, ReissueStatus.REJECTED),
        (ReissueStatus.PENDING_CA_VERIFICATION, ReissueStatus.ISSUED),
    }
    | {(s, ReissueStatus.CANCELLED) for s in ACTIVE_STATUSES}
    | {(s, ReissueStatus.EXPIRED) for s in ACTIVE_STATUSES}
)


def check_transition(reissue: Reissue, to: ReissueStatus, action: str) -> None:
    """Raises INVALID_STATE unless `reissue.status -> to` is an edge of the machine."""
    if (reissue.status, to) not in ALLOWED_TRANSITIONS:
        raise InvalidInput(
            f"cannot {action} reissue {reissue.id}: it is {reissue.status.value}",
            code=ErrorCode.INVALID_STATE,
            field=["reissueId"],
        )


def is_valid_history(statuses: list[ReissueStatus]) -> bool:
    """R25: an event history is a path of the machine from creation."""
    previous: ReissueStatus | None = None
    for status in statuses:
        if (previous, status) not in ALLOWED_TRANSITIONS:
            return False
        previous = status
    return bool(statuses)


def after_domain_validation(reissue: Reissue) -> ReissueStatus:
    """R13-R16 (and R28): what follows a successful validation."""
    if reissue.flow == ReissueFlow.ORGANIZATION_OTHER_BRAND:
        return ReissueStatus.PENDING_CA_VERIFICATION
    return ReissueStatus.PENDING_MANUAL_REVIEW if reissue.manual_review_required else ReissueStatus.ISSUED


AUTO_CHECK_MAX_INTERVAL = timedelta(minutes=10)


def automatic_check_due(created_at: datetime, last_checked_at: datetime | None, now: datetime) -> bool:
    """R20 DNS_AUTO / FILE_AUTO: when the service checks a waiting reissue again by itself.
    The pause grows with the reissue's age (a tenth of it, at most 10 minutes): a fresh
    record is looked for at every sweep, one that has not shown up for hours every 10
    minutes, so reissues whose servers never answer cannot fill every sweep."""
    if last_checked_at is None:
        return True
    pause = min((now - created_at) / 10, AUTO_CHECK_MAX_INTERVAL)
    return now - last_checked_at >= pause


def is_overdue(reissue: Reissue, now: datetime) -> bool:
    """R24: an active reissue past its lifetime expires."""
    return reissue.status in ACTIVE_STATUSES and reissue.expires_at <= now


def lock_is_live(
    *, pending_until: datetime, reissue: Reissue | None, now: datetime
) -> bool:
    """R24: a lock lives while its reissue is active and within its lifetime, and while an
    issued reissue's new version is not yet on the certificate (R23 releases the locks
    only after that); a lock whose reissue never appeared lives only for the grace period
    after it was taken."""
    if reissue is None:
        return now < pending_until
    if reissue.status == ReissueStatus.ISSUED:
        return not reissue.applied
    return reissue.status in ACTIVE_STATUSES and reissue.expires_at > now


def check_reminder(reissue: Reissue, now: datetime) -> None:
    """R22: reminders only while in review, at most once per 24 hours."""
    if reissue.status != ReissueStatus.PENDING_MANUAL_REVIEW:
        raise InvalidInput(
            f"reviewers can be reminded only while the reissue awaits review; it is {reissue.status.value}",
            code=ErrorCode.INVALID_STATE,
            field=["reissueId"],
        )
    if reissue.reminded_at is not None and now - reissue.reminded_at < REMINDER_INTERVAL:
        wait = reissue.reminded_at + REMINDER_INTERVAL - now
        hours = max(1, int(wait.total_seconds() // 3600) + (1 if wait.total_seconds() % 3600 else 0))
        raise InvalidInput(
            f"reviewers were reminded at {reissue.reminded_at.isoformat()}; remind again in about {hours} h "
            f"(after {(reissue.reminded_at + REMINDER_INTERVAL).isoformat()})",
            code=ErrorCode.RATE_LIMITED,
            field=["reissueId"],
        )
