"""The per-token mutation rate limit, as the GraphQL layer asks it."""

from __future__ import annotations

import math

from resolvers.context import Context


async def mutation_allowed(ctx: Context, count: int = 1) -> str | None:
    """None when `count` mutations may run; otherwise the message to give (with retry-after)."""
    for _ in range(count):
        retry_after = await ctx.services.rate_limiter.hit(ctx.caller.token_id, ctx.now)
        if retry_after is not None:
            break
    else:
        return None
    seconds = max(1, math.ceil(retry_after))
    limit = ctx.services.settings.rate_limit_per_minute
    return f"rate limit of {limit} mutations per minute reached for this token; retry after {seconds} s"
