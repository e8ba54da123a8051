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
    active_reissue_loader: DataLoader[str, Reissue | None] = field(init=False)
    eligibility_loader: DataLoader[Certificate, Eligibility] = field(init=False)

    def __post_init__(self) -> None:
        async def load_certificates(ids: list[str]) -> list[Certificate | None]:
            found = await self.services.certificates.get_many(self.caller, ids)
            return [found.get(i) for i in ids]

        async def load_reissues(ids: list[str]) -> list[Reissue | None]:
            found = await self.services.reissues.get_many(self.caller, ids)
            return [found.get(i) for i in ids]

        async def load_active(certificate_ids: list[str]) -> list[Reissue | None]:
            found = await self.services.reissues.active_for(self.caller, certificate_ids)
            return [found.get(i) for i in certificate_ids]

        async def load_eligibility(certificates: list[Certificate]) -> list[Eligibility]:
            actives = await self.active_reissue_loader.load_many([c.id for c in certificates])
            active = {c.id: r for c, r in zip(certificates, actives) if r is not None}
            found = await self.services.reissues.eligibility_many(self.caller, certificates, active=active)
            return [found[c.id] for c in certificates]

        self.certificate_loader = DataLoader(load_fn=load_certificates)
        self.eligibility_loader = DataLoader(load_fn=load_eligibility, cache_key_fn=lambda c: c.id)
        self.reissue_loader = DataLoader(load_fn=load_reissues)
        self.active_reissue_loader = DataLoader(load_fn=load_active)

    @property
    def now(self):
        return self.services.clock.now()
