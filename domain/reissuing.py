"""Use cases of the reissue workflow (DOMAIN.md R1-R31). Rules come from domain.rules;
every effect goes through a port.

The locks (R3, R4) are unique-key inserts (`LockStore.try_acquire`), taken before the
reissue document exists, so a crash leaves at most a lock without a reissue, which lives
only for LOCK_GRACE. Status changes claim the reissue's next event slot (also a unique
key) before they are applied, so two concurrent transitions cannot both win.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain import rules
from domain.auto_validation import AutoValidation
from domain.webroots import WebrootValidation
from domain import x509 as pem
from domain.certificates import CertificateService, require_account, require_role
from domain.errors import DomainError, ErrorCode, Forbidden, InvalidInput, NotFound
from domain.hostnames import primary_domain
from domain.model import (
    Caller,
    Certificate,
    CertificateVersion,
    KeyAlgorithm,
    Page,
    PrivateKeyStorage,
    Provenance,
    Role,
    StoredPrivateKey,
    ValidationLevel,
    ValidationMethod,
)
from domain.ports import (
    CaError,
    CaOrder,
    CertificateAuthority,
    CertificateRepository,
    Clock,
    ConcurrentChange,
    DomainChecker,
    IdempotencyRecord,
    IdempotencyStore,
    KeyFactory,
    KeySealer,
    LockRecord,
    LockStore,
    ReissueRepository,
    RevocationJobs,
    VerificationLog,
)
from domain.reissues import (
    CsrSource,
    DomainValidation,
    DomainValidationStatus,
    Reissue,
    ReissueEvent,
    ReissueFlow,
    ReissueStatus,
    Waiver,
)
from domain.rules import LockHolder, ReissueRequest, Steps
from domain.text import has_control_characters, shown
from domain.validity import DEFAULT_SCHEDULE, BoundedValidity, ValiditySchedule, bounded_not_after

log = logging.getLogger("certreissue.reissues")
IDEMPOTENCY_RETENTION = timedelta(hours=48)
AUTO_CHECKS_AT_ONCE = 8  # DNS_AUTO / FILE_AUTO checks a sweep runs side by side
SYSTEM_ACTOR = "system"
# R23: how long a request may hold the right to sign (or finalise the CA's order) before
# another may take it over; longer than the CA's slowest answer (an ACME check polls 20 s at most).
ISSUANCE_LEASE = timedelta(seconds=120)
# R20 with an ACME CA: the CA's challenge type for each method.
ACME_KIND = {
    ValidationMethod.DNS: "dns-01", ValidationMethod.DNS_AUTO: "dns-01",
    ValidationMethod.FILE: "http-01", ValidationMethod.FILE_AUTO: "http-01",
}


def ca_user_error(error: CaError, field: tuple[str, ...] = ("input", "certificateId")) -> DomainError:
    """A CA's refusal or silence, as a userError: nothing was stored or changed."""
    if error.kind == "rateLimited":
        return InvalidInput(f"the CA is rate-limiting: {error.message}", code=ErrorCode.RATE_LIMITED, field=field)
    if error.retryable:
        return InvalidInput(f"the CA did not answer: {error.message}; nothing was stored, try again later",
                            code=ErrorCode.CA_UNAVAILABLE, field=field)
    return InvalidInput(f"the CA refused: {error.message}", code=ErrorCode.CA_REJECTED, field=field)


def ca_validation(method: ValidationMethod, order: CaOrder) -> DomainValidation:
    """R20 with an ACME CA: the challenge shown is the CA's."""
    assert order.challenge is not None
    return DomainValidation(
        method=method, status=DomainValidationStatus.PENDING, token=order.challenge.value,
        ca_order_url=order.url, ca_token=order.challenge.token,
    )


# R26: the queue each staff role works through.
QUEUE_OF_ROLE = {
    Role.REVIEWER: ReissueStatus.PENDING_MANUAL_REVIEW,  # R22
    Role.OPERATOR: ReissueStatus.PENDING_CA_VERIFICATION,  # R14
}


def certificate_lock_key(certificate_id: str) -> str:
    return f"certificate:{certificate_id}"


def domain_lock_key(account: str, primary_domain: str) -> str:
    """R3 within one account: another account's certificates do not exist for the caller
    (R26), so they neither block its reissues nor show up in its lock messages."""
    return f"primary:{account}:{primary_domain}"


@dataclass(frozen=True)
class Eligibility:
    flow: ReissueFlow
    errors: list[DomainError]


@dataclass(frozen=True)
class Preview:
    eligibility: Eligibility
    errors: list[DomainError]
    steps: Steps | None
    validity: BoundedValidity | None = None  # R30: the notAfter a reissue submitted now gets


@dataclass(frozen=True)
class RequestResult:
    reissue: Reissue
    private_key_pem: str | None = None


@dataclass(frozen=True)
class PreparedCsr:
    csr_pem: str
    key_algorithm: KeyAlgorithm
    key_parameter: str
    same_as_original: bool
    stored_key: StoredPrivateKey | None  # the key the new certificate will have
    returned_key_pem: str | None  # ONLINE: handed to the applicant once
    key_protected: bool


class ReissueService:
    def __init__(
        self,
        *,
        certificates: CertificateService,
        certificate_repository: CertificateRepository,
        reissues: ReissueRepository,
        locks: LockStore,
        idempotency: IdempotencyStore,
        verifications: VerificationLog,
        authority: CertificateAuthority,
        keys: KeyFactory,
        checker: DomainChecker,
        sealer: KeySealer,
        clock: Clock,
        lifetime: timedelta,
        schedule: ValiditySchedule = DEFAULT_SCHEDULE,
        revocation_jobs: RevocationJobs | None = None,
        auto_validation: AutoValidation | None = None,
        webroots: WebrootValidation | None = None,
    ) -> None:
        self._auto = auto_validation
        self._webroots = webroots
        self._revocation_jobs = revocation_jobs
        self._certificates = certificates
        self._certificate_repository = certificate_repository
        self._reissues = reissues
        self._locks = locks
        self._idempotency = idempotency
        self._verifications = verifications
        self._authority = authority
        self._keys = keys
        self._checker = checker
        self._sealer = sealer
        self._clock = clock
        self._lifetime = lifetime
        self.schedule = schedule

    @property
    def ca_chooses_not_after(self) -> bool:
        """R5/R30 with an ACME CA: the certificate gets the CA's notAfter."""
        return self._authority.chooses_not_after

    # -- reading ------------------------------------------------------------------------

    async def get(self, caller: Caller, reissue_id: str) -> Reissue | None:
        """R26: another account's reissue does not exist for an account token; staff read
        any one by its ID."""
        reissue = await self._reissues.get(reissue_id, account=caller.scope)
        return await self._fresh(reissue) if reissue else None

    async def get_many(self, caller: Caller, ids: list[str]) -> dict[str, Reissue]:
        found = await self._reissues.get_many(caller.scope, ids)
        return {k: await self._fresh(v) for k, v in found.items()}

    async def list(
        self, caller: Caller, *, status=None, certificate_id=None, first: int, after: str | None, with_total: bool = True
    ) -> Page:
        """`with_total=False` skips the count (a query that does not select totalCount)."""
        account = require_account(caller, "reissues")
        page = await self._reissues.list(
            account, status=status, certificate_id=certificate_id, first=_page_size(first), after=after,
            with_total=with_total,
        )
        return await self._fresh_page(page)

    async def review_queue(self, caller: Caller, *, first: int, after: str | None, with_total: bool = True) -> Page:
        """R26: a reviewer's queue is every account's reissues pending manual review (R22),
        an operator's those pending the CA's verification (R14); oldest first."""
        status = QUEUE_OF_ROLE.get(caller.role) if caller.is_staff else None
        if status is None:
            raise Forbidden("reviewQueue is for staff tokens (reviewer or operator, R26)")
        page = await self._reissues.review_queue(status, first=_page_size(first), after=after, with_total=with_total)
        # An overdue one expires on access (R24) and leaves the queue.
        fresh = await self._fresh_page(page)
        return dataclasses.replace(fresh, items=[r for r in fresh.items if r.status == status])

    async def list_by_certificates(
        self, account: str, certificate_ids: list[str], *, first: int, after: str | None, with_total: bool = True
    ) -> dict[str, Page]:
        """`Certificate.reissues` for many certificates of `account` at once (a page of
        them); the caller was allowed to see the certificates."""
        pages = await self._reissues.list_by_certificates(
            account, certificate_ids, first=_page_size(first), after=after, with_total=with_total
        )
        return {cid: await self._fresh_page(page) for cid, page in pages.items()}

    async def _fresh_page(self, page: Page) -> Page:
        return dataclasses.replace(page, items=[await self._fresh(r) for r in page.items])

    async def reissuing_certificate_ids(self, caller: Caller) -> list[str]:
        """The caller's certificates with an active reissue (status REISSUING)."""
        return await self._reissues.active_certificate_ids(require_account(caller, "certificates"))

    async def _fresh(self, reissue: Reissue) -> Reissue:
        """R24, checked on access: an overdue reissue is expired before anyone sees it."""
        if rules.is_overdue(reissue, self._clock.now()):
            return await self._expire(reissue)
        return reissue

    async def active_in_domains(self, account: str, primary_domains: list[str]) -> dict[str, list[Reissue]]:
        """primary domain -> the account's active reissues under it (overdue ones expired).
        The caller was allowed to see a certificate of `account` under these domains."""
        found = await self._reissues.active_in_domains(account, primary_domains)
        result: dict[str, list[Reissue]] = {d: [] for d in primary_domains}
        for reissue in found:
            reissue = await self._fresh(reissue)
            if reissue.status.is_active:
                result.setdefault(reissue.primary_domain, []).append(reissue)
        return result

    async def eligibility(self, caller: Caller, certificate: Certificate) -> Eligibility:
        """R1-R4 as requestReissue would find them now (a read: no lock is taken)."""
        return (await self.eligibility_many(caller, [certificate]))[certificate.id]

    async def eligibility_many(
        self,
        caller: Caller,
        certificates: list[Certificate],
        *,
        domain_actives: dict[tuple[str, str], list[Reissue]] | None = None,
    ) -> dict[str, Eligibility]:
        """Eligibility of many certificates from one read of the active reissues under their
        (account, primary domain) pairs (none when the caller already has them). The locks
        themselves decide at submission; this view reads the reissues that hold them."""
        if domain_actives is None:
            domain_actives = {}
            for account in sorted({c.account for c in certificates}):
                domains = sorted({c.primary_domain for c in certificates if c.account == account})
                found = await self.active_in_domains(account, domains)
                domain_actives.update({(account, d): v for d, v in found.items()})
        now = self._clock.now()
        result = {}
        for certificate in certificates:
            key = (certificate.account, certificate.primary_domain)
            actives = sorted(domain_actives.get(key, []), key=lambda r: r.created_at)
            own = next((r for r in actives if r.certificate_id == certificate.id), None)
            other = next((r for r in actives if r.certificate_id != certificate.id), None)
            holder = LockHolder(other.id, other.certificate_id, other.domain) if other else None
            errors = rules.eligibility_errors(certificate, now, active_reissue=own, domain_lock_holder=holder)
            result[certificate.id] = Eligibility(rules.flow_for(certificate), errors)
        return result

    # -- preview and request ------------------------------------------------------------

    async def preview(self, caller: Caller, request: ReissueRequest) -> Preview:
        """R12: what requestReissue would do, with no side effects (no key is generated).
        Any role of the account may look; what only an owner may submit says FORBIDDEN."""
        certificate = await self._certificates.require(caller, request.certificate_id, ["input", "certificateId"])
        eligibility = await self.eligibility(caller, certificate)
        try:
            require_role(caller, Role.OWNER)
            checked = self._check(certificate, request)
            await self._check_automatic(certificate, checked)
            same = self._same_csr_without_generating(certificate, checked)
            steps = rules.required_steps(
                certificate,
                checked,
                self._clock.now(),
                same_csr=same,
                last_verified_at=await self._verifications.last(caller.account, checked.domain, certificate.organization_name),
                auto_validation_configured=await self.auto_validation_configured(certificate),
            )
        except DomainError as error:
            return Preview(eligibility, [error], None, self.validity_for(certificate, self._clock.now()))
        return Preview(eligibility, [], steps, self.validity_for(certificate, self._clock.now()))

    def validity_for(self, certificate: Certificate, issued_at: datetime) -> BoundedValidity:
        """R5 within R30: the notAfter a new version of `certificate` issued at `issued_at` gets."""
        return bounded_not_after(
            certificate.current.not_after,
            issuer_not_after=self._authority.issuer_not_after(certificate.brand),
            issued_at=issued_at,
            schedule=self.schedule,
        )

    def _check(self, certificate: Certificate, request: ReissueRequest) -> rules.CheckedRequest:
        checked = rules.check_request(certificate, request)
        if not self._authority.issues_level(certificate.validation_level):
            # R29: the new version would not be what the certificate says it is.
            raise InvalidInput(
                f"the configured CA issues DV certificates only; this {certificate.validation_level.value} "
                "certificate cannot be reissued through it",
                code=ErrorCode.OPTION_NOT_ALLOWED,
                field=["input", "certificateId"],
            )
        method = checked.validation_method
        if method in (ValidationMethod.FILE, ValidationMethod.FILE_AUTO) and checked.domain.startswith("*."):
            raise InvalidInput(
                "a wildcard domain cannot be validated by file: use DNS",
                code=ErrorCode.OPTION_NOT_ALLOWED,
                field=["input", "validationMethod"],
            )
        if method == ValidationMethod.FILE_AUTO and self._webroots is None:
            raise InvalidInput(
                "FILE_AUTO is not configured on this service (it has no webroot base directory): use FILE, "
                "DNS or DNS_AUTO",
                code=ErrorCode.OPTION_NOT_ALLOWED,
                field=["input", "validationMethod"],
            )
        if checked.csr_source == CsrSource.UPLOAD:
            self._check_uploaded_csr(checked)
        if checked.csr_source == CsrSource.ORIGINAL:
            # R8/R31: the original key is reused, so it must be one we would accept today.
            original = pem.load_csr(certificate.csr_pem or "", field=["input", "csrSource"])
            algorithm, parameter, exponent = pem.csr_key(original)
            rules.check_uploaded_key(
                algorithm, parameter, exponent, field=["input", "csrSource"], what="the original CSR's"
            )
        return checked

    async def _check_automatic(self, certificate: Certificate, checked: rules.CheckedRequest) -> None:
        """R20 DNS_AUTO: only through a DNS provider of this account covering the domain;
        FILE_AUTO only through a webroot of this account for the domain."""
        if checked.validation_method == ValidationMethod.FILE_AUTO:
            if self._webroots is None or await self._webroots.for_domain(certificate.account, checked.domain) is None:
                raise InvalidInput(
                    f"FILE_AUTO needs a webroot of this account for {checked.domain}, and none is configured: "
                    "configure one (configureWebroot), or use FILE",
                    code=ErrorCode.OPTION_NOT_ALLOWED,
                    field=["input", "validationMethod"],
                )
            return
        if checked.validation_method != ValidationMethod.DNS_AUTO:
            return
        if self._auto is None or await self._auto.covering(certificate.account, checked.domain) is None:
            raise InvalidInput(
                f"DNS_AUTO needs a DNS provider of this account for a zone holding {checked.domain}, and none is "
                "configured: configure one (configureDnsProvider), or use DNS",
                code=ErrorCode.OPTION_NOT_ALLOWED,
                field=["input", "validationMethod"],
            )

    async def auto_validation_configured(self, certificate: Certificate) -> bool:
        """R18: a provider of the certificate's account covers its domain and passed its
        last check (the fact, from configured providers; never a flag someone set)."""
        return (await self.auto_validation_configured_many([(certificate.account, certificate.domain)]))[0]

    async def auto_validation_configured_many(self, keys: list[tuple[str, str]]) -> list[bool]:
        """The same for many (account, domain) pairs, reading each account's providers once.
        A webroot serves one name, never a wildcard (R20)."""
        found: dict[tuple[str, str], bool] = {}
        for account in sorted({a for a, _ in keys}):
            domains = {d for a, d in keys if a == account}
            dns = await self._auto.configured_many(account, domains) if self._auto else {}
            files = await self._webroots.configured_many(account, domains) if self._webroots else {}
            found.update({(account, d): bool(dns.get(d) or files.get(d)) for d in domains})
        return [found[k] for k in keys]

    @staticmethod
    def _check_uploaded_csr(checked: rules.CheckedRequest):
        csr = pem.load_csr(checked.csr_pem or "", field=["input", "csrPem"])
        algorithm, parameter, exponent = pem.csr_key(csr)
        rules.check_uploaded_key(algorithm, parameter, exponent)  # R8, R31
        rules.check_csr_covers(checked.domain, pem.csr_names(csr))
        return csr, algorithm, parameter

    @staticmethod
    def _same_csr_without_generating(certificate: Certificate, checked: rules.CheckedRequest) -> bool:
        if checked.csr_source == CsrSource.ORIGINAL:
            return True
        if checked.csr_source == CsrSource.UPLOAD:
            return pem.same_csr(checked.csr_pem, certificate.csr_pem)
        return False

    async def _prepare_csr(self, certificate: Certificate, checked: rules.CheckedRequest) -> PreparedCsr:
        """R6, R8, R9: the CSR the new certificate is signed from, and its key."""
        if checked.csr_source == CsrSource.ORIGINAL:
            return PreparedCsr(
                csr_pem=certificate.csr_pem or "",
                key_algorithm=certificate.current.key_algorithm,
                key_parameter=certificate.current.key_parameter,
                same_as_original=True,
                stored_key=certificate.private_key,
                returned_key_pem=None,
                key_protected=bool(certificate.private_key and certificate.private_key.storage == PrivateKeyStorage.PASSWORD),
            )
        if checked.csr_source == CsrSource.UPLOAD:
            csr, algorithm, parameter = self._check_uploaded_csr(checked)
            text = pem.csr_pem_normalized(csr)
            return PreparedCsr(
                csr_pem=text,
                key_algorithm=algorithm,
                key_parameter=parameter,
                same_as_original=pem.same_csr(text, certificate.csr_pem),
                stored_key=None,  # the applicant kept the key
                returned_key_pem=None,
                key_protected=False,
            )
        key = await self._keys.generate(checked.key_algorithm, checked.key_parameter)
        csr_text = pem.build_csr(key, checked.domain, checked.organization_name)
        password = checked.private_key_password
        if password:
            # R9: returned and stored only encrypted with the applicant's password.
            encrypted = pem.private_key_pkcs8(key, password)
            stored = StoredPrivateKey(PrivateKeyStorage.PASSWORD, encrypted)
            returned = encrypted.decode("ascii")
        else:
            plain = pem.private_key_pkcs8(key, None)
            stored = StoredPrivateKey(PrivateKeyStorage.SEALED, self._sealer.seal(plain, context=certificate.id))
            returned = plain.decode("ascii")
        return PreparedCsr(
            csr_pem=csr_text,
            key_algorithm=checked.key_algorithm,
            key_parameter=checked.key_parameter,
            same_as_original=False,
            stored_key=stored,
            returned_key_pem=returned,
            key_protected=bool(password),
        )

    def _request_fingerprint(self, request: ReissueRequest) -> str:
        material = dataclasses.asdict(request)
        material.pop("idempotency_key", None)
        return self._idempotency.fingerprint(json.dumps(material, sort_keys=True, default=str))

    async def request(self, caller: Caller, request: ReissueRequest) -> RequestResult:
        require_role(caller, Role.OWNER)
        if request.idempotency_key is not None:
            key = request.idempotency_key.strip()
            if not key or len(key) > 200:
                raise InvalidInput("idempotencyKey must be 1-200 characters", field=["input", "idempotencyKey"])
        certificate = await self._certificates.require(caller, request.certificate_id, ["input", "certificateId"])
        now = self._clock.now()
        eligibility = await self.eligibility(caller, certificate)
        checked = self._check(certificate, request)
        await self._check_automatic(certificate, checked)

        reissue_id = self._reissues.new_id()
        claim = None
        if request.idempotency_key is not None:
            claim = IdempotencyRecord(
                account=caller.account,
                key=request.idempotency_key.strip(),
                fingerprint=self._request_fingerprint(request),
                reissue_id=reissue_id,
                created_at=now,
                token_id=caller.token_id,
            )
            replay = await self._claim_idempotency(caller, claim)
            if replay is not None:
                return replay
        try:
            if eligibility.errors:
                raise eligibility.errors[0]
            return await self._submit(caller, certificate, checked, reissue_id, now)
        except BaseException:
            # The key is freed only when nothing was submitted: a retry after a failure
            # past the insert gets the reissue that exists, not a second one.
            if claim is not None and await self._reissues.get(reissue_id) is None:
                await self._idempotency.forget(claim)
            raise

    async def _claim_idempotency(self, caller: Caller, claim: IdempotencyRecord) -> RequestResult | None:
        for _ in range(3):
            existing = await self._idempotency.claim(claim)
            if existing is None:
                return None
            if existing.fingerprint != claim.fingerprint:
                raise InvalidInput(
                    "this idempotencyKey was used with a different input: use a new key for a new request",
                    code=ErrorCode.IDEMPOTENCY_KEY_REUSED,
                    field=["input", "idempotencyKey"],
                )
            earlier = await self._reissues.get(existing.reissue_id, account=caller.account)
            if earlier is not None:
                # R31: the generated key is shown again only to the token that asked for it.
                same_token = bool(existing.token_id) and existing.token_id == caller.token_id
                return RequestResult(await self._fresh(earlier), self._returned_key(earlier) if same_token else None)
            if self._clock.now() - existing.created_at < rules.LOCK_GRACE:
                raise InvalidInput(
                    "a request with this idempotencyKey is still being processed; retry in a few seconds",
                    code=ErrorCode.INVALID_STATE,
                    field=["input", "idempotencyKey"],
                )
            await self._idempotency.forget(existing)  # its request died before it submitted
        raise InvalidInput("could not record the idempotencyKey; retry", code=ErrorCode.INVALID_STATE)

    def _returned_key(self, reissue: Reissue) -> str | None:
        """A replay of an ONLINE request hands back the same key (R9 form)."""
        if reissue.csr_source != CsrSource.ONLINE or reissue.private_key is None:
            return None
        if reissue.private_key.storage == PrivateKeyStorage.PASSWORD:
            return reissue.private_key.data.decode("ascii")
        return self._sealer.open(reissue.private_key.data, context=reissue.certificate_id).decode("ascii")

    async def _submit(
        self, caller: Caller, certificate: Certificate, checked: rules.CheckedRequest, reissue_id: str, now: datetime
    ) -> RequestResult:
        prepared = await self._prepare_csr(certificate, checked)
        steps = rules.required_steps(
            certificate,
            checked,
            now,
            same_csr=prepared.same_as_original,
            last_verified_at=await self._verifications.last(caller.account, checked.domain, certificate.organization_name),
            auto_validation_configured=await self.auto_validation_configured(certificate),
        )
        if Waiver.AUTO_VALIDATION_CONFIGURED in steps.waivers:
            # R18, R28: the waiver signs without a proof from the applicant, so the provider
            # proves again, now, that the world sees its zone through that server.
            assert self._auto is not None
            fresh = await self._auto.recheck(certificate.account, certificate.domain)
            steps = rules.required_steps(
                certificate, checked, now, same_csr=prepared.same_as_original,
                last_verified_at=await self._verifications.last(caller.account, checked.domain,
                                                                certificate.organization_name),
                auto_validation_configured=fresh,
            )
        now = self._clock.now()
        pending_until = now + rules.LOCK_GRACE
        certificate_lock = LockRecord(
            id=f"{reissue_id}:certificate",
            key=certificate_lock_key(certificate.id),
            reissue_id=reissue_id,
            certificate_id=certificate.id,
            certificate_domain=certificate.domain,
            acquired_at=now,
            pending_until=pending_until,
        )
        domain_lock = dataclasses.replace(
            certificate_lock, id=f"{reissue_id}:primary", key=domain_lock_key(certificate.account, certificate.primary_domain)
        )
        await self._acquire(certificate_lock, certificate)  # R4
        try:
            await self._acquire(domain_lock, certificate)  # R3
            # Holding both locks, decide again on the certificate as it is now: a reissue
            # that finished while this request waited may have used its last chance (R2).
            current = await self._certificate_repository.get(certificate.account, certificate.id)
            if current is None:
                raise NotFound(f"no certificate {certificate.id!r}", field=["input", "certificateId"])
            actives = (await self.active_in_domains(current.account, [current.primary_domain]))[current.primary_domain]
            own = next((r for r in actives if r.certificate_id == current.id), None)
            other = next((r for r in actives if r.certificate_id != current.id), None)
            errors = rules.eligibility_errors(
                current,
                now,
                active_reissue=own,
                domain_lock_holder=LockHolder(other.id, other.certificate_id, other.domain) if other else None,
            )
            if errors:
                raise errors[0]
            certificate = current
        except BaseException:
            await self._locks.release(domain_lock.id)
            await self._locks.release(certificate_lock.id)
            raise

        validation = None
        if steps.domain_validation_required:
            validation = DomainValidation(
                method=checked.validation_method,
                status=DomainValidationStatus.PENDING,
                token=secrets.token_hex(20),  # R20: 160 random bits, single use
            )
        actor = caller.actor
        reissue = Reissue(
            id=reissue_id,
            account=caller.account,
            certificate_id=certificate.id,
            primary_domain=certificate.primary_domain,
            flow=steps.flow,
            status=steps.initial_status,
            domain=checked.domain,
            csr_source=checked.csr_source,
            csr_pem=prepared.csr_pem,
            key_algorithm=prepared.key_algorithm,
            key_parameter=prepared.key_parameter,
            reason=checked.reason,
            organization_name=checked.organization_name,
            private_key_protected=prepared.key_protected,
            domain_validation_required=steps.domain_validation_required,
            manual_review_required=steps.manual_review_required,
            waivers=steps.waivers,
            domain_validation=validation,
            events=(ReissueEvent(now, actor, None, steps.initial_status, checked.reason),),
            created_at=now,
            updated_at=now,
            expires_at=now + self._lifetime,
            private_key=prepared.stored_key,
            target_not_after=certificate.current.not_after,
            issuer_not_after=self._authority.issuer_not_after(certificate.brand),
        )
        try:
            order_url = None
            if self._authority.ordering is not None:
                reissue, order_url = await self._open_order(reissue, checked.validation_method)
            if reissue.status == ReissueStatus.ISSUED:
                # R19: no step is required, so it is issued at once, in this request.
                try:
                    version = await self._sign(reissue, certificate, order_url=order_url)
                except CaError as error:
                    raise ca_user_error(error) from None
                reissue = dataclasses.replace(reissue, completed_at=version.issued_at, issued_version=version)
            await self._reissues.insert(reissue)
        except BaseException:
            # An insert can fail after the server committed it (a timeout): then the
            # reissue exists and keeps its locks.
            if await self._reissues.get(reissue.id) is None:
                await self._locks.release(domain_lock.id)
                await self._locks.release(certificate_lock.id)
            raise
        # A lock is taken over only after LOCK_GRACE without a reissue: if this request was
        # that slow, another reissue may hold the domain now, and this one must give way.
        held = await self._locks.held([certificate_lock.id, domain_lock.id])
        if len(held) != 2:
            await self._lost_locks(reissue, actor)
        if reissue.status == ReissueStatus.ISSUED:
            await self._finish_after_submit(self._apply_issuance(reissue), reissue)
        if validation is not None and validation.method in (ValidationMethod.DNS_AUTO, ValidationMethod.FILE_AUTO):
            # R20: the service places the record or file and checks it itself, now; the sweep again.
            reissue = await self._automatic_step(reissue) or reissue
        return RequestResult(reissue, prepared.returned_key_pem)

    async def _automatic_step(self, reissue: Reissue) -> Reissue | None:
        """R20 DNS_AUTO / FILE_AUTO: places the record or file (unless placed), then checks it
        as "Validate now" would (R21). A server that refuses or is down leaves the reissue pending with the
        diagnosis; nothing is lost, the sweep tries again. None when it failed unexpectedly."""
        try:
            return await self._validate(reissue, SYSTEM_ACTOR)
        except DomainError as error:  # it changed meanwhile (cancelled, validated by the owner)
            log.info("reissue %s: automatic validation step skipped: %s", reissue.id, error.message)
        except Exception:  # noqa: BLE001
            log.exception("reissue %s: automatic validation step failed; the sweep tries again", reissue.id)
        return None

    async def _open_order(self, reissue: Reissue, method: ValidationMethod) -> tuple[Reissue, str | None]:
        """R20 with an ACME CA: the reissue's order, opened before the reissue is stored (a
        refusal or an outage is a userError and nothing is stored). A reissue our rules waive
        (R17, R18, R28) is issued at once only if the CA holds a valid authorization for the
        domain (it reuses one); otherwise it needs the CA's validation all the same."""
        ordering = self._authority.ordering
        assert ordering is not None
        try:
            order = await ordering.open_order(reissue.csr_pem, reissue.domain, ACME_KIND[method])
        except CaError as error:
            raise ca_user_error(error) from None
        if order.status == "ready" and reissue.status == ReissueStatus.ISSUED:
            return reissue, order.url
        if order.status == "ready" and reissue.domain_validation is not None:
            # The CA authorized the name already (perhaps for another of our accounts): our
            # rules still ask for the applicant's own proof (R15, R16, R21), our challenge.
            return dataclasses.replace(
                reissue, domain_validation=dataclasses.replace(reissue.domain_validation, ca_order_url=order.url)
            ), None
        if order.challenge is None:
            raise InvalidInput(
                f"the CA's order {order.url} is {order.status} and offers no {ACME_KIND[method]} challenge",
                code=ErrorCode.CA_REJECTED, field=["input", "validationMethod"],
            )
        if reissue.status == ReissueStatus.ISSUED:
            first = reissue.events[0]
            note = "the CA requires domain validation: it holds no valid authorization for " + reissue.domain
            reissue = dataclasses.replace(
                reissue, status=ReissueStatus.PENDING_DOMAIN_VALIDATION, domain_validation_required=True,
                events=(dataclasses.replace(first, to_status=ReissueStatus.PENDING_DOMAIN_VALIDATION,
                                            note=f"{first.note}; {note}" if first.note else note),),
            )
        validation = reissue.domain_validation
        return dataclasses.replace(
            reissue, domain_validation=ca_validation(validation.method if validation else method, order)
        ), None

    async def _finish_after_submit(self, work, reissue: Reissue) -> None:
        """Work after the reissue exists: a failure here is logged, not returned, since the
        reissue was submitted (the sweep applies an issuance left unapplied)."""
        try:
            await work
        except Exception:  # noqa: BLE001
            log.exception("reissue %s: follow-up after submission failed; the sweep will finish it", reissue.id)

    async def _lost_locks(self, reissue: Reissue, actor: str) -> None:
        """This request stalled past LOCK_GRACE and its lock was taken over: it cancels the
        reissue it just created (without touching the new holder's locks)."""
        if reissue.status.is_active:
            try:
                await self._transition(
                    reissue, ReissueStatus.CANCELLED, SYSTEM_ACTOR,
                    "cancelled: its lock was taken over while the request stalled", "cancel",
                    completed_at=self._clock.now(),
                )
            finally:
                await self._release_locks(reissue)
        raise InvalidInput(
            "this request took too long and another reissue took the lock meanwhile; retry",
            code=ErrorCode.PRIMARY_DOMAIN_LOCKED,
            field=["input", "certificateId"],
        )

    async def _acquire(self, lock: LockRecord, certificate: Certificate) -> None:
        """Takes `lock`, or takes it over from a holder that is no longer live (R24)."""
        for _ in range(5):
            holder = await self._locks.try_acquire(lock)
            if holder is None:
                return
            holder_reissue = await self._reissues.get(holder.reissue_id) if holder.reissue_id else None
            now = self._clock.now()
            if rules.lock_is_live(pending_until=holder.pending_until, reissue=holder_reissue, now=now):
                if lock.key.startswith("certificate:"):
                    raise InvalidInput(
                        f"reissue {holder.reissue_id} of this certificate is in progress: finish or cancel it first",
                        code=ErrorCode.REISSUE_IN_PROGRESS,
                        field=["input", "certificateId"],
                    )
                raise rules.primary_domain_locked(
                    certificate.primary_domain,
                    LockHolder(holder.reissue_id, holder.certificate_id, holder.certificate_domain),
                )
            if holder_reissue is not None and rules.is_overdue(holder_reissue, now):
                holder_reissue = await self._expire(holder_reissue)
                if rules.lock_is_live(pending_until=holder.pending_until, reissue=holder_reissue, now=now):
                    continue  # it was issued meanwhile and is being applied: ask again
            if holder.id:
                log.info("taking over lock %s from dead holder %s", lock.key, holder.id)
                await self._locks.release(holder.id)
        raise InvalidInput(
            "the lock is contended; retry",
            code=ErrorCode.REISSUE_IN_PROGRESS if lock.key.startswith("certificate:") else ErrorCode.PRIMARY_DOMAIN_LOCKED,
            field=["input", "certificateId"],
        )

    # -- transitions ----------------------------------------------------------------------

    async def _transition(
        self, reissue: Reissue, to: ReissueStatus, actor: str, note: str | None, action: str, **changes
    ) -> Reissue:
        rules.check_transition(reissue, to, action)
        now = self._clock.now()
        event = ReissueEvent(now, actor, reissue.status, to, note)
        after = dataclasses.replace(reissue, status=to, events=reissue.events + (event,), updated_at=now, **changes)
        try:
            await self._reissues.transition(reissue, after)
        except ConcurrentChange:
            await self._reissues.repair_pending_transitions()
            current = await self._reissues.get(reissue.id)
            state = current.status.value if current else "gone"
            raise InvalidInput(
                f"cannot {action} reissue {reissue.id}: it changed meanwhile and is now {state}",
                code=ErrorCode.INVALID_STATE,
                field=["reissueId"],
            ) from None
        return after

    async def _release_locks(self, reissue: Reissue) -> None:
        await self._locks.release(f"{reissue.id}:primary")
        await self._locks.release(f"{reissue.id}:certificate")
        method = reissue.domain_validation.method if reissue.domain_validation else None
        placer = self._auto if method == ValidationMethod.DNS_AUTO else (
            self._webroots if method == ValidationMethod.FILE_AUTO else None)
        if placer is not None:
            # R20: the record or file goes when the reissue ends; what cannot be removed
            # now, the sweep removes later.
            try:
                await placer.release(reissue.id)
            except Exception:  # noqa: BLE001
                log.exception("reissue %s: its challenge was not removed; the sweep tries again", reissue.id)

    async def _expire(self, reissue: Reissue) -> Reissue:
        try:
            expired = await self._transition(
                reissue, ReissueStatus.EXPIRED, SYSTEM_ACTOR, "not completed within its lifetime", "expire",
                completed_at=self._clock.now(),
            )
        except DomainError:
            current = await self._reissues.get(reissue.id)
            return current or reissue
        await self._release_locks(expired)
        return expired

    async def _sign(self, reissue: Reissue, certificate: Certificate, *, order_url: str | None = None) -> CertificateVersion:
        """R5 within R30: the CA signs the reissue's CSR with the current notAfter, to the
        second, unless the CA's own notAfter or the CA/B maximum for today comes first; the
        brand and level stay the certificate's (R29). An ACME CA finalises the reissue's
        order instead, and its notAfter is the CA's."""
        now = self._clock.now()
        ordering = self._authority.ordering
        validation = reissue.domain_validation
        order_url = order_url or (validation.ca_order_url if validation else None)
        if ordering is not None and order_url:
            signed = await ordering.finalize(order_url, reissue.csr_pem)
        else:
            organization = reissue.organization_name if certificate.validation_level != ValidationLevel.DV else None
            validity = self.validity_for(certificate, now)
            signed = await self._authority.sign(
                reissue.csr_pem, reissue.domain, validity.not_after, now,
                brand=certificate.brand, level=certificate.validation_level, organization=organization,
            )
        parsed = pem.parse_certificate_chain(signed.certificate_pem + signed.chain_pem, field=["csrPem"])
        return CertificateVersion(
            serial_number=parsed.serial_number,
            fingerprint_sha256=parsed.fingerprint_sha256,
            not_before=parsed.not_before,
            not_after=parsed.not_after,
            key_algorithm=parsed.key.algorithm,
            key_parameter=parsed.key.parameter,
            issued_at=now,
            certificate_pem=parsed.certificate_pem,
            chain_pem=parsed.chain_pem,
            # R27: signed here after the service's own checks; the key is verified when the
            # service holds it (ONLINE, or ORIGINAL with the key on file).
            provenance=Provenance.ISSUED_HERE,
            chain_trusted=True,
            key_verified=reissue.private_key is not None,
            # The CA it is revoked through once superseded (domain.revocations).
            issued_by=self._authority.issuer_id,
        )

    async def _issue(self, reissue: Reissue, actor: str, *, note: str | None, **changes) -> Reissue:
        """R23: claim the right to sign, sign, record the ISSUED event (the commit point),
        then update the certificate and release the locks (finished by the sweep if this
        process dies)."""
        certificate = await self._certificate_repository.get(reissue.account, reissue.certificate_id)
        if certificate is None:
            raise NotFound(f"certificate {reissue.certificate_id} is gone")
        # Claim first, then sign: of two requests finishing the same reissue (two API
        # processes validating, approving or confirming at once) only one has the CA issue.
        seq, holder, now = len(reissue.events) + 1, secrets.token_hex(8), self._clock.now()
        if not await self._reissues.claim_issuance(reissue.id, seq, holder, now, now + ISSUANCE_LEASE):
            raise InvalidInput(
                f"reissue {reissue.id} is being issued by another request; look at it again in a few seconds",
                code=ErrorCode.INVALID_STATE, field=["reissueId"],
            )
        try:
            current = await self._reissues.get(reissue.id)
            if current is None or len(current.events) != len(reissue.events):
                state = current.status.value if current else "gone"
                raise InvalidInput(
                    f"cannot issue reissue {reissue.id}: it changed meanwhile and is now {state}",
                    code=ErrorCode.INVALID_STATE, field=["reissueId"],
                )
            validation = changes.get("domain_validation") or reissue.domain_validation
            version = await self._sign(reissue, certificate, order_url=validation.ca_order_url if validation else None)
            issued = await self._transition(
                reissue, ReissueStatus.ISSUED, actor, note, "issue",
                completed_at=version.issued_at, issued_version=version, applied=False, **changes,
            )
        finally:
            await self._reissues.release_issuance(reissue.id, seq, holder)
        await self._apply_issuance(issued)
        return issued

    async def _apply_issuance(self, reissue: Reissue) -> None:
        """Idempotent: the certificate takes the reissue's version once; locks go."""
        version = reissue.issued_version
        certificate = await self._certificate_repository.get(reissue.account, reissue.certificate_id)
        if certificate is not None and version is not None and all(
            v.serial_number != version.serial_number for v in certificate.versions
        ):
            old = dataclasses.replace(certificate.current, superseded_at=version.issued_at)
            # The certificate's names are the new version's: one validated (or waived on
            # evidence) domain. Names an import merely listed are not carried over, or a
            # later reissue could pick one nobody validated (R7, R28).
            issued = pem.parse_certificate_chain(version.certificate_pem, field=["certificatePem"])
            replaced = await self._certificate_repository.record_issuance(
                certificate.id,
                expected_serial=certificate.current.serial_number,
                versions=(version, old) + certificate.versions[1:],
                reissue_count=certificate.reissue_count + 1,
                private_key=reissue.private_key,
                csr_pem=reissue.csr_pem,
                # R13: after an approved review the organization is the one given; the
                # issued certificate names it, so R29 reads the same from it.
                organization_name=(
                    reissue.organization_name if certificate.validation_level != ValidationLevel.DV
                    else certificate.organization_name
                ),
                domain=issued.domain,
                subject_alt_names=issued.subject_alt_names,
                primary_domain=primary_domain(issued.domain),
            )
            if not replaced:
                # Another writer changed the certificate first (the locks should prevent
                # it): leave the reissue unapplied, holding its locks, for the sweep.
                raise RuntimeError(f"certificate {certificate.id} changed while reissue {reissue.id} was applied")
            certificate = dataclasses.replace(certificate, versions=(version, old) + certificate.versions[1:])
        if certificate is not None and version is not None and self._revocation_jobs is not None:
            # The version it superseded is revoked on schedule (domain.revocations); again
            # when the sweep applies this after a crash (scheduling is idempotent).
            serials = [v.serial_number for v in certificate.versions]
            if version.serial_number in serials and serials.index(version.serial_number) + 1 < len(serials):
                superseded = certificate.versions[serials.index(version.serial_number) + 1]
                await self._revocation_jobs.schedule(
                    certificate.id, superseded.serial_number, superseded.superseded_at or version.issued_at,
                    superseded.issued_by,
                )
        await self._release_locks(reissue)
        await self._reissues.mark_applied(reissue.id)

    async def _owned(self, caller: Caller, reissue_id: str) -> Reissue:
        reissue = await self.get(caller, reissue_id)
        if reissue is None:
            raise NotFound(f"no reissue {shown(reissue_id)}", field=["reissueId"])
        return reissue

    async def check_domain_validation(self, caller: Caller, reissue_id: str) -> Reissue:
        """R21: check the challenge for real; move on, or record a diagnosis."""
        require_role(caller, Role.OWNER)
        reissue = await self._owned(caller, reissue_id)
        validation = reissue.domain_validation
        if reissue.status != ReissueStatus.PENDING_DOMAIN_VALIDATION or validation is None:
            raise InvalidInput(
                f"reissue {reissue.id} is not awaiting domain validation; it is {reissue.status.value}",
                code=ErrorCode.INVALID_STATE,
                field=["reissueId"],
            )
        return await self._validate(reissue, caller.actor)

    async def _validate(self, reissue: Reissue, actor: str) -> Reissue:
        validation = reissue.domain_validation
        assert validation is not None
        diagnosis = await self._place_automatically(reissue)
        if diagnosis is not None:
            return await self._failed_check(reissue, validation, diagnosis)
        if validation.method in (ValidationMethod.DNS, ValidationMethod.DNS_AUTO):
            outcome = await self._checker.check_dns(validation.dns_name(reissue.domain), validation.token)
        else:
            outcome = await self._checker.check_file(reissue.domain.removeprefix("*."), validation.file_path, validation.token)
        now = self._clock.now()
        if not outcome.ok:
            return await self._failed_check(reissue, validation, outcome.diagnosis)
        if self._authority.ordering is not None:
            # R21 with an ACME CA: the record or file is there; now the CA validates it.
            failure, validation = await self._ca_validates(reissue, validation)
            if failure is not None:
                return await self._failed_check(reissue, validation, failure)
        verified = dataclasses.replace(
            validation, status=DomainValidationStatus.VERIFIED, last_checked_at=now, last_error=None
        )
        await self._verifications.record(reissue.account, reissue.domain, reissue.organization_name, now)
        following = rules.after_domain_validation(reissue)
        note = f"domain validated by {validation.method.value}"
        if following == ReissueStatus.ISSUED:
            try:
                return await self._issue(reissue, actor, note=note, domain_validation=verified)
            except CaError as error:
                # The order stays as it is (its URL on the reissue): a later check resumes it.
                return await self._failed_check(reissue, verified, _ca_diagnosis(error, "finalising the order"),
                                                status=DomainValidationStatus.VERIFIED)
        return await self._transition(
            reissue, following, actor, note, "validate", domain_validation=verified
        )

    async def _place_automatically(self, reissue: Reissue) -> str | None:
        """R20 DNS_AUTO / FILE_AUTO: places the record or file unless it is placed (placing
        failed before, the server was down: "Validate now" and the sweep place it first).
        None when it is there, else a diagnosis."""
        validation = reissue.domain_validation
        assert validation is not None
        if validation.method == ValidationMethod.DNS_AUTO and self._auto is not None:
            if await self._auto.is_placed(reissue.id):
                return None
            return await self._auto.place(reissue.account, reissue.id, reissue.domain, validation.token,
                                          validation.dns_name(reissue.domain))
        if validation.method == ValidationMethod.FILE_AUTO and self._webroots is not None:
            if await self._webroots.is_placed(reissue.id):
                return None
            return await self._webroots.place(reissue.account, reissue.id, reissue.domain.removeprefix("*."),
                                              validation.token, validation.file_path)
        return None

    async def _failed_check(
        self, reissue: Reissue, validation: DomainValidation, diagnosis: str | None,
        status: DomainValidationStatus = DomainValidationStatus.FAILED,
    ) -> Reissue:
        """R21: the reissue stays pending with a diagnosis a person can act on."""
        now = self._clock.now()
        failed = dataclasses.replace(validation, status=status, last_checked_at=now, last_error=diagnosis)
        await self._reissues.update_validation(reissue.id, failed)
        return dataclasses.replace(reissue, domain_validation=failed, updated_at=now)

    async def _ca_validates(self, reissue: Reissue, validation: DomainValidation) -> tuple[str | None, DomainValidation]:
        """Has the CA validate the order's challenge: (None, validation) once it did, else
        (a diagnosis, the validation to keep). An order the CA lost or failed is replaced by
        a new one, whose challenge the diagnosis gives."""
        ordering = self._authority.ordering
        assert ordering is not None
        kind = ACME_KIND[validation.method]
        try:
            if not validation.ca_order_url:
                raise CaError("orderGone", "this reissue was requested before the ACME CA was configured")
            order = await ordering.order(validation.ca_order_url, kind)
            if order.status == "pending":
                await ordering.validate(order)
            elif order.status == "invalid":
                raise CaError("invalid", f"the CA's order {order.url} is invalid")
            return None, validation
        except CaError as error:
            if error.kind not in ("invalid", "orderGone"):
                return _ca_diagnosis(error, "validating the domain"), validation
            lost = error
        try:
            fresh = await ordering.open_order(reissue.csr_pem, reissue.domain, kind)
        except CaError as error:
            return f"{lost.message}; a new order could not be opened: {error.message}", validation
        if fresh.challenge is None:  # the CA holds a valid authorization: go on with it
            return None, dataclasses.replace(validation, ca_order_url=fresh.url)
        renewed = ca_validation(validation.method, fresh)
        where = (
            f"the TXT record {renewed.dns_name(reissue.domain)} with the value {renewed.token}"
            if kind == "dns-01" else f"{renewed.file_url(reissue.domain)} with the content {renewed.token}"
        )
        return f"{lost.message}. The CA opened a new order with a new challenge: publish {where}, then check again", renewed

    async def approve(self, caller: Caller, reissue_id: str, comment: str | None) -> Reissue:
        """R22/R13: a reviewer approves; the reissue is issued."""
        require_role(caller, Role.REVIEWER)
        reissue = await self._owned(caller, reissue_id)
        rules.check_transition(reissue, ReissueStatus.ISSUED, "approve")
        if reissue.status != ReissueStatus.PENDING_MANUAL_REVIEW:
            raise InvalidInput(
                f"cannot approve reissue {reissue.id}: it is {reissue.status.value}",
                code=ErrorCode.INVALID_STATE, field=["reissueId"],
            )
        note = _note(comment, "comment")
        try:
            return await self._issue(reissue, caller.actor, note=note or "approved")
        except CaError as error:  # an ACME CA without a valid authorization for the name
            raise ca_user_error(error, ("reissueId",)) from None

    async def reject(self, caller: Caller, reissue_id: str, reason: str) -> Reissue:
        require_role(caller, Role.REVIEWER)
        reason_text = _note(reason, "reason")
        if not reason_text:
            raise InvalidInput("a reason is required to reject", field=["reason"])
        reissue = await self._owned(caller, reissue_id)
        rejected = await self._transition(
            reissue, ReissueStatus.REJECTED, caller.actor, reason_text, "reject", completed_at=self._clock.now()
        )
        await self._release_locks(rejected)
        return rejected

    async def confirm_ca_verification(self, caller: Caller, reissue_id: str) -> Reissue:
        """R14: an operator records the CA's offline confirmation."""
        require_role(caller, Role.OPERATOR)
        reissue = await self._owned(caller, reissue_id)
        if reissue.status != ReissueStatus.PENDING_CA_VERIFICATION:
            raise InvalidInput(
                f"reissue {reissue.id} is not awaiting the CA's verification; it is {reissue.status.value}",
                code=ErrorCode.INVALID_STATE, field=["reissueId"],
            )
        try:
            return await self._issue(reissue, caller.actor, note="CA verification confirmed")
        except CaError as error:  # an ACME CA without a valid authorization for the name
            raise ca_user_error(error, ("reissueId",)) from None

    async def cancel(self, caller: Caller, reissue_id: str) -> Reissue:
        """R24: the applicant cancels a reissue that is not issued yet."""
        require_role(caller, Role.OWNER)
        reissue = await self._owned(caller, reissue_id)
        cancelled = await self._transition(
            reissue, ReissueStatus.CANCELLED, caller.actor, "cancelled by the applicant", "cancel",
            completed_at=self._clock.now(),
        )
        await self._release_locks(cancelled)
        return cancelled

    async def remind(self, caller: Caller, reissue_id: str) -> Reissue:
        """R22: at most one reminder per 24 hours per reissue."""
        require_role(caller, Role.OWNER)
        reissue = await self._owned(caller, reissue_id)
        now = self._clock.now()
        for _ in range(2):
            rules.check_reminder(reissue, now)
            if await self._reissues.claim_reminder(reissue.id, reissue.reminder_count + 1, now):
                log.info("reviewers reminded of reissue %s", reissue.id)
                return dataclasses.replace(reissue, reminded_at=now, reminder_count=reissue.reminder_count + 1)
            # The slot was taken (a concurrent reminder, or one left unrecorded by a dead
            # process, now recorded): judge again from the reissue as it is now.
            reissue = await self._owned(caller, reissue_id)
        raise InvalidInput(
            "reviewers were just reminded; remind again after 24 hours",
            code=ErrorCode.RATE_LIMITED, field=["reissueId"],
        )

    # -- housekeeping ------------------------------------------------------------------

    async def sweep(self) -> dict[str, int]:
        """Finishes what dead processes left half-done and expires overdue reissues (R24)."""
        counts = {"repaired": 0, "applied": 0, "expired": 0, "released": 0, "idempotency_keys": 0}
        counts["repaired"] = await self._reissues.repair_pending_transitions()
        for reissue in await self._reissues.issued_not_applied():
            await self._apply_issuance(reissue)
            counts["applied"] += 1
        now = self._clock.now()
        for reissue in await self._reissues.overdue(now):
            await self._expire(reissue)
            counts["expired"] += 1
        for lock in await self._locks.all():
            reissue = await self._reissues.get(lock.reissue_id)
            if not rules.lock_is_live(pending_until=lock.pending_until, reissue=reissue, now=self._clock.now()):
                await self._locks.release(lock.id)
                counts["released"] += 1
        # Idempotency keys are kept at least 24 h; dropped after IDEMPOTENCY_RETENTION.
        counts["idempotency_keys"] = await self._idempotency.purge_before(self._clock.now() - IDEMPOTENCY_RETENTION)
        # R20 DNS_AUTO / FILE_AUTO: a waiting reissue is placed (again) and checked; records
        # and files of reissues that ended, and probes a dead process left, are removed. The
        # servers are the accounts' choice: whatever they do, it ends here (logged), never
        # stopping the rest of the service's sweeping.
        try:
            await self._sweep_automatic(counts)
        except Exception:  # noqa: BLE001
            log.exception("sweep of automatic validation failed; the next sweep tries again")
        return counts

    async def _sweep_automatic(self, counts: dict[str, int]) -> None:
        counts["auto_checked"] = 0
        if self._auto is not None or self._webroots is not None:
            now = self._clock.now()
            due = [r for r in await self._reissues.pending_auto_validation()
                   if rules.automatic_check_due(r.created_at, r.domain_validation.last_checked_at
                                                if r.domain_validation else None, now)]
            # A few at a time: one server that never answers costs its timeout, not everyone's.
            gate = asyncio.Semaphore(AUTO_CHECKS_AT_ONCE)

            async def step(reissue: Reissue) -> bool:
                async with gate:
                    return await self._automatic_step(reissue) is not None

            counts["auto_checked"] = sum(await asyncio.gather(*(step(r) for r in due)))
        if self._auto is not None:
            counts["auto_records_removed"] = await self._auto.sweep(self._reissue_finished)
        if self._webroots is not None:
            counts["auto_files_removed"] = await self._webroots.sweep(self._reissue_finished)

    async def _reissue_finished(self, reissue_id: str) -> bool:
        reissue = await self._reissues.get(reissue_id)
        if reissue is None:
            # Placed by a request that died before its reissue was stored: gone for good
            # once the lock's grace is over (R24).
            return True
        return not reissue.status.is_active


def _ca_diagnosis(error: CaError, doing: str) -> str:
    if error.retryable:
        return f"the CA could not finish {doing} ({error.kind}): {error.message}; the order is kept, check again later"
    return f"the CA refused while {doing} ({error.kind}): {error.message}"


def _page_size(first: int) -> int:
    if first < 0:
        raise InvalidInput("first must not be negative", field=["first"])
    return min(first, 100)


def _note(text: str | None, name: str) -> str | None:
    if text is None:
        return None
    value = text.strip()
    if len(value) > 500:
        raise InvalidInput(f"the {name} is longer than 500 characters", field=[name])
    if value and has_control_characters(value):
        raise InvalidInput(f"the {name} may not hold control characters", field=[name])
    return value or None
