"""GraphQL types of a reissue (contract.graphql)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from domain import reissues
from domain.pagination import encode_cursor
from schema.types import (
    CsrSource,
    DomainValidationStatus,
    KeyAlgorithm,
    Node,
    PageInfo,
    ReissueFlow,
    ReissueStatus,
    ValidationMethod,
    Waiver,
)

if TYPE_CHECKING:
    from resolvers.context import Context
    from schema.types import Certificate


@strawberry.type
class DnsChallenge:
    name: str = strawberry.field(
        description="e.g. _dnsauth.ssl.example.com; with an ACME CA, the CA's: _acme-challenge.ssl.example.com"
    )
    type: str
    value: str


@strawberry.type
class FileChallenge:
    url: str = strawberry.field(
        description="e.g. http://ssl.example.com/.well-known/pki-validation/fileauth.txt; with an ACME CA, the "
        "CA's: http://ssl.example.com/.well-known/acme-challenge/<token>"
    )
    path: str
    content: str


@strawberry.type
class DomainValidation:
    method: ValidationMethod
    status: DomainValidationStatus
    dns: DnsChallenge | None
    file: FileChallenge | None
    last_checked_at: datetime | None
    last_error: str | None = strawberry.field(description="Human-readable diagnosis of the last failed check (R21).")
    ca_order_url: str | None = strawberry.field(
        default=None,
        description="With an ACME CA: the CA's order this challenge belongs to (a later check resumes it); "
        "null when the service validates itself.",
    )

    @classmethod
    def from_domain(cls, v: reissues.DomainValidation, hostname: str) -> DomainValidation:
        is_dns = v.method.value.startswith("DNS")
        return cls(
            method=v.method,
            status=v.status,
            dns=DnsChallenge(name=v.dns_name(hostname), type="TXT", value=v.token) if is_dns else None,
            file=(
                None
                if is_dns
                else FileChallenge(url=v.file_url(hostname), path=v.file_path, content=v.token)
            ),
            last_checked_at=v.last_checked_at,
            last_error=v.last_error,
            ca_order_url=v.ca_order_url,
        )


@strawberry.type
class ReissueEvent:
    at: datetime
    actor: str
    from_: ReissueStatus | None = strawberry.field(name="from")
    to: ReissueStatus
    note: str | None


@strawberry.type
class Reissue(Node):
    id: strawberry.ID
    flow: ReissueFlow
    status: ReissueStatus
    domain: str
    csr_source: CsrSource
    csr_pem: str
    key_algorithm: KeyAlgorithm
    key_parameter: str
    reason: str | None
    private_key_protected: bool
    deployable_to_cloud_services: bool
    domain_validation_required: bool
    manual_review_required: bool
    waivers: list[Waiver]
    domain_validation: DomainValidation | None = strawberry.field(
        description="Null when no domain validation is required."
    )
    events: list[ReissueEvent]
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    completed_at: datetime | None
    model: strawberry.Private[reissues.Reissue]

    @classmethod
    def from_domain(cls, r: reissues.Reissue) -> Reissue:
        return cls(
            id=strawberry.ID(r.id),
            flow=r.flow,
            status=r.status,
            domain=r.domain,
            csr_source=r.csr_source,
            csr_pem=r.csr_pem,
            key_algorithm=r.key_algorithm,
            key_parameter=r.key_parameter,
            reason=r.reason,
            private_key_protected=r.private_key_protected,
            deployable_to_cloud_services=r.deployable_to_cloud_services,
            domain_validation_required=r.domain_validation_required,
            manual_review_required=r.manual_review_required,
            waivers=list(r.waivers),
            domain_validation=(
                DomainValidation.from_domain(r.domain_validation, r.domain) if r.domain_validation else None
            ),
            events=[
                ReissueEvent(at=e.at, actor=e.actor, from_=e.from_status, to=e.to_status, note=e.note)
                for e in r.events
            ],
            created_at=r.created_at,
            updated_at=r.updated_at,
            expires_at=r.expires_at,
            completed_at=r.completed_at,
            model=r,
        )

    @strawberry.field(description="The notAfter the new certificate gets (R5, R30).")
    def not_after(self, info: strawberry.Info[Context]) -> datetime:
        validity = self.model.validity(info.context.now, info.context.services.reissues.schedule)
        return validity.not_after if validity else self._validity_from_certificate(info.context, "not_after")

    @strawberry.field(description="True when R30 shortens the validity below the current notAfter.")
    def not_after_capped(self, info: strawberry.Info[Context]) -> bool:
        validity = self.model.validity(info.context.now, info.context.services.reissues.schedule)
        return validity.capped if validity else self._validity_from_certificate(info.context, "capped")

    @strawberry.field(
        description="True when the CA decides the notAfter (an ACME CA): until issued, notAfter is R5's and the "
        "CA's may differ; once issued, notAfter is the CA's (notAfterCapped when it is earlier than R5's)."
    )
    def not_after_chosen_by_ca(self, info: strawberry.Info[Context]) -> bool:
        return info.context.services.reissues.ca_chooses_not_after

    async def _validity_from_certificate(self, ctx: Context, part: str):
        """A reissue stored before R30 was recorded: computed from its certificate now."""
        cert = await ctx.certificate_loader.load(self.model.certificate_id)
        validity = ctx.services.reissues.validity_for(cert, ctx.now)
        return getattr(validity, part)

    @strawberry.field
    async def certificate(
        self, info: strawberry.Info[Context]
    ) -> Annotated[Certificate, strawberry.lazy("schema.types")]:
        from schema.types import Certificate

        cert = await info.context.certificate_loader.load(self.model.certificate_id)
        return Certificate.from_domain(cert, info.context.now)


@strawberry.type
class ReissueEdge:
    cursor: str
    node: Reissue


@strawberry.type
class ReissueConnection:
    edges: list[ReissueEdge]
    page_info: PageInfo
    total_count: int

    @classmethod
    def from_page(cls, page) -> ReissueConnection:
        edges = [ReissueEdge(cursor=encode_cursor(r.id), node=Reissue.from_domain(r)) for r in page.items]
        return cls(
            edges=edges,
            page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=edges[-1].cursor if edges else None),
            total_count=page.total_count,
        )
