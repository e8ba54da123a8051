"""Schema extensions of our own: the cost limits (query cost and the mutation rate limit),
and error masking that tells a database outage apart from a bug (both without internals)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from graphql import GraphQLError
from graphql import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import MaskErrors, SchemaExtension
from strawberry.schema.exceptions import InvalidOperationTypeError

from domain.errors import DomainError
from resolvers.context import Context
from resolvers.limits import claim_mutation_units, max_query_cost, rate_limited
from schema.cost import operation_cost

DATABASE_UNAVAILABLE = "the database is unavailable; try again shortly"


# What a subscription holds of its account's budget besides what it selects: each is a read
# and a message at every change, however little it selects.
SUBSCRIPTION_BASE_UNITS = 10


class CostLimits(SchemaExtension):
    """Before anything runs, on the document with its fragments, @skip/@include and
    variables resolved (schema/cost.py):

    - CERTS_MAX_QUERY_COST: an operation that could return more objects is refused
      (QUERY_TOO_COSTLY, a request error like a validation error: HTTP 200);
    - CERTS_RATE_LIMIT_PER_MINUTE: a mutation claims what its fields weigh, all or none;
      refused, it answers RATE_LIMITED with HTTP 429 and Retry-After.

    Both run after parsing and validation (cached by ParserCache and ValidationCache: the
    variables they need are not part of those caches' keys)."""

    async def on_execute(self) -> AsyncIterator[None]:
        ctx = self.execution_context
        if isinstance(ctx.context, Context):  # not when the schema is executed bare (tests)
            await self._check(ctx)
        yield

    @staticmethod
    async def _check(ctx) -> None:
        limit = max_query_cost(ctx.context)
        budget = ctx.context.subscription_budget if ctx.operation_type.value == "subscription" else None
        if limit <= 0 and budget is None and not (ctx.operation_type.value == "mutation" and rate_limited(ctx.context)):
            return
        cost = operation_cost(ctx.schema._schema, ctx.graphql_document, ctx.operation_name, ctx.variables)  # noqa: SLF001
        if cost is None:
            return  # no operation to run, or variables that do not coerce: execution refuses it itself
        if 0 < limit < cost.objects:
            refusal = _refusal(
                f"this operation could return {cost.objects} objects, over the limit of {limit} (each "
                "connection multiplies what it selects by its `first`): ask for smaller pages or fewer "
                "nested fields",
                {"code": "QUERY_TOO_COSTLY", "cost": cost.objects, "limit": limit},
            )
            if ctx.operation_type.value == "subscription":
                # A subscription's stream does not look at a result set here: raised, it is
                # the stream's only result, before anything is read.
                raise refusal.errors[0]
            ctx.result = refusal
        elif budget is not None and not budget.claim(cost.objects + SUBSCRIPTION_BASE_UNITS):
            # What every change will cost this process to answer, held by one account: bounded.
            raise GraphQLError(
                f"this subscription could select {cost.objects} objects at each change (it holds "
                f"{cost.objects + SUBSCRIPTION_BASE_UNITS} units with its own read), and the account's "
                f"open subscriptions on this server already hold {budget.held} of "
                f"{budget.limit} (CERTS_WS_MAX_SUBSCRIPTION_COST_PER_ACCOUNT): complete some, or select less",
                extensions={"code": "SUBSCRIPTION_BUDGET_EXHAUSTED", "cost": cost.objects, "limit": budget.limit},
            )
        elif cost.mutation_weight > 0:
            refusal = await claim_mutation_units(ctx.context, cost.mutation_weight)
            if refusal is not None:
                ctx.result = _refusal(refusal.message, {"code": "RATE_LIMITED", "retryAfter": refusal.retry_after})
                if ctx.context.response is not None:
                    ctx.context.response.status_code = 429
                    ctx.context.response.headers["Retry-After"] = str(refusal.retry_after)


def _refusal(message: str, extensions: dict) -> GraphQLExecutionResult:
    return GraphQLExecutionResult(data=None, errors=[GraphQLError(message, extensions=extensions)])


class MaskInternalErrors(MaskErrors):
    """Expected errors keep their message; a database outage says so (code
    DATABASE_UNAVAILABLE); anything else becomes "Internal error." with no internals."""

    def __init__(self, unavailable: Callable[[BaseException], bool]) -> None:
        super().__init__(should_mask_error=self._should_mask, error_message="Internal error.")
        self._unavailable = unavailable

    @staticmethod
    def _should_mask(error: GraphQLError) -> bool:
        original = error.original_error
        # Strawberry's own refusals of an operation (a query sent where only subscriptions
        # run) are not faults: the transport explains them (certreissue/graphql_ws.py).
        return not (original is None or isinstance(original, (DomainError, GraphQLError, InvalidOperationTypeError)))

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
