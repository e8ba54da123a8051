"""The per-token rate limit, as the GraphQL layer asks it: an operation claims what its
mutations weigh (schema/cost.py) of CERTS_RATE_LIMIT_PER_MINUTE units."""

from __future__ import annotations

import math
from dataclasses import dataclass

from resolvers.context import Context


@dataclass(frozen=True)
class RateLimited:
    message: str
    retry_after: int  # whole seconds, at least 1 (the Retry-After header)


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
