"""The per-request context: the caller (authenticated before any resolver runs, R26),
the process's services, and per-request DataLoaders (one round trip per kind of object,
however many appear in one response)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from strawberry.dataloader import DataLoader

from domain.model import Caller, Certificate
from domain.reissues import Reissue
from domain.reissuing import Eligibility

if TYPE_CHECKING:
    from certreissue.bootstrap import Services


@dataclass
class Context:
    services: Services
    caller: Caller
    certificate_loader: DataLoader[str, Certificate | None] = field(init=False)
    reissue_loader: DataLoader[str, Reissue | None] = field(init=False)
    domain_active_loader: DataLoader[str, list[Reissue]] = field(init=False)
    eligibility_loader: DataLoader[Certificate, Eligibility] = field(init=False)

    def __post_init__(self) -> None:
        async def load_certificates(ids: list[str]) -> list[Certificate | None]:
            found = await self.services.certificates.get_many(self.caller, ids)
            return [found.get(i) for i in ids]

        async def load_reissues(ids: list[str]) -> list[Reissue | None]:
            found = await self.services.reissues.get_many(self.caller, ids)
            return [found.get(i) for i in ids]

        async def load_domain_actives(primary_domains: list[str]) -> list[list[Reissue]]:
            found = await self.services.reissues.active_in_domains(self.caller, primary_domains)
            return [found.get(d, []) for d in primary_domains]

        async def load_eligibility(certificates: list[Certificate]) -> list[Eligibility]:
            domains = sorted({c.primary_domain for c in certificates})
            actives = dict(zip(domains, await self.domain_active_loader.load_many(domains)))
            found = await self.services.reissues.eligibility_many(self.caller, certificates, domain_actives=actives)
            return [found[c.id] for c in certificates]

        self.certificate_loader = DataLoader(load_fn=load_certificates)
        self.eligibility_loader = DataLoader(load_fn=load_eligibility, cache_key_fn=lambda c: c.id)
        self.reissue_loader = DataLoader(load_fn=load_reissues)
        self.domain_active_loader = DataLoader(load_fn=load_domain_actives)

    async def active_reissue(self, certificate: Certificate) -> Reissue | None:
        """R4: the certificate's reissue in progress, from its primary domain's (one read
        per request for all certificates on a page)."""
        actives = await self.domain_active_loader.load(certificate.primary_domain)
        return next((r for r in actives if r.certificate_id == certificate.id), None)

    @property
    def now(self):
        return self.services.clock.now()
