"""Webhook use cases: endpoints (owner mutates, owner and viewer read, R26), the outbox
relay, delivery with retries, and the certificate.expiring sweep."""

from __future__ import annotations

import asyncio
import base64
import random
import secrets as secrets_module
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from domain.certificates import require_account, require_role
from domain.errors import ErrorCode, InvalidInput, NotFound
from domain.model import Caller, Page, Role
from domain.ports import Clock, KeySealer, SealedSecret, WebhookSender, WebhookStore
from domain.webhooks import (
    CERTIFICATE_EXPIRING,
    DEFAULT_EXPIRY_THRESHOLDS,
    MAX_ENDPOINTS_PER_ACCOUNT,
    SECRET_OVERLAP,
    Attempt,
    Delivery,
    DeliveryStatus,
    Endpoint,
    RetryPolicy,
    check_event_types,
    check_thresholds,
    delivery_id,
    due_threshold,
    expiry_event,
    next_attempt,
    parse_endpoint_url,
    reissue_events,
    retry_window,
    subscribed,
)

ROTATION_TRIES = 20  # a rotation that lost a race reads again, this many times at most
LEASE = timedelta(seconds=60)  # a delivery's claim; far above the delivery timeout
# How long redeliverWebhook waits for an attempt in flight to be recorded before it refuses.
REDELIVER_WAIT = 2.0
# Finished deliveries are kept this long (webhookDeliveries shows them). A reissue's events
# are relayed again only while it changes, within its lifetime (R24), far shorter: a purged
# delivery is never made again.
DELIVERY_RETENTION = timedelta(days=30)


def _context(endpoint_id: str) -> str:
    return f"webhook-secret:{endpoint_id}"


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets_module.token_bytes(32)).decode()


def _page_size(first: int) -> int:
    if first < 0:
        raise InvalidInput("first must not be negative", field=["first"])
    return min(first, 100)


class WebhookService:
    def __init__(
        self,
        store: WebhookStore,
        sender: WebhookSender,
        sealer: KeySealer,
        clock: Clock,
        *,
        policy: RetryPolicy = RetryPolicy(),
        jitter: Callable[[], float] = random.random,
        holder: str | None = None,
    ) -> None:
        self._store = store
        self._sender = sender
        self._sealer = sealer
        self._clock = clock
        self._policy = policy
        self._jitter = jitter
        self.holder = holder or "p" + secrets_module.token_hex(8)

    # -- endpoints ------------------------------------------------------------------

    async def create_endpoint(self, caller: Caller, url: str, events: Sequence[str]) -> tuple[Endpoint, str]:
        require_role(caller, Role.OWNER)
        account = require_account(caller, "webhook endpoints")
        target = parse_endpoint_url(url)
        kinds = check_event_types(events)
        refusal = await self._sender.check(target)
        if refusal is not None:
            raise InvalidInput(f"url refused: {refusal}", field=["input", "url"])
        now = self._clock.now()
        endpoint = Endpoint(self._store.new_endpoint_id(), account, url, kinds, now)
        secret = new_secret()
        sealed = SealedSecret(self._sealer.seal(secret.encode(), context=_context(endpoint.id)), now)
        if not await self._store.insert_endpoint(endpoint, [sealed], limit=MAX_ENDPOINTS_PER_ACCOUNT):
            raise InvalidInput(f"an account has at most {MAX_ENDPOINTS_PER_ACCOUNT} webhook endpoints",
                               field=["input", "url"])
        return endpoint, secret

    async def _own(self, caller: Caller, endpoint_id: str, field: list[str]) -> tuple:
        require_role(caller, Role.OWNER)
        account = require_account(caller, "webhook endpoints")
        found = await self._store.endpoint(endpoint_id, account)
        if found is None:
            raise NotFound("no such webhook endpoint", field=field)
        return found

    async def delete_endpoint(self, caller: Caller, endpoint_id: str) -> Endpoint:
        endpoint, _ = await self._own(caller, endpoint_id, ["input", "endpointId"])
        if not await self._store.delete_endpoint(endpoint.id, endpoint.account):
            raise NotFound("no such webhook endpoint", field=["input", "endpointId"])
        return endpoint

    async def rotate_secret(self, caller: Caller, endpoint_id: str) -> tuple[Endpoint, str]:
        """A new secret; the one it replaces keeps signing too for SECRET_OVERLAP so receivers
        can roll over (two signatures in webhook-signature). A secret that was retiring
        already goes at once, so rotating again retires a leaked secret now: at most two."""
        # Compare and set on the time of the last rotation: a rotation that lost a race reads
        # again and replaces the winner's secret, so rotations are serial (a lost one would
        # keep the leaked secret signing, and hand out one that never signs).
        for _ in range(ROTATION_TRIES):
            endpoint, current = await self._own(caller, endpoint_id, ["input", "endpointId"])
            now = self._clock.now()
            now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # as the database keeps it
            if endpoint.secret_rotated_at is not None and now <= endpoint.secret_rotated_at:
                now = endpoint.secret_rotated_at + timedelta(milliseconds=1)  # the version always moves
            replaced = [s for s in current if s.retires_at is None][:1]
            kept = [SealedSecret(s.sealed, s.created_at, now + SECRET_OVERLAP) for s in replaced]
            secret = new_secret()
            fresh = SealedSecret(self._sealer.seal(secret.encode(), context=_context(endpoint.id)), now)
            if await self._store.replace_secrets(endpoint.id, endpoint.account, [fresh, *kept], now,
                                                 previous_rotation=endpoint.secret_rotated_at):
                return Endpoint(endpoint.id, endpoint.account, endpoint.url, endpoint.events, endpoint.created_at,
                                now), secret
        raise InvalidInput("other rotations of this endpoint's secret keep landing at the same time: rotate again",
                           code=ErrorCode.INVALID_STATE, field=["input", "endpointId"])

    async def list_endpoints(self, caller: Caller, *, first: int, after: str | None) -> Page:
        account = require_account(caller, "webhookEndpoints")
        return await self._store.list_endpoints(account, first=_page_size(first), after=after)

    async def deliveries(
        self, caller: Caller, *, endpoint_id: str | None, status: DeliveryStatus | None, first: int,
        after: str | None, with_total: bool = True,
    ) -> Page:
        account = require_account(caller, "webhookDeliveries")
        return await self._store.list_deliveries(
            account, endpoint_id=endpoint_id, status=status.value if status else None, first=_page_size(first),
            after=after, with_total=with_total,
        )

    async def redeliver(self, caller: Caller, delivery_id: str) -> Delivery:
        """Sends a delivery again (FAILED, DELIVERED, or PENDING without waiting for its
        backoff): PENDING, due now, with a fresh retry window from now; the same event ID and
        body, its attempts kept. An attempt in flight is waited for briefly, never disturbed."""
        require_role(caller, Role.OWNER)
        account = require_account(caller, "webhook deliveries")
        field = ["input", "deliveryId"]
        found = await self._store.delivery(delivery_id, account)
        if found is None:
            raise NotFound("no such webhook delivery", field=field)
        if await self._store.endpoint(found.endpoint_id, account) is None:
            raise InvalidInput("the delivery's endpoint was deleted: it cannot be sent again",
                               code=ErrorCode.INVALID_STATE, field=field)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + REDELIVER_WAIT
        while True:
            again = await self._store.redeliver(found.id, account, self._clock.now())
            if again is not None:
                return again
            if await self._store.delivery(found.id, account) is None:
                raise NotFound("no such webhook delivery", field=field)  # purged meanwhile
            if loop.time() >= deadline:
                raise InvalidInput("an attempt of this delivery is being made now: see its result, and "
                                   "redeliver it again if needed", code=ErrorCode.INVALID_STATE, field=field)
            await asyncio.sleep(0.1)

    async def expiry_thresholds(self, caller: Caller) -> tuple[int, ...]:
        account = require_account(caller, "expiryNotificationThresholds")
        return await self._store.thresholds(account) or DEFAULT_EXPIRY_THRESHOLDS

    async def set_expiry_thresholds(self, caller: Caller, thresholds: Sequence[int]) -> tuple[int, ...]:
        require_role(caller, Role.OWNER)
        account = require_account(caller, "expiry thresholds")
        chosen = check_thresholds(thresholds)
        await self._store.set_thresholds(account, chosen, self._clock.now())
        return chosen

    # -- the outbox relay -------------------------------------------------------------------

    async def relay(self, limit: int = 100) -> int:
        """Turns committed reissue changes into deliveries. Every reissue document is written
        with its outbox flag set, in the same write as its events (R25); here each of its
        events becomes one delivery per endpoint of the account that existed then and is
        subscribed, under a deterministic ID (a second relay, or one after a crash, makes
        nothing twice), and only then is the flag cleared, if no change landed meanwhile."""
        made = 0
        endpoints_by_account: dict[str, list[Endpoint]] = {}
        now = self._clock.now()
        for reissue, seq in await self._store.outbox(limit):
            if reissue.account not in endpoints_by_account:
                endpoints_by_account[reissue.account] = await self._store.endpoints_of(reissue.account)
            endpoints = endpoints_by_account[reissue.account]
            for event in reissue_events(reissue) if endpoints else ():
                for endpoint in endpoints:
                    if endpoint.created_at <= event.at and subscribed(endpoint.events, event.type, event.also):
                        made += await self._add(endpoint, event, now)
            await self._store.relayed(reissue.id, seq)
        return made

    async def _add(self, endpoint: Endpoint, event, now: datetime) -> int:
        delivery = Delivery(
            id=delivery_id(endpoint.id, event.id, event.at), endpoint_id=endpoint.id, account=endpoint.account,
            event_id=event.id, event_type=event.type, body=event.body, created_at=now,
            status=DeliveryStatus.PENDING, next_attempt_at=now,
        )
        return int(await self._store.add_delivery(delivery))

    # -- delivery ---------------------------------------------------------------------

    async def deliver_due(self, limit: int = 20) -> int:
        """Posts up to `limit` due deliveries, one at a time; each is leased to this process
        while it runs (a dead process's lease expires) and each attempt has a unique slot,
        so no two processes post the same attempt."""
        claimed = []
        while len(claimed) < limit:
            now = self._clock.now()
            delivery = await self._store.claim_due(now, self.holder, now + LEASE)
            if delivery is None:
                break
            claimed.append(delivery)
        # Side by side: one slow receiver (up to its timeout) holds back no other delivery.
        await asyncio.gather(*(self._attempt(d) for d in claimed))
        return len(claimed)

    async def _attempt(self, delivery: Delivery) -> None:
        number = len(delivery.attempts) + 1
        now = self._clock.now()
        if not await self._store.claim_attempt(delivery.id, number, self.holder, now, now + LEASE):
            return
        # The slot is freed once its attempt is recorded: a copy read before that (a claim
        # that is a find and then a write, as on FerretDB) would take it again. Read again.
        fresh = await self._store.delivery(delivery.id, delivery.account)
        if fresh is None or fresh.status != DeliveryStatus.PENDING or len(fresh.attempts) >= number:
            await self._store.release_attempt(delivery.id, number, self.holder)
            return
        found = await self._store.endpoint(delivery.endpoint_id, delivery.account)
        if found is None:
            gone = Attempt(now, None, 0.0, "the endpoint was deleted; not sent")
            await self._store.record_attempt(delivery.id, number, gone, DeliveryStatus.FAILED.value, None)
            return
        endpoint, sealed = found
        live = [s for s in sealed if s.retires_at is None or s.retires_at > now]
        keys = [self._sealer.open(s.sealed, context=_context(endpoint.id)).decode() for s in live]
        attempt = await self._sender.post(
            parse_endpoint_url(endpoint.url), message_id=delivery.event_id, body=delivery.body, secrets=keys,
            timestamp=self._clock.now(),
        )
        if attempt.succeeded:
            status, following = DeliveryStatus.DELIVERED, None
        else:
            start, failures = retry_window(delivery.attempts, delivery.retry_from, attempt.at)
            following = next_attempt(self._policy, failures, start, attempt.at, self._jitter())
            status = DeliveryStatus.PENDING if following else DeliveryStatus.FAILED
        await self._store.record_attempt(delivery.id, number, attempt, status.value, following)

    async def purge(self) -> int:
        return await self._store.purge_deliveries(self._clock.now() - DELIVERY_RETENTION)

    # -- certificate.expiring -----------------------------------------------------------

    async def expiry_sweep(self, lease: timedelta = timedelta(seconds=15), limit: int = 500) -> int | None:
        """certificate.expiring at each account's thresholds, once per version (serial) and
        threshold: one process at a time holds the sweep's lease (for `lease`, the sweep's
        interval; it lapses if its holder dies), and the event and delivery IDs are
        deterministic besides, so two sweeps never send twice. Only the most urgent
        threshold crossed is sent (a service that was down sends no burst)."""
        now = self._clock.now()
        if not await self._store.take_lease("expiry-sweep", self.holder, now, now + lease):
            return None  # another process is sweeping
        made = 0
        for account in await self._store.expiry_subscribers():
            thresholds = await self._store.thresholds(account) or DEFAULT_EXPIRY_THRESHOLDS
            endpoints = [e for e in await self._store.endpoints_of(account)
                         if subscribed(e.events, CERTIFICATE_EXPIRING)]
            horizon = now + timedelta(days=max(thresholds))
            for version in await self._expiring(account, horizon, now, limit):
                threshold = due_threshold(version.not_after, now, thresholds)
                if threshold is None:
                    continue
                event = expiry_event(account, version.certificate_id, version.domain, version.serial_number,
                                     version.not_after, threshold, now)
                for endpoint in endpoints:
                    made += await self._add(endpoint, event, now)
        return made

    async def _expiring(self, account: str, horizon: datetime, now: datetime, batch: int) -> list:
        """Every version of the account ending within the horizon, read in batches (soonest first)."""
        found, after = [], None
        while True:
            page = await self._store.expiring(account, horizon, now, batch, after_key=after)
            found += page
            if len(page) < batch:
                return found
            after = (page[-1].not_after, page[-1].certificate_id)
