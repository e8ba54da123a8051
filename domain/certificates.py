"""Use cases for certificates: upload (R27, R29), read, list, order facts (R29).
Calls ports only."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509

from domain import facts as certificate_facts
from domain import trust
from domain import x509 as pem
from domain.errors import ErrorCode, Forbidden, InvalidInput, NotFound
from domain.facts import BrandTable
from domain.hostnames import normalize_hostname, primary_domain
from domain.model import (
    Caller,
    Certificate,
    CertificateFilter,
    CertificateStatus,
    CertificateVersion,
    OrderFactChange,
    Page,
    PrivateKeyStorage,
    Provenance,
    Role,
    StoredPrivateKey,
    ValidationLevel,
    ValidationMethod,
)
from domain.ports import CertificateRepository, Clock, DuplicateCertificate, KeySealer
from domain.text import shown

MAX_PAGE_SIZE = 100
MAX_PASSWORD_LENGTH = 1024
MIN_PURCHASED_YEARS, MAX_PURCHASED_YEARS = 1, 5


@dataclass(frozen=True)
class UploadCertificate:
    """What an owner gives at upload: the certificate speaks for itself (R29)."""

    certificate_pem: str
    private_key_pem: str | None = None
    private_key_password: str | None = None
    csr_pem: str | None = None
    validation_method: ValidationMethod = ValidationMethod.DNS


@dataclass(frozen=True)
class SetOrderFacts:
    """R29: what the certificate cannot show; None leaves a fact as it is."""

    certificate_id: str
    is_free: bool | None = None
    purchased_years: int | None = None
    auto_validation_configured: bool | None = None


def require_role(caller: Caller, role: Role) -> None:
    """R26: a role that is missing is FORBIDDEN."""
    if not caller.has(role):
        held = caller.role.value if caller.role else "none"
        kind = "a staff" if caller.is_staff else "an account"
        raise Forbidden(f"this operation needs the {role.value} role; this is {kind} token with the role {held} (R26)")


def require_account(caller: Caller, what: str) -> str:
    """R26: lists of one account's objects are for that account's tokens; a staff token
    has no account (it reads objects by ID, and its queue through reviewQueue)."""
    if caller.account is None:
        raise Forbidden(f"{what} lists one account's objects, and a staff token has no account: "
                        "use reviewQueue, or read one object by its ID")
    return caller.account


def _field(name: str) -> list[str]:
    return ["input", name]


class CertificateService:
    def __init__(
        self,
        repository: CertificateRepository,
        sealer: KeySealer,
        clock: Clock,
        trust_roots: Sequence[x509.Certificate] = (),
        brands: BrandTable = BrandTable(),
    ) -> None:
        self._repository = repository
        self._sealer = sealer
        self._clock = clock
        self._trust_roots = list(trust_roots)
        self._brands = brands

    async def upload(self, caller: Caller, cmd: UploadCertificate) -> Certificate:
        require_role(caller, Role.OWNER)
        if cmd.private_key_password is not None and len(cmd.private_key_password) > MAX_PASSWORD_LENGTH:
            raise InvalidInput("privateKeyPassword is too long", field=_field("privateKeyPassword"))
        if cmd.private_key_password and not cmd.private_key_pem:
            raise InvalidInput("privateKeyPassword was given without privateKeyPem", field=_field("privateKeyPassword"))
        parsed = pem.parse_certificate_chain(cmd.certificate_pem, field=_field("certificatePem"))
        primary = _registrable_names(parsed)
        certificate_id = self._repository.new_id()

        stored_key = None
        key_verified = False
        if cmd.private_key_pem:
            # Off the event loop: decrypting runs a key derivation (bounded by
            # x509.check_key_derivation_cost, still a fraction of a second).
            key, encrypted = await asyncio.to_thread(
                pem.load_private_key,
                cmd.private_key_pem,
                cmd.private_key_password,
                field=_field("privateKeyPem"),
                password_field=_field("privateKeyPassword"),
            )
            if not trust.prove_key_possession(key, parsed.leaf):
                raise InvalidInput(
                    "the private key does not belong to this certificate (their public keys differ)",
                    code=ErrorCode.KEY_MISMATCH,
                    field=_field("privateKeyPem"),
                )
            key_verified = True  # R27
            if encrypted:
                # The owner's password protects it; we keep their encrypted PKCS#8 (R9).
                stored_key = StoredPrivateKey(
                    PrivateKeyStorage.PASSWORD, pem.private_key_pkcs8(key, cmd.private_key_password)
                )
            else:
                sealed = self._sealer.seal(pem.private_key_pkcs8(key, None), context=certificate_id)
                stored_key = StoredPrivateKey(PrivateKeyStorage.SEALED, sealed)

        csr_text = None
        if cmd.csr_pem:
            csr = pem.load_csr(cmd.csr_pem, field=_field("csrPem"))
            if pem.public_key_der(csr.public_key()) != parsed.public_key_der:
                raise InvalidInput(
                    "this CSR is not the one the certificate was issued from (their public keys differ)",
                    code=ErrorCode.KEY_MISMATCH,
                    field=_field("csrPem"),
                )
            csr_text = pem.csr_pem_normalized(csr)

        now = self._clock.now()
        verdict = trust.verify_chain(parsed.leaf, parsed.intermediates, self._trust_roots, parsed.domain, now)  # R27
        facts = certificate_facts.read_facts(parsed.leaf, chain_trusted=verdict.trusted, brands=self._brands)  # R29
        version = CertificateVersion(
            serial_number=parsed.serial_number,
            fingerprint_sha256=parsed.fingerprint_sha256,
            not_before=parsed.not_before,
            not_after=parsed.not_after,
            key_algorithm=parsed.key.algorithm,
            key_parameter=parsed.key.parameter,
            # The original issue time (R17 counts 3 days from it): notBefore is what the
            # CA wrote; an uploaded certificate carries nothing closer.
            issued_at=parsed.not_before,
            certificate_pem=parsed.certificate_pem,
            chain_pem=parsed.chain_pem,
            provenance=Provenance.IMPORTED,
            chain_trusted=verdict.trusted,
            key_verified=key_verified,
            chain_untrusted_reason=verdict.reason,
        )
        certificate = Certificate(
            id=certificate_id,
            account=caller.account,
            domain=parsed.domain,
            subject_alt_names=parsed.subject_alt_names,
            primary_domain=primary,
            brand=facts.brand,
            validation_level=facts.validation_level,
            # R29: an import starts paid, 1 year, no automatic validation (order facts).
            is_free=False,
            status=CertificateStatus.ISSUED,
            validation_method=cmd.validation_method,
            organization_name=facts.organization_name,
            reissue_count=0,
            versions=(version,),
            private_key=stored_key,
            csr_pem=csr_text,
            auto_validation_configured=False,
            purchased_years=1,
            created_at=now,
        )
        try:
            await self._repository.add(certificate)
        except DuplicateCertificate as exc:
            raise InvalidInput(
                "this certificate is already uploaded"
                + (f" as {exc.existing_id}" if exc.existing_id else ""),
                field=_field("certificatePem"),
            ) from exc
        return certificate

    async def get(self, caller: Caller, certificate_id: str) -> Certificate | None:
        """R26: another account's certificate does not exist for an account token."""
        if not certificate_id:
            return None
        return await self._repository.get(caller.scope, certificate_id)

    async def get_in_account(self, account: str, certificate_id: str) -> Certificate | None:
        """For work done for an account without a caller (a download URL, R26 kept by
        the account the URL was made for)."""
        return await self._repository.get(account, certificate_id)

    async def get_many(self, caller: Caller, ids: list[str]) -> dict[str, Certificate]:
        return await self._repository.get_many(caller.scope, ids)

    async def require(self, caller: Caller, certificate_id: str, field: list[str]) -> Certificate:
        certificate = await self.get(caller, certificate_id)
        if certificate is None:
            raise NotFound(f"no certificate {shown(certificate_id)}", field=field)
        return certificate

    async def list(
        self,
        caller: Caller,
        filter: CertificateFilter,
        *,
        first: int,
        after: str | None,
        reissuing: list[str] | None = None,
        with_total: bool = True,
    ) -> Page:
        """`with_total=False` skips the count (a query that does not select totalCount)."""
        account = require_account(caller, "certificates")
        if first < 0:
            raise InvalidInput("first must not be negative", field=["first"])
        first = min(first, MAX_PAGE_SIZE)
        if filter.primary_domain is not None:
            filter = dataclasses.replace(
                filter, primary_domain=primary_domain(filter.primary_domain, field=["filter", "primaryDomain"])
            )
        if filter.domain_contains is not None:
            text = filter.domain_contains.strip().lower().rstrip(".")
            if len(text) > 253:
                raise InvalidInput("domainContains is too long", field=["filter", "domainContains"])
            try:
                text = normalize_hostname(text, field=["filter", "domainContains"]) if not text.isascii() else text
            except InvalidInput:
                pass
            filter = dataclasses.replace(filter, domain_contains=text)
        return await self._repository.list(
            account, filter, first=first, after=after, now=self._clock.now(), reissuing=reissuing or (),
            with_total=with_total,
        )

    async def set_order_facts(self, caller: Caller, cmd: SetOrderFacts) -> Certificate:
        """R29: an operator sets what the certificate cannot show; each change an event."""
        require_role(caller, Role.OPERATOR)
        certificate = await self.require(caller, cmd.certificate_id, _field("certificateId"))
        if cmd.auto_validation_configured is not None:
            # R18, R29: a waiver rests on evidence the service holds, never on a declaration.
            raise InvalidInput(
                "autoValidationConfigured is no longer an order fact: it comes from the DNS providers the "
                "certificate's account configured (a provider covering its domain whose last check passed)",
                code=ErrorCode.OPTION_NOT_ALLOWED,
                field=_field("autoValidationConfigured"),
            )
        wanted = {
            "isFree": cmd.is_free,
            "purchasedYears": cmd.purchased_years,
            "autoValidationConfigured": cmd.auto_validation_configured,
        }
        if all(v is None for v in wanted.values()):
            raise InvalidInput("give at least one of isFree, purchasedYears")
        if cmd.is_free and certificate.validation_level != ValidationLevel.DV:
            raise InvalidInput(
                f"only DV certificates can be free; this one is {certificate.validation_level.value} "
                "(read from its certificate policies, R29)",
                field=_field("isFree"),
            )
        if cmd.purchased_years is not None and not MIN_PURCHASED_YEARS <= cmd.purchased_years <= MAX_PURCHASED_YEARS:
            raise InvalidInput(
                f"purchasedYears must be between {MIN_PURCHASED_YEARS} and {MAX_PURCHASED_YEARS}",
                field=_field("purchasedYears"),
            )
        current = {
            "isFree": certificate.is_free,
            "purchasedYears": certificate.purchased_years,
            "autoValidationConfigured": certificate.auto_validation_configured,
        }
        now = self._clock.now()
        changes = [
            OrderFactChange(now, caller.actor, name, _shown(current[name]), _shown(value))
            for name, value in wanted.items()
            if value is not None and value != current[name]
        ]
        if not changes:
            return certificate
        merged = {name: (value if value is not None else current[name]) for name, value in wanted.items()}
        await self._repository.set_order_facts(certificate.id, merged, changes)
        return dataclasses.replace(
            certificate,
            is_free=merged["isFree"],
            purchased_years=merged["purchasedYears"],
            auto_validation_configured=merged["autoValidationConfigured"],
            order_fact_changes=certificate.order_fact_changes + tuple(changes),
        )

    def private_key_pem(self, caller: Caller, certificate: Certificate) -> str | None:
        """The key as the owner may download it: the password-encrypted PKCS#8 when it
        was protected (R9), otherwise the PKCS#8 PEM unsealed for the owner. Viewers and
        staff never see it (R26)."""
        if certificate.private_key is None or not caller.has(Role.OWNER) or caller.account != certificate.account:
            return None
        if certificate.private_key.storage == PrivateKeyStorage.PASSWORD:
            return certificate.private_key.data.decode("ascii")
        return self._sealer.open(certificate.private_key.data, context=certificate.id).decode("ascii")


def _shown(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _registrable_names(parsed: pem.ParsedCertificate) -> str:
    """R27: the bound domain and every other name must be under a registrable domain of
    the Public Suffix List (no IP address, no unknown suffix). Returns the primary domain."""
    field = _field("certificatePem")
    for name in (parsed.domain, *parsed.subject_alt_names):
        try:
            primary_domain(name, field=field)
        except InvalidInput as exc:
            raise InvalidInput(
                f"the certificate cannot be imported: {exc.message} (R27)",
                code=ErrorCode.INVALID_CERTIFICATE,
                field=field,
            ) from exc
    return primary_domain(parsed.domain, field=field)
