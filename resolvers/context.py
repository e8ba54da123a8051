"""The per-request context: the caller (authenticated before any resolver runs, R26),
the process's services, and per-request DataLoaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from strawberry.dataloader import DataLoader

from domain.model import Caller, Certificate

if TYPE_CHECKING:
    from certreissue.bootstrap import Services


@dataclass
class Context:
    services: Services
    caller: Caller
    certificate_loader: DataLoader[str, Certificate | None] = field(init=False)

    def __post_init__(self) -> None:
        async def load_certificates(ids: list[str]) -> list[Certificate | None]:
            found = await self.services.certificates.get_many(self.caller, ids)
            return [found.get(i) for i in ids]

        self.certificate_loader = DataLoader(load_fn=load_certificates)

    @property
    def now(self):
        return self.services.clock.now()
