"""Query and Mutation roots, and the schema with its extensions."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.extensions import DisableIntrospection, MaskErrors, ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig

from domain.errors import DomainError
from resolvers import certificates as certificate_resolvers
from resolvers.context import Context
from schema.inputs import CertificateFilter, UploadCertificateInput
from schema.reissue_types import Reissue
from schema.types import Certificate, CertificateConnection, Node, UserError, user_errors


@strawberry.type
class UploadCertificatePayload:
    certificate: Certificate | None
    user_errors: list[UserError]


@strawberry.type
class Query:
    @strawberry.field
    async def node(self, info: strawberry.Info[Context], id: strawberry.ID) -> Node | None:
        if str(id).startswith("crt_"):
            return await Query.certificate(self, info, id)
        return None

    @strawberry.field
    async def certificate(self, info: strawberry.Info[Context], id: strawberry.ID) -> Certificate | None:
        found = await certificate_resolvers.certificate(info.context, str(id))
        return Certificate.from_domain(found, info.context.now) if found else None

    @strawberry.field(description="first is capped at 100.")
    async def certificates(
        self,
        info: strawberry.Info[Context],
        first: int = 20,
        after: str | None = None,
        filter: CertificateFilter | None = None,
    ) -> CertificateConnection:
        page = await certificate_resolvers.certificates(
            info.context,
            first=first,
            after=after,
            filter=(filter or CertificateFilter()).to_domain(),
        )
        return CertificateConnection.from_page(page, info.context.now)


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def upload_certificate(
        self, info: strawberry.Info[Context], input: UploadCertificateInput
    ) -> UploadCertificatePayload:
        cert, errors = await certificate_resolvers.upload_certificate(info.context, input.to_domain())
        return UploadCertificatePayload(
            certificate=Certificate.from_domain(cert, info.context.now) if cert else None,
            user_errors=user_errors(errors),
        )


def _should_mask(error: GraphQLError) -> bool:
    """Expected errors keep their message; anything unexpected is masked (no internals)."""
    original = error.original_error
    if original is None or isinstance(original, (DomainError, GraphQLError)):
        return False
    return True


def build_schema(*, introspection: bool = True) -> strawberry.Schema:
    extensions: list = [
        lambda: MaskErrors(should_mask_error=_should_mask, error_message="Internal error."),
        lambda: ParserCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
    ]
    if not introspection:
        extensions.append(DisableIntrospection)
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        types=[Certificate, Reissue],
        extensions=extensions,
        config=StrawberryConfig(),
    )
