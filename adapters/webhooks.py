"""Webhooks in MongoDB (endpoints, deliveries, attempt slots, thresholds, leases) and their
delivery over HTTP: signed with the `standardwebhooks` package, to an address resolved and
checked at that moment (the rules of file validation, R21), no redirects followed.

Collections: webhook_endpoints, webhook_deliveries, webhook_attempts (one unique slot per
delivery attempt), webhook_settings (per-account expiry thresholds), webhook_leases.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime

import dns.exception
import httpx
from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError
from standardwebhooks import Webhook

from adapters.mongo import Database, claim_leased_slot
from adapters.mongo_reissues import reissue_from_doc
from adapters.validation import is_public_address, make_resolver
from domain.model import Page
from domain.pagination import decode_cursor
from domain.ports import ExpiringVersion, SealedSecret, WebhookSender, WebhookStore
from domain.webhooks import (
    CERTIFICATE_EXPIRING,
    DELIVERY_ID_PREFIX,
    ENDPOINT_ID_PREFIX,
    Attempt,
    Delivery,
    DeliveryStatus,
    Endpoint,
    EndpointUrl,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EXCERPT_BYTES = 256  # of a response body, kept with its attempt
USER_AGENT = "certreissue-webhooks/1"


async def ensure_webhook_indexes(database: Database) -> None:
    db = database.db
    await db.reissues.create_index([("outboxPending", ASCENDING)], name="outbox_pending")
    await db.webhook_endpoints.create_index([("account", ASCENDING), ("_id", DESCENDING)], name="account_id")
    await db.webhook_endpoints.create_index([("events", ASCENDING)], name="events")
    await db.webhook_endpoints.create_index([("account", ASCENDING), ("slot", ASCENDING)], name="account_slot",
                                            unique=True)
    await db.webhook_deliveries.create_index([("status", ASCENDING), ("nextAttemptAt", ASCENDING)], name="due")
    await db.webhook_deliveries.create_index([("account", ASCENDING), ("_id", DESCENDING)], name="account_id")
    await db.webhook_deliveries.create_index([("status", ASCENDING), ("createdAt", ASCENDING)], name="purge")
    await db.webhook_deliveries.create_index(
        [("account", ASCENDING), ("endpointId", ASCENDING), ("_id", DESCENDING)], name="account_endpoint_id"
    )


def _endpoint_from_doc(d: dict) -> Endpoint:
    return Endpoint(d["_id"], d["account"], d["url"], tuple(d["events"]), _utc(d["createdAt"]),
                    _utc(d.get("secretRotatedAt")))


def _secrets_from_doc(d: dict) -> list[SealedSecret]:
    return [SealedSecret(bytes(s["sealed"]), _utc(s["createdAt"]), _utc(s.get("retiresAt")))
            for s in d.get("secrets") or ()]


def _secret_to_doc(s: SealedSecret) -> dict:
    return {"sealed": s.sealed, "createdAt": s.created_at, "retiresAt": s.retires_at}


def _utc(at: datetime | None) -> datetime | None:
    if at is None:
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _attempt_to_doc(a: Attempt) -> dict:
    return {"at": a.at, "statusCode": a.status_code, "latencyMs": a.latency_ms, "error": a.error,
            "responseExcerpt": a.response_excerpt}


def _attempt_from_doc(d: dict) -> Attempt:
    return Attempt(_utc(d["at"]), d.get("statusCode"), float(d.get("latencyMs") or 0.0), d.get("error"),
                   d.get("responseExcerpt"))


def _delivery_from_doc(d: dict) -> Delivery:
    return Delivery(
        id=d["_id"], endpoint_id=d["endpointId"], account=d["account"], event_id=d["eventId"],
        event_type=d["eventType"], body=d["body"], created_at=_utc(d["createdAt"]),
        status=DeliveryStatus(d["status"]), next_attempt_at=_utc(d.get("nextAttemptAt")),
        attempts=tuple(_attempt_from_doc(a) for a in d.get("attempts") or ()),
        retry_from=_utc(d.get("retryFrom")),
    )


class MongoWebhookStore(WebhookStore):
    def __init__(self, database: Database) -> None:
        db = database.db
        self._reissues = db.reissues
        self._certificates = db.certificates
        self._endpoints = db.webhook_endpoints
        self._deliveries = db.webhook_deliveries
        self._attempts = db.webhook_attempts
        self._settings = db.webhook_settings
        self._leases = db.webhook_leases

    def new_endpoint_id(self) -> str:
        return ENDPOINT_ID_PREFIX + str(ObjectId())

    async def insert_endpoint(self, endpoint: Endpoint, secrets: Sequence[SealedSecret], *, limit: int) -> bool:
        """Each endpoint holds one of its account's `limit` slots, unique by index: the free
        ones are tried in order and the first insert that is not a duplicate key wins. No
        count then insert, no transaction, no conditional update (FerretDB has neither)."""
        doc = {
            "_id": endpoint.id, "account": endpoint.account, "url": endpoint.url, "events": list(endpoint.events),
            "createdAt": endpoint.created_at, "secretRotatedAt": None,
            "secrets": [_secret_to_doc(s) for s in secrets],
        }
        taken = {d.get("slot") for d in await self._endpoints.find({"account": endpoint.account},
                                                                    {"slot": 1}).to_list()}
        for slot in range(limit):
            if slot in taken:
                continue
            try:
                await self._endpoints.insert_one({**doc, "slot": slot})
            except DuplicateKeyError:
                continue  # taken since the read
            return True
        return False

    async def endpoint(self, endpoint_id: str, account: str | None):
        doc = await self._endpoints.find_one({"_id": endpoint_id})
        if doc is None or (account is not None and doc["account"] != account):
            return None
        return _endpoint_from_doc(doc), _secrets_from_doc(doc)

    async def endpoints_of(self, account: str) -> list[Endpoint]:
        docs = await self._endpoints.find({"account": account}).to_list()
        return [_endpoint_from_doc(d) for d in docs]

    async def list_endpoints(self, account: str, *, first: int, after: str | None) -> Page:
        query: dict = {"account": account}
        total = await self._endpoints.count_documents(query)
        if after:
            query["_id"] = {"$lt": decode_cursor(after, field=["after"], prefix=ENDPOINT_ID_PREFIX)}
        docs = await self._endpoints.find(query).sort("_id", DESCENDING).limit(first + 1).to_list()
        return Page([_endpoint_from_doc(d) for d in docs[:first]], len(docs) > first, total)

    async def delete_endpoint(self, endpoint_id: str, account: str) -> bool:
        result = await self._endpoints.delete_one({"_id": endpoint_id, "account": account})
        return result.deleted_count == 1

    async def replace_secrets(self, endpoint_id: str, account: str, secrets: Sequence[SealedSecret],
                              rotated_at: datetime, *, previous_rotation: datetime | None) -> bool:
        result = await self._endpoints.update_one(
            {"_id": endpoint_id, "account": account, "secretRotatedAt": previous_rotation},
            {"$set": {"secrets": [_secret_to_doc(s) for s in secrets], "secretRotatedAt": rotated_at}},
        )
        return result.matched_count == 1

    # -- the outbox ---------------------------------------------------------------------

    async def outbox(self, limit: int) -> list[tuple]:
        docs = await self._reissues.find({"outboxPending": True}).limit(limit).to_list()
        return [(reissue_from_doc(d), int(d["seq"])) for d in docs]

    async def relayed(self, reissue_id: str, seq: int) -> None:
        await self._reissues.update_one(
            {"_id": reissue_id, "seq": seq, "outboxPending": True}, {"$set": {"outboxPending": False}}
        )
        # Where a conditional update is a find and then a write (FerretDB), a newer version
        # written in between can have lost its flag to this clear: read back, and set it again.
        now = await self._reissues.find_one({"_id": reissue_id}, {"seq": 1, "outboxPending": 1})
        if now is not None and int(now["seq"]) != seq and not now.get("outboxPending"):
            await self._reissues.update_one({"_id": reissue_id}, {"$set": {"outboxPending": True}})

    async def add_delivery(self, delivery: Delivery) -> bool:
        try:
            await self._deliveries.insert_one({
                "_id": delivery.id, "endpointId": delivery.endpoint_id, "account": delivery.account,
                "eventId": delivery.event_id, "eventType": delivery.event_type, "body": delivery.body,
                "createdAt": delivery.created_at, "status": delivery.status.value,
                "nextAttemptAt": delivery.next_attempt_at, "leaseUntil": EPOCH, "holder": None,
                "attempts": [], "attemptCount": 0,
            })
        except DuplicateKeyError:
            return False
        return True

    # -- delivery ---------------------------------------------------------------------

    async def claim_due(self, now: datetime, holder: str, lease_until: datetime) -> Delivery | None:
        doc = await self._deliveries.find_one_and_update(
            {"status": DeliveryStatus.PENDING.value, "nextAttemptAt": {"$lte": now}, "leaseUntil": {"$lte": now}},
            {"$set": {"leaseUntil": lease_until, "holder": holder}},
            sort=[("nextAttemptAt", ASCENDING)],
            return_document=ReturnDocument.AFTER,
        )
        return _delivery_from_doc(doc) if doc else None

    async def claim_attempt(self, delivery_id: str, number: int, holder: str, now: datetime,
                            until: datetime) -> bool:
        # The unique slot, not the lease, decides (FerretDB's findAndModify is not atomic); a
        # live slot is refused to this process too: never the same attempt twice.
        return await claim_leased_slot(self._attempts, f"{delivery_id}#{number}", holder, now, until)

    async def release_attempt(self, delivery_id: str, number: int, holder: str) -> None:
        await self._attempts.delete_one({"_id": f"{delivery_id}#{number}", "holder": holder})

    async def record_attempt(self, delivery_id: str, number: int, attempt: Attempt, status: str,
                             next_attempt_at: datetime | None) -> None:
        # Recorded once per attempt number (a second record of the same one matches nothing).
        await self._deliveries.update_one(
            {"_id": delivery_id, "attemptCount": number - 1},
            {
                "$push": {"attempts": _attempt_to_doc(attempt)},
                "$set": {"attemptCount": number, "status": status, "nextAttemptAt": next_attempt_at,
                         "leaseUntil": EPOCH, "holder": None},
            },
        )
        await self._attempts.delete_one({"_id": f"{delivery_id}#{number}"})

    async def delivery(self, delivery_id: str, account: str) -> Delivery | None:
        doc = await self._deliveries.find_one({"_id": delivery_id, "account": account})
        return _delivery_from_doc(doc) if doc else None

    async def redeliver(self, delivery_id: str, account: str, now: datetime) -> Delivery | None:
        # Only while not leased: an attempt in flight keeps its lease until it is recorded,
        # and is not disturbed. The next attempt takes the next slot (attemptCount + 1), so
        # the lease and the unique slot keep any two processes from posting the same one.
        doc = await self._deliveries.find_one_and_update(
            {"_id": delivery_id, "account": account, "leaseUntil": {"$lte": now}},
            {"$set": {"status": DeliveryStatus.PENDING.value, "nextAttemptAt": now, "retryFrom": now}},
            return_document=ReturnDocument.AFTER,
        )
        return _delivery_from_doc(doc) if doc else None

    async def list_deliveries(self, account: str, *, endpoint_id: str | None, status: str | None,
                              first: int, after: str | None, with_total: bool = True) -> Page:
        query: dict = {"account": account}
        if endpoint_id is not None:
            query["endpointId"] = endpoint_id
        if status is not None:
            query["status"] = status
        total = await self._deliveries.count_documents(query) if with_total else None
        if after:
            query["_id"] = {"$lt": decode_cursor(after, field=["after"], prefix=DELIVERY_ID_PREFIX)}
        docs = await self._deliveries.find(query).sort("_id", DESCENDING).limit(first + 1).to_list()
        return Page([_delivery_from_doc(d) for d in docs[:first]], len(docs) > first, total)

    async def purge_deliveries(self, created_before: datetime) -> int:
        result = await self._deliveries.delete_many({
            "status": {"$in": [DeliveryStatus.DELIVERED.value, DeliveryStatus.FAILED.value]},
            "createdAt": {"$lt": created_before},
        })
        return result.deleted_count

    # -- expiry ------------------------------------------------------------------------

    async def thresholds(self, account: str) -> tuple[int, ...] | None:
        doc = await self._settings.find_one({"_id": account})
        return tuple(doc["expiryThresholds"]) if doc and doc.get("expiryThresholds") else None

    async def set_thresholds(self, account: str, thresholds: Sequence[int], at: datetime) -> None:
        await self._settings.update_one(
            {"_id": account}, {"$set": {"expiryThresholds": list(thresholds), "updatedAt": at}}, upsert=True
        )

    async def expiry_subscribers(self) -> list[str]:
        docs = await self._endpoints.find(
            {"events": CERTIFICATE_EXPIRING}, {"account": 1}
        ).to_list()
        return sorted({d["account"] for d in docs})

    async def expiring(self, account: str, before: datetime, after: datetime, limit: int,
                       *, after_key: tuple[datetime, str] | None = None) -> list[ExpiringVersion]:
        query: dict = {"account": account, "status": "ISSUED", "notAfter": {"$gt": after, "$lte": before}}
        if after_key is not None:  # keyset: past (notAfter, _id) of the last one read
            query["$or"] = [{"notAfter": {"$gt": after_key[0]}}, {"notAfter": after_key[0], "_id": {"$gt": after_key[1]}}]
        docs = await self._certificates.find(
            query, {"domain": 1, "serialNumber": 1, "notAfter": 1, "account": 1},
        ).sort([("notAfter", ASCENDING), ("_id", ASCENDING)]).limit(limit).to_list()
        return [ExpiringVersion(d["account"], d["_id"], d["domain"], d["serialNumber"], _utc(d["notAfter"]))
                for d in docs]

    async def take_lease(self, name: str, holder: str, now: datetime, until: datetime) -> bool:
        try:
            await self._leases.insert_one({"_id": name, "holder": holder, "until": until})
            return True
        except DuplicateKeyError:
            pass
        doc = await self._leases.find_one_and_update(
            {"_id": name, "$or": [{"until": {"$lte": now}}, {"holder": holder}]},
            {"$set": {"holder": holder, "until": until}},
            return_document=ReturnDocument.AFTER,
        )
        return doc is not None and doc["holder"] == holder


class HttpWebhookSender(WebhookSender):
    """POSTs to the address it resolved and checked itself (a host name is resolved here,
    every address checked, and the connection made to a checked one, so a second answer from
    DNS cannot move it: rebinding); https keeps the name for SNI and the certificate check.
    No redirect is followed; the answer is read up to EXCERPT_BYTES."""

    def __init__(self, nameservers: tuple[str, ...] = (), *, timeout: float = 10.0,
                 allow_private: bool = False, verify: bool | str = True) -> None:
        self._resolver = make_resolver(nameservers, min(timeout, 5.0))
        self._timeout = timeout
        self._allow_private = allow_private
        self._verify = verify

    async def _addresses(self, url: EndpointUrl) -> list[str]:
        if url.is_address:
            return [url.host]
        found: list[str] = []
        for rdtype in ("A", "AAAA"):
            try:
                answer = await self._resolver.resolve(url.host, rdtype)
            except dns.exception.DNSException:
                continue
            found.extend(r.to_text() for r in answer)
        return found

    async def _checked_address(self, url: EndpointUrl) -> tuple[str | None, str | None]:
        addresses = await self._addresses(url)
        if not addresses:
            return None, f"{url.host} has no A or AAAA record"
        if not self._allow_private:
            private = [a for a in addresses if not is_public_address(a)]
            if private:
                return None, f"{url.host} resolves to {private[0]}, which is not a public address"
        return addresses[0], None

    async def check(self, url: EndpointUrl) -> str | None:
        return (await self._checked_address(url))[1]

    async def post(self, url: EndpointUrl, *, message_id: str, body: str, secrets: Sequence[str],
                   timestamp: datetime) -> Attempt:
        started = time.perf_counter()

        def attempt(status: int | None, error: str | None = None, excerpt: str | None = None) -> Attempt:
            latency = round((time.perf_counter() - started) * 1000, 1)
            return Attempt(timestamp, status, latency, error, excerpt)

        address, refusal = await self._checked_address(url)
        if address is None:
            return attempt(None, f"refused: {refusal}")
        signatures = " ".join(Webhook(s).sign(message_id, timestamp, body) for s in secrets)
        literal = f"[{address}]" if ":" in address else address
        host = f"[{url.host}]" if ":" in url.host else url.host
        default_port = 443 if url.scheme == "https" else 80
        extensions: dict = {"timeout": httpx.Timeout(self._timeout).as_dict()}
        if url.scheme == "https" and not url.is_address:
            extensions["sni_hostname"] = url.host
        request = httpx.Request(
            "POST", f"{url.scheme}://{literal}:{url.port}{url.target}", content=body.encode(),
            headers={
                "Host": host if url.port == default_port else f"{host}:{url.port}",
                "Content-Type": "application/json", "User-Agent": USER_AGENT,
                "webhook-id": message_id, "webhook-timestamp": str(int(timestamp.timestamp())),
                "webhook-signature": signatures,
            },
            extensions=extensions,
        )
        try:
            async with httpx.AsyncHTTPTransport(retries=0, verify=self._verify) as transport:
                async with asyncio.timeout(self._timeout):
                    response = await transport.handle_async_request(request)
                    try:
                        excerpt = bytearray()
                        async for chunk in response.aiter_bytes():
                            excerpt.extend(chunk)
                            if len(excerpt) >= EXCERPT_BYTES:
                                break
                    finally:
                        await response.aclose()
        except (TimeoutError, httpx.TimeoutException):
            return attempt(None, f"timeout: no answer within {self._timeout:g} s")
        except (httpx.HTTPError, OSError, ValueError) as exc:
            return attempt(None, f"connection failed ({type(exc).__name__})")
        text = bytes(excerpt[:EXCERPT_BYTES]).decode("utf-8", "replace")
        error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
        if 300 <= response.status_code < 400:
            error += " (redirects are not followed)"
        return attempt(response.status_code, error, text or None)
