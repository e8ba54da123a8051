"""Schema extensions of our own: the mutation rate limit, and error masking that tells a
database outage apart from a bug (both without internals)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from graphql import GraphQLError
from graphql import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import MaskErrors, SchemaExtension

from domain.errors import DomainError
from resolvers.limits import mutation_allowed

DATABASE_UNAVAILABLE = "the database is unavailable; try again shortly"


class RateLimitMutations(SchemaExtension):
    """CERTS_RATE_LIMIT_PER_MINUTE: a mutation over the token's limit is not executed."""

    async def on_execute(self) -> AsyncIterator[None]:
        ctx = self.execution_context
        if ctx.operation_type.value == "mutation":
            # Each root field is one mutation: aliases do not multiply the limit.
            operation = next(
                (d for d in ctx.graphql_document.definitions if getattr(d, "operation", None) is not None
                 and (ctx.operation_name is None or (d.name and d.name.value == ctx.operation_name))),
                None,
            )
            count = len(operation.selection_set.selections) if operation is not None else 1
            refusal = await mutation_allowed(ctx.context, count)
            if refusal is not None:
                ctx.result = GraphQLExecutionResult(
                    data=None, errors=[GraphQLError(refusal, extensions={"code": "RATE_LIMITED"})]
                )
        yield


class MaskInternalErrors(MaskErrors):
    """Expected errors keep their message; a database outage says so (code
    DATABASE_UNAVAILABLE); anything else becomes "Internal error." with no internals."""

    def __init__(self, unavailable: Callable[[BaseException], bool]) -> None:
        super().__init__(should_mask_error=self._should_mask, error_message="Internal error.")
        self._unavailable = unavailable

    @staticmethod
    def _should_mask(error: GraphQLError) -> bool:
        original = error.original_error
        return not (original is None or isinstance(original, (DomainError, GraphQLError)))

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        processed = super()._process_errors(errors)
        for error in processed:
            original = error.original_error
            if isinstance(original, DomainError):
                # An expected error outside a payload (a query argument): keep its code and field.
                error.extensions = {"code": original.code.value, "field": original.field}
        return processed

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        if error.original_error is not None and self._unavailable(error.original_error):
            return GraphQLError(
                DATABASE_UNAVAILABLE,
                nodes=error.nodes,
                source=error.source,
                positions=error.positions,
                path=error.path,
                extensions={"code": "DATABASE_UNAVAILABLE"},
            )
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL_ERROR"}
        return masked
