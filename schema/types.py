"""GraphQL object types of the contract (contract.graphql), built from domain data."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from domain import errors as domain_errors
from domain import downloads, model, reissues
from domain.model import Page
from resolvers import certificates as certificate_resolvers
from resolvers import reissues as reissue_resolvers
from domain.pagination import encode_cursor
from resolvers.context import NOT_LOADED
from schema.selection import selected_fields

if TYPE_CHECKING:
    from resolvers.context import Context

ErrorCode = strawberry.enum(domain_errors.ErrorCode, name="ErrorCode")
ValidationLevel = strawberry.enum(model.ValidationLevel, name="ValidationLevel")
Brand = strawberry.enum(model.Brand, name="Brand")
Provenance = strawberry.enum(model.Provenance, name="Provenance", description="How the certificate came to the service (R27).")
CertificateStatus = strawberry.enum(model.CertificateStatus, name="CertificateStatus")
KeyAlgorithm = strawberry.enum(model.KeyAlgorithm, name="KeyAlgorithm")
ValidationMethod = strawberry.enum(model.ValidationMethod, name="ValidationMethod")
CsrSource = strawberry.enum(reissues.CsrSource, name="CsrSource")
ReissueFlow = strawberry.enum(reissues.ReissueFlow, name="ReissueFlow")
ReissueStatus = strawberry.enum(reissues.ReissueStatus, name="ReissueStatus")
Waiver = strawberry.enum(reissues.Waiver, name="Waiver")
DomainValidationStatus = strawberry.enum(reissues.DomainValidationStatus, name="DomainValidationStatus")
RevocationReason = strawberry.enum(model.RevocationReason, name="RevocationReason")
DownloadFormat = strawberry.enum(
    downloads.DownloadFormat, name="DownloadFormat",
    description="What a download's zip holds: PEM certificate.pem, chain.pem, fullchain.pem (no key); NGINX "
    "fullchain.pem, privkey.pem; APACHE certificate.pem, chain.pem, privkey.pem; TOMCAT keystore.p12 "
    "(PKCS#12, Tomcat 8.5+) and keystore.jks (JKS), one alias and password; IIS certificate.pfx. The key only for the owner, when the service holds it.",
)


@strawberry.type
class UserError:
    code: ErrorCode
    message: str
    field: list[str] | None = strawberry.field(
        description='Path to the input field at fault, e.g. ["input", "csrPem"]; null when not one field.'
    )

    @classmethod
    def from_domain(cls, error: domain_errors.DomainError) -> UserError:
        return cls(code=error.code, message=error.message, field=error.field)


def user_errors(errors: list[domain_errors.DomainError]) -> list[UserError]:
    return [UserError.from_domain(e) for e in errors]


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.interface
class Node:
    id: strawberry.ID


@strawberry.type
class Organization:
    name: str


@strawberry.type
class CertificateVersion:
    serial_number: str
    fingerprint_sha256: str
    not_before: datetime
    not_after: datetime
    key_algorithm: KeyAlgorithm
    key_parameter: str
    issued_at: datetime
    superseded_at: datetime | None = strawberry.field(
        description="When a reissue replaced this version; null for the current one."
    )
    version: int = strawberry.field(
        description="1 for the first version, the highest number for the current one (createDownload's version)."
    )
    revoked_at: datetime | None = strawberry.field(
        description="When the CA that issued this version revoked it (a superseded version, after "
        "CERTS_REVOKE_SUPERSEDED_AFTER); null while it is not revoked."
    )
    revocation_reason: RevocationReason | None

    @classmethod
    def from_domain(cls, v: model.CertificateVersion, number: int = 0) -> CertificateVersion:
        return cls(
            version=number,
            revoked_at=v.revoked_at,
            revocation_reason=v.revocation_reason,
            serial_number=v.serial_number,
            fingerprint_sha256=v.fingerprint_sha256,
            not_before=v.not_before,
            not_after=v.not_after,
            key_algorithm=v.key_algorithm,
            key_parameter=v.key_parameter,
            issued_at=v.issued_at,
            superseded_at=v.superseded_at,
        )


@strawberry.type(description="An operator changed an order fact (R29); kept, never rewritten.")
class OrderFactChange:
    at: datetime
    actor: str
    fact: str = strawberry.field(description="isFree, purchasedYears or autoValidationConfigured.")
    old: str
    new: str


@strawberry.type
class ReissueEligibility:
    eligible: bool
    reasons: list[UserError] = strawberry.field(
        description="Empty when eligible. Codes are the ones requestReissue would return (R1-R4)."
    )
    flow: ReissueFlow

    @classmethod
    def from_domain(cls, eligibility) -> ReissueEligibility:
        return cls(
            eligible=not eligibility.errors, reasons=user_errors(eligibility.errors), flow=eligibility.flow
        )


@strawberry.type
class Certificate(Node):
    id: strawberry.ID
    domain: str
    subject_alt_names: list[str]
    primary_domain: str
    brand: Brand
    validation_level: ValidationLevel
    is_free: bool
    key_algorithm: KeyAlgorithm
    key_parameter: str
    not_before: datetime
    not_after: datetime
    issued_at: datetime
    serial_number: str
    fingerprint_sha256: str
    validation_method: ValidationMethod
    organization: Organization | None = strawberry.field(description="From the certificate's subject O (R29).")
    provenance: Provenance
    chain_trusted: bool = strawberry.field(
        description="R27: the chain passed path validation to a trusted root (always true for ISSUED_HERE)."
    )
    key_verified: bool = strawberry.field(
        description="R27: the service holds, or was shown, the certificate's private key."
    )
    chain_untrusted_reason: str | None = strawberry.field(
        description="Why path validation refused the chain when it was imported (R27); null when trusted."
    )
    purchased_years: int = strawberry.field(description="Order facts (R29).")

    @strawberry.field(
        description="R18: a DNS provider of the certificate's account covers its domain (or, for a name that "
        "is not a wildcard, a webroot serves it) and its last check passed (configureDnsProvider, "
        "configureWebroot); found by the service, never set by anyone."
    )
    async def auto_validation_configured(self, info: strawberry.Info) -> bool:
        return await info.context.auto_validation_loader.load((self.model.account, self.model.domain))

    order_fact_changes: list[OrderFactChange] = strawberry.field(
        description="Every change an operator made to the order facts, oldest first (R29)."
    )
    reissue_count: int
    certificate_pem: str = strawberry.field(description="Leaf certificate, PEM.")
    chain_pem: str = strawberry.field(description="Intermediate chain, PEM (may be empty).")
    versions: list[CertificateVersion] = strawberry.field(
        description="Newest first; the first entry is the current version."
    )
    model: strawberry.Private[model.Certificate]

    @classmethod
    def from_domain(cls, c: model.Certificate, now: datetime) -> Certificate:
        v = c.current
        return cls(
            id=strawberry.ID(c.id),
            domain=c.domain,
            subject_alt_names=list(c.subject_alt_names),
            primary_domain=c.primary_domain,
            brand=c.brand,
            validation_level=c.validation_level,
            is_free=c.is_free,
            key_algorithm=v.key_algorithm,
            key_parameter=v.key_parameter,
            not_before=v.not_before,
            not_after=v.not_after,
            issued_at=v.issued_at,
            serial_number=v.serial_number,
            fingerprint_sha256=v.fingerprint_sha256,
            validation_method=c.validation_method,
            organization=Organization(name=c.organization_name) if c.organization_name else None,
            provenance=c.provenance,
            chain_trusted=c.chain_trusted,
            key_verified=c.key_verified,
            chain_untrusted_reason=c.current.chain_untrusted_reason,
            purchased_years=c.purchased_years,
            order_fact_changes=[
                OrderFactChange(at=x.at, actor=x.actor, fact=x.fact, old=x.old, new=x.new) for x in c.order_fact_changes
            ],
            reissue_count=c.reissue_count,
            certificate_pem=v.certificate_pem,
            chain_pem=v.chain_pem,
            versions=[CertificateVersion.from_domain(x, len(c.versions) - i) for i, x in enumerate(c.versions)],
            model=c,
        )

    @strawberry.field(
        description="The current private key as stored: encrypted PKCS#8 PEM when it was "
        "password-protected (R9); null when the service never had it."
    )
    def private_key_pem(self, info: strawberry.Info[Context]) -> str | None:
        return certificate_resolvers.private_key_pem(info.context, self.model)

    # status, activeReissue and reissueEligibility are plain (not async) resolvers: on a page,
    # `certificates` has loaded what they need (Tuning.preload_page), and they answer from
    # memory; only where it is not loaded yet (certificate(id), node) do they return the
    # DataLoader's awaitable. A page of 50 thus costs no awaitable per field.
    @strawberry.field
    def status(self, info: strawberry.Info[Context]) -> CertificateStatus:
        """REISSUING while a reissue is in progress (R4); EXPIRED past notAfter."""
        ctx = info.context
        status = self.model.status_at(ctx.now)
        if status != model.CertificateStatus.ISSUED:
            return status
        active = ctx.loaded_active_reissue(self.model)
        if active is NOT_LOADED:
            return self._status_when_loaded(ctx, status)
        return model.CertificateStatus.REISSUING if active is not None else status

    async def _status_when_loaded(self, ctx: Context, status: model.CertificateStatus) -> model.CertificateStatus:
        if await reissue_resolvers.active_reissue(ctx, self.model) is not None:
            return model.CertificateStatus.REISSUING
        return status

    @strawberry.field(description="The reissue in progress, if any (R4).")
    def active_reissue(
        self, info: strawberry.Info[Context]
    ) -> Annotated[Reissue, strawberry.lazy("schema.reissue_types")] | None:
        from schema.reissue_types import Reissue

        found = info.context.loaded_active_reissue(self.model)
        if found is NOT_LOADED:
            return self._active_reissue_when_loaded(info.context)
        return Reissue.from_domain(found) if found else None

    async def _active_reissue_when_loaded(self, ctx: Context):
        from schema.reissue_types import Reissue

        found = await reissue_resolvers.active_reissue(ctx, self.model)
        return Reissue.from_domain(found) if found else None

    @strawberry.field
    async def reissues(
        self, info: strawberry.Info[Context], first: int | None = 20, after: str | None = None
    ) -> Annotated[ReissueConnection, strawberry.lazy("schema.reissue_types")]:
        from schema.reissue_types import ReissueConnection

        page = await reissue_resolvers.certificate_reissues(
            info.context, self.model, first=20 if first is None else first, after=after,
            with_total="totalCount" in selected_fields(info, ()),
        )
        return ReissueConnection.from_page(page)

    @strawberry.field
    def reissue_eligibility(self, info: strawberry.Info[Context]) -> ReissueEligibility:
        found = info.context.loaded_eligibility(self.model)
        if found is NOT_LOADED:
            return self._eligibility_when_loaded(info.context)
        return ReissueEligibility.from_domain(found)

    async def _eligibility_when_loaded(self, ctx: Context) -> ReissueEligibility:
        return ReissueEligibility.from_domain(await reissue_resolvers.eligibility(ctx, self.model))


@strawberry.type
class CertificateEdge:
    cursor: str
    node: Certificate


@strawberry.type
class CertificateConnection:
    edges: list[CertificateEdge]
    page_info: PageInfo
    total_count: int

    @classmethod
    def from_page(cls, page: Page, now: datetime) -> CertificateConnection:
        edges = [CertificateEdge(cursor=encode_cursor(c.id), node=Certificate.from_domain(c, now)) for c in page.items]
        return cls(
            edges=edges,
            page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=edges[-1].cursor if edges else None),
            total_count=page.total_count,
        )



