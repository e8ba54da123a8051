"""DNS providers and webroots for automatic validation (R18, R20)."""

from __future__ import annotations

from domain.auto_validation import DnsProvider, DnsProviderInput
from domain.errors import DomainError
from domain.webroots import Webroot, WebrootsOff
from resolvers.context import Context
from resolvers.errors import capture


async def dns_providers(ctx: Context) -> list[DnsProvider]:
    return await ctx.services.auto_validation.list_dns(ctx.caller)


async def configure_dns_provider(ctx: Context, given: DnsProviderInput) -> tuple[DnsProvider | None, list[DomainError]]:
    return await capture(ctx.services.auto_validation.configure_dns(ctx.caller, given))


async def remove_dns_provider(ctx: Context, provider_id: str) -> tuple[str | None, list[DomainError]]:
    return await capture(ctx.services.auto_validation.remove_dns(ctx.caller, provider_id))


def _webroots(ctx: Context):
    return ctx.services.webroots or WebrootsOff()


async def webroots(ctx: Context) -> list[Webroot]:
    return await _webroots(ctx).list(ctx.caller)


async def configure_webroot(ctx: Context, domain: str, directory: str | None) -> tuple[Webroot | None, list[DomainError]]:
    return await capture(_webroots(ctx).configure(ctx.caller, domain, directory))


async def remove_webroot(ctx: Context, webroot_id: str) -> tuple[str | None, list[DomainError]]:
    return await capture(_webroots(ctx).remove(ctx.caller, webroot_id))
