"""Reissue queries and mutations: each calls one use case of domain.reissuing."""

from __future__ import annotations

from domain.errors import DomainError
from domain.model import Certificate, Page
from domain.reissues import Reissue
from domain.reissuing import Eligibility, Preview, RequestResult
from domain.rules import ReissueRequest
from resolvers.context import Context
from resolvers.errors import capture


async def reissue(ctx: Context, reissue_id: str) -> Reissue | None:
    return await ctx.reissue_loader.load(reissue_id)


async def reissues(
    ctx: Context, *, first: int, after: str | None, status=None, certificate_id=None, with_total: bool = True
) -> Page:
    page = await ctx.services.reissues.list(
        ctx.caller, status=status, certificate_id=certificate_id, first=first, after=after, with_total=with_total
    )
    for item in page.items:
        ctx.reissue_loader.prime(item.id, item)
    return page


async def certificate_reissues(
    ctx: Context, certificate: Certificate, *, first: int, after: str | None, with_total: bool
) -> Page:
    """A certificate's reissues, batched with its siblings' on the same page."""
    page = await ctx.certificate_reissues_loader.load((certificate.account, certificate.id, first, after, with_total))
    for item in page.items:
        ctx.reissue_loader.prime(item.id, item)
    return page


async def review_queue(ctx: Context, *, first: int, after: str | None, with_total: bool = True) -> Page:
    page = await ctx.services.reissues.review_queue(ctx.caller, first=first, after=after, with_total=with_total)
    for item in page.items:
        ctx.reissue_loader.prime(item.id, item)
    return page


async def active_reissue(ctx: Context, certificate: Certificate) -> Reissue | None:
    return await ctx.active_reissue(certificate)


async def eligibility(ctx: Context, certificate: Certificate) -> Eligibility:
    return await ctx.eligibility_loader.load(certificate)


async def preview(ctx: Context, request: ReissueRequest) -> tuple[Preview | None, list[DomainError]]:
    return await capture(ctx.services.reissues.preview(ctx.caller, request))


async def request_reissue(ctx: Context, request: ReissueRequest) -> tuple[RequestResult | None, list[DomainError]]:
    return await capture(ctx.services.reissues.request(ctx.caller, request))


async def check_domain_validation(ctx: Context, reissue_id: str):
    return await capture(ctx.services.reissues.check_domain_validation(ctx.caller, reissue_id))


async def approve(ctx: Context, reissue_id: str, comment: str | None):
    return await capture(ctx.services.reissues.approve(ctx.caller, reissue_id, comment))


async def reject(ctx: Context, reissue_id: str, reason: str):
    return await capture(ctx.services.reissues.reject(ctx.caller, reissue_id, reason))


async def confirm_ca_verification(ctx: Context, reissue_id: str):
    return await capture(ctx.services.reissues.confirm_ca_verification(ctx.caller, reissue_id))


async def cancel(ctx: Context, reissue_id: str):
    return await capture(ctx.services.reissues.cancel(ctx.caller, reissue_id))


async def remind(ctx: Context, reissue_id: str):
    return await capture(ctx.services.reissues.remind(ctx.caller, reissue_id))
