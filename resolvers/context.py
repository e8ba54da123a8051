"""The per-request context: the caller (authenticated before any resolver runs, R26),
the process's services, and per-request DataLoaders (one round trip per kind of object,
however many appear in one response)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from strawberry.dataloader import DataLoader

from domain.model import Caller, Certificate, Page
from domain.reissues import Reissue
from domain.reissuing import Eligibility

if TYPE_CHECKING:
    from certreissue.bootstrap import Services


@dataclass(frozen=True)
class Tuning:
    """The GraphQL layer's optimisations, each on by default. They are switches only so that
    `make bench` can measure each one's effect (before/after) in one run; the service never
    turns them off.

    - document_caches: Strawberry's ParserCache and ValidationCache (a repeated document is
      parsed and validated once).
    - batch_loads: DataLoaders batch every key of one tick into one query (off: one query
      per key, the N+1 pattern).
    - preload_page: `certificates` loads the page's reissues in progress and eligibility
      itself, before its fields resolve, so status/activeReissue/reissueEligibility return
      plain data without awaiting (off: each field awaits its DataLoader).
    """

    document_caches: bool = True
    batch_loads: bool = True
    preload_page: bool = True


NOT_LOADED: Any = object()
"""What `Context.loaded_*` answer when the value is not in the request's DataLoader yet."""


def _loaded(loader: DataLoader, key: Any) -> Any:
    future = loader.cache_map.get(key)
    if future is None or not future.done() or future.cancelled() or future.exception() is not None:
        return NOT_LOADED
    return future.result()


@dataclass
class Context:
    services: Services
    caller: Caller
    tuning: Tuning = field(default_factory=Tuning)
    response: Any = None  # over HTTP, Strawberry's sub-response: its status and headers are sent (a 429)
    updates: Any = None  # in a subscription, its resolvers.subscriptions.Updates (the transport may ask it to read again)
    subscription_budget: Any = None  # in a subscription: claim(units) -> bool, its account's share (graphql_ws.py)
    base_url: str = ""  # the service's URL as the client reached it (or CERTS_PUBLIC_URL): download URLs
    certificate_loader: DataLoader[str, Certificate | None] = field(init=False)
    reissue_loader: DataLoader[str, Reissue | None] = field(init=False)
    domain_active_loader: DataLoader[tuple[str, str], list[Reissue]] = field(init=False)
    eligibility_loader: DataLoader[Certificate, Eligibility] = field(init=False)
    certificate_reissues_loader: DataLoader[tuple, Page] = field(init=False)
    auto_validation_loader: DataLoader[tuple[str, str], bool] = field(init=False)

    def __post_init__(self) -> None:
        self.forget_loaded()

    def forget_loaded(self) -> None:
        """New, empty DataLoaders: a subscription's next message reads everything afresh."""

        async def load_certificates(ids: list[str]) -> list[Certificate | None]:
            found = await self.services.certificates.get_many(self.caller, ids)
            return [found.get(i) for i in ids]

        async def load_reissues(ids: list[str]) -> list[Reissue | None]:
            found = await self.services.reissues.get_many(self.caller, ids)
            return [found.get(i) for i in ids]

        async def load_domain_actives(keys: list[tuple[str, str]]) -> list[list[Reissue]]:
            # key: (account, primary domain) of a certificate the caller was allowed to see;
            # one read per account (one for an account token).
            found: dict[tuple[str, str], list[Reissue]] = {}
            for account in sorted({a for a, _ in keys}):
                domains = sorted({d for a, d in keys if a == account})
                by_domain = await self.services.reissues.active_in_domains(account, domains)
                found.update({(account, d): v for d, v in by_domain.items()})
            return [found.get(k, []) for k in keys]

        async def load_eligibility(certificates: list[Certificate]) -> list[Eligibility]:
            keys = sorted({(c.account, c.primary_domain) for c in certificates})
            actives = dict(zip(keys, await self.domain_active_loader.load_many(keys)))
            found = await self.services.reissues.eligibility_many(self.caller, certificates, domain_actives=actives)
            return [found[c.id] for c in certificates]

        async def load_certificate_reissues(keys: list[tuple]) -> list[Page]:
            # key: (account, certificate ID, first, after, with_total); one read per distinct
            # (account, first, after, with_total), i.e. one for a page of certificates.
            groups: dict[tuple, list[str]] = {}
            for account, cid, *args in keys:
                groups.setdefault((account, *args), []).append(cid)
            pages: dict[tuple, Page | BaseException] = {}
            for (account, first, after, with_total), ids in groups.items():
                try:
                    found = await self.services.reissues.list_by_certificates(
                        account, ids, first=first, after=after, with_total=with_total
                    )
                except Exception as error:  # noqa: BLE001 - this group's fields fail, not the batch's
                    found = dict.fromkeys(ids, error)
                for cid in ids:
                    pages[(account, cid, first, after, with_total)] = found[cid]
            return [pages[key] for key in keys]

        async def load_auto_validation(keys: list[tuple[str, str]]) -> list[bool]:
            # key: (account, domain) of a certificate the caller was allowed to see (R18);
            # the account's providers are read once per account.
            return await self.services.reissues.auto_validation_configured_many(keys)

        batch = None if self.tuning.batch_loads else 1
        self.auto_validation_loader = DataLoader(load_fn=load_auto_validation, max_batch_size=batch)
        self.certificate_loader = DataLoader(load_fn=load_certificates, max_batch_size=batch)
        self.eligibility_loader = DataLoader(load_fn=load_eligibility, cache_key_fn=lambda c: c.id, max_batch_size=batch)
        self.reissue_loader = DataLoader(load_fn=load_reissues, max_batch_size=batch)
        self.domain_active_loader = DataLoader(load_fn=load_domain_actives, max_batch_size=batch)
        self.certificate_reissues_loader = DataLoader(load_fn=load_certificate_reissues, max_batch_size=batch)

    async def preload(self, certificates: list[Certificate], *, actives: bool, eligibility: bool) -> None:
        """Fills the DataLoaders for a page before its fields resolve (Tuning.preload_page):
        the same queries the fields would batch, issued once, so the fields answer from memory."""
        try:
            if eligibility:
                await self.eligibility_loader.load_many(certificates)  # loads the domains' actives too
            elif actives:
                await self.domain_active_loader.load_many(sorted({(c.account, c.primary_domain) for c in certificates}))
        except Exception:  # noqa: BLE001 - the failed loads stay cached: each field raises it on its
            pass  # own path (a nullable activeReissue becomes null with its error), as without a preload

    def loaded_active_reissue(self, certificate: Certificate) -> Reissue | None:
        """`active_reissue` when its primary domain is loaded already, else NOT_LOADED."""
        actives = _loaded(self.domain_active_loader, (certificate.account, certificate.primary_domain))
        if actives is NOT_LOADED:
            return NOT_LOADED
        return next((r for r in actives if r.certificate_id == certificate.id), None)

    def loaded_eligibility(self, certificate: Certificate) -> Eligibility:
        """The certificate's eligibility when loaded already, else NOT_LOADED."""
        return _loaded(self.eligibility_loader, certificate)

    async def active_reissue(self, certificate: Certificate) -> Reissue | None:
        """R4: the certificate's reissue in progress, from its primary domain's (one read
        per request for all certificates on a page)."""
        actives = await self.domain_active_loader.load((certificate.account, certificate.primary_domain))
        return next((r for r in actives if r.certificate_id == certificate.id), None)

    @property
    def now(self):
        return self.services.clock.now()
