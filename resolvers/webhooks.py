"""Webhook queries and mutations: each calls one use case of domain.webhooking."""

from __future__ import annotations

from collections.abc import Sequence

from domain.model import Page
from domain.webhooks import DeliveryStatus
from resolvers.context import Context
from resolvers.errors import capture


async def create_endpoint(ctx: Context, url: str, events: Sequence[str]):
    return await capture(ctx.services.webhooks.create_endpoint(ctx.caller, url, events))


async def delete_endpoint(ctx: Context, endpoint_id: str):
    return await capture(ctx.services.webhooks.delete_endpoint(ctx.caller, endpoint_id))


async def rotate_secret(ctx: Context, endpoint_id: str):
    return await capture(ctx.services.webhooks.rotate_secret(ctx.caller, endpoint_id))


async def redeliver(ctx: Context, delivery_id: str):
    return await capture(ctx.services.webhooks.redeliver(ctx.caller, delivery_id))


async def set_expiry_thresholds(ctx: Context, thresholds: Sequence[int]):
    return await capture(ctx.services.webhooks.set_expiry_thresholds(ctx.caller, thresholds))


async def endpoints(ctx: Context, *, first: int, after: str | None) -> Page:
    return await ctx.services.webhooks.list_endpoints(ctx.caller, first=first, after=after)


async def deliveries(
    ctx: Context, *, endpoint_id: str | None, status: DeliveryStatus | None, first: int, after: str | None,
    with_total: bool,
) -> Page:
    return await ctx.services.webhooks.deliveries(
        ctx.caller, endpoint_id=endpoint_id, status=status, first=first, after=after, with_total=with_total
    )


async def expiry_thresholds(ctx: Context) -> tuple[int, ...]:
    return await ctx.services.webhooks.expiry_thresholds(ctx.caller)
