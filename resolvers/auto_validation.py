"""DNS providers for automatic validation (R18, R20)."""

from __future__ import annotations

from domain.auto_validation import DnsProvider, DnsProviderInput
from domain.errors import DomainError
from resolvers.context import Context
from resolvers.errors import capture


async def dns_providers(ctx: Context) -> list[DnsProvider]:
    return await ctx.services.auto_validation.list_dns(ctx.caller)


async def configure_dns_provider(ctx: Context, given: DnsProviderInput) -> tuple[DnsProvider | None, list[DomainError]]:
    return await capture(ctx.services.auto_validation.configure_dns(ctx.caller, given))


async def remove_dns_provider(ctx: Context, provider_id: str) -> tuple[str | None, list[DomainError]]:
    return await capture(ctx.services.auto_validation.remove_dns(ctx.caller, provider_id))
