"""Certificate queries and the upload mutation."""

from __future__ import annotations

from domain.certificates import SetOrderFacts, UploadCertificate
from domain.downloads import CreateDownload, Download
from domain.errors import DomainError
from domain.model import Certificate, CertificateFilter, CertificateStatus, Page
from resolvers.context import Context
from resolvers.errors import capture


async def certificate(ctx: Context, certificate_id: str) -> Certificate | None:
    """R26: another account's certificate is null, like one that does not exist."""
    return await ctx.certificate_loader.load(certificate_id)


async def certificates(
    ctx: Context,
    *,
    first: int,
    after: str | None,
    filter: CertificateFilter,
    related: frozenset[str] = frozenset(),
    with_total: bool = True,
) -> Page:
    """`related`: which of the nodes' fields that need reissue data the query selects
    ("actives", "eligibility"); with Tuning.preload_page they are loaded here, once."""
    reissuing = None
    if filter.status in (CertificateStatus.ISSUED, CertificateStatus.REISSUING):
        reissuing = await ctx.services.reissues.reissuing_certificate_ids(ctx.caller)
    page = await ctx.services.certificates.list(
        ctx.caller, filter, first=first, after=after, reissuing=reissuing, with_total=with_total
    )
    for item in page.items:
        ctx.certificate_loader.prime(item.id, item)
    if ctx.tuning.preload_page and related and page.items:
        await ctx.preload(page.items, actives="actives" in related, eligibility="eligibility" in related)
    return page


async def upload_certificate(
    ctx: Context, command: UploadCertificate
) -> tuple[Certificate | None, list[DomainError]]:
    return await capture(ctx.services.certificates.upload(ctx.caller, command))


async def set_order_facts(
    ctx: Context, command: SetOrderFacts
) -> tuple[Certificate | None, list[DomainError]]:
    result = await capture(ctx.services.certificates.set_order_facts(ctx.caller, command))
    if result[0] is not None:
        ctx.certificate_loader.prime(result[0].id, result[0], force=True)
    return result


def private_key_pem(ctx: Context, cert: Certificate) -> str | None:
    return ctx.services.certificates.private_key_pem(ctx.caller, cert)


async def create_download(ctx: Context, command: CreateDownload) -> tuple[Download | None, list[DomainError]]:
    return await capture(ctx.services.downloads.create(ctx.caller, command))
