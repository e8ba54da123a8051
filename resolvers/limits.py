"""The cost limits as the GraphQL layer asks them (schema/cost.py measures): the query cost
limit, and the per-token rate limit, of which an operation claims what its mutations weigh."""

from __future__ import annotations

import math
from dataclasses import dataclass

from resolvers.context import Context


@dataclass(frozen=True)
class RateLimited:
    message: str
    retry_after: int  # whole seconds, at least 1 (the Retry-After header)


def max_query_cost(ctx: Context) -> int:
    """CERTS_MAX_QUERY_COST: the most objects one operation may be able to return (0: no limit)."""
    return ctx.services.settings.max_query_cost


def rate_limited(ctx: Context) -> bool:
    return ctx.services.settings.rate_limit_per_minute > 0


async def claim_mutation_units(ctx: Context, weight: int) -> RateLimited | None:
    """None when the operation's `weight` units were claimed (or the limit is off);
    otherwise why not, with when to retry. Nothing stays claimed after a refusal."""
    retry_after = await ctx.services.rate_limiter.hit(ctx.caller.token_id, ctx.now, weight)
    if retry_after is None:
        return None
    seconds = max(1, math.ceil(retry_after))
    limit = ctx.services.settings.rate_limit_per_minute
    if weight > limit:
        return RateLimited(
            f"this operation costs {weight} rate-limit units, more than the {limit} per minute this token "
            "may use: it is refused however long one waits; send its mutations in smaller operations "
            "(an ONLINE RSA key weighs more the larger it is)",
            seconds,
        )
    return RateLimited(
        f"rate limit of {limit} units per minute reached for this token (this operation costs {weight}); "
        f"retry after {seconds} s",
        seconds,
    )
