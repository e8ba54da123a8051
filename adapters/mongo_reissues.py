"""Reissues, locks, idempotency keys and domain verifications in MongoDB.

Every mutual exclusion is a unique-key insert (OPERATIONS.md: FerretDB's findAndModify
is not atomic): locks on the unique `key` field, status changes on the `_id` of the
reissue's next event slot in `reissue_transitions`, reminders likewise.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING
from pymongo.errors import DuplicateKeyError

from adapters.mongo import Database, _version_from_doc, _version_to_doc, claim_leased_slot
from domain.model import KeyAlgorithm, Page, PrivateKeyStorage, StoredPrivateKey, ValidationMethod
from domain.pagination import decode_cursor
from domain.ports import (
    ConcurrentChange,
    IdempotencyRecord,
    IdempotencyStore,
    LockRecord,
    LockStore,
    ReissueRepository,
    VerificationLog,
)
from domain.reissues import (
    ACTIVE_STATUSES,
    CsrSource,
    DomainValidation,
    DomainValidationStatus,
    Reissue,
    ReissueEvent,
    ReissueFlow,
    ReissueStatus,
    Waiver,
)

REISSUE_ID_PREFIX = "rei_"
ACTIVE = [s.value for s in ACTIVE_STATUSES]


async def ensure_reissue_indexes(database: Database) -> None:
    db = database.db
    await db.reissues.create_index([("account", ASCENDING), ("_id", DESCENDING)], name="account_id")
    await db.reissues.create_index([("certificateId", ASCENDING), ("status", ASCENDING)], name="certificate_status")
    await db.reissues.create_index(
        [("account", ASCENDING), ("primaryDomain", ASCENDING), ("status", ASCENDING)], name="account_domain_status"
    )
    await db.reissues.create_index([("status", ASCENDING), ("expiresAt", ASCENDING)], name="status_expires")
    await db.reissues.create_index([("status", ASCENDING), ("_id", ASCENDING)], name="status_id")  # reviewQueue
    # reissues(status:) pages and their count, the account's reissues in progress:
    await db.reissues.create_index(
        [("account", ASCENDING), ("status", ASCENDING), ("_id", DESCENDING)], name="account_status_id"
    )
    # Certificate.reissues pages (one certificate, or a page's certificates together):
    await db.reissues.create_index(
        [("account", ASCENDING), ("certificateId", ASCENDING), ("_id", DESCENDING)], name="account_certificate_id"
    )
    await db.reissues.create_index([("status", ASCENDING), ("applied", ASCENDING)], name="status_applied")  # the sweep
    await db.reissue_transitions.create_index([("reissueId", ASCENDING), ("seq", ASCENDING)], name="reissue_seq")
    await db.reissue_transitions.create_index([("applied", ASCENDING)], name="applied")
    await db.reissue_locks.create_index([("key", ASCENDING)], unique=True, name="key_unique")
    await db.idempotency_keys.create_index([("createdAt", ASCENDING)], name="created")


def _validation_to_doc(v: DomainValidation | None) -> dict | None:
    if v is None:
        return None
    return {
        "method": v.method.value,
        "status": v.status.value,
        "token": v.token,
        "lastCheckedAt": v.last_checked_at,
        "lastError": v.last_error,
        "caOrderUrl": v.ca_order_url,
        "caToken": v.ca_token,
    }


def _validation_from_doc(d: dict | None) -> DomainValidation | None:
    if not d:
        return None
    return DomainValidation(
        method=ValidationMethod(d["method"]),
        status=DomainValidationStatus(d["status"]),
        token=d["token"],
        last_checked_at=d.get("lastCheckedAt"),
        last_error=d.get("lastError"),
        ca_order_url=d.get("caOrderUrl"),
        ca_token=d.get("caToken"),
    )


def reissue_to_doc(r: Reissue) -> dict:
    return {
        "_id": r.id,
        "account": r.account,
        "certificateId": r.certificate_id,
        "primaryDomain": r.primary_domain,
        "flow": r.flow.value,
        "status": r.status.value,
        "seq": len(r.events),
        "domain": r.domain,
        "csrSource": r.csr_source.value,
        "csrPem": r.csr_pem,
        "keyAlgorithm": r.key_algorithm.value,
        "keyParameter": r.key_parameter,
        "reason": r.reason,
        "organizationName": r.organization_name,
        "privateKeyProtected": r.private_key_protected,
        "domainValidationRequired": r.domain_validation_required,
        "manualReviewRequired": r.manual_review_required,
        "waivers": [w.value for w in r.waivers],
        "domainValidation": _validation_to_doc(r.domain_validation),
        "events": [
            {
                "at": e.at,
                "actor": e.actor,
                "from": e.from_status.value if e.from_status else None,
                "to": e.to_status.value,
                "note": e.note,
            }
            for e in r.events
        ],
        "createdAt": r.created_at,
        "updatedAt": r.updated_at,
        "expiresAt": r.expires_at,
        "completedAt": r.completed_at,
        "privateKey": (
            {"storage": r.private_key.storage.value, "data": r.private_key.data} if r.private_key else None
        ),
        "remindedAt": r.reminded_at,
        "reminderCount": r.reminder_count,
        "issuedVersion": _version_to_doc(r.issued_version) if r.issued_version else None,
        "targetNotAfter": r.target_not_after,
        "issuerNotAfter": r.issuer_not_after,
        # Set once the certificate carries the issued version (R23); see issued_not_applied.
        "applied": r.status != ReissueStatus.ISSUED or r.applied,
        # The webhook outbox (domain/webhooking.py relay): set in the same write as the
        # events, so a change is never committed without it; the relay clears it.
        "outboxPending": True,
    }


def reissue_from_doc(d: dict) -> Reissue:
    key = d.get("privateKey")
    return Reissue(
        id=d["_id"],
        account=d["account"],
        certificate_id=d["certificateId"],
        primary_domain=d["primaryDomain"],
        flow=ReissueFlow(d["flow"]),
        status=ReissueStatus(d["status"]),
        domain=d["domain"],
        csr_source=CsrSource(d["csrSource"]),
        csr_pem=d["csrPem"],
        key_algorithm=KeyAlgorithm(d["keyAlgorithm"]),
        key_parameter=d["keyParameter"],
        reason=d.get("reason"),
        organization_name=d.get("organizationName"),
        private_key_protected=bool(d.get("privateKeyProtected")),
        domain_validation_required=bool(d.get("domainValidationRequired")),
        manual_review_required=bool(d.get("manualReviewRequired")),
        waivers=tuple(Waiver(w) for w in d.get("waivers") or ()),
        domain_validation=_validation_from_doc(d.get("domainValidation")),
        events=tuple(
            ReissueEvent(
                at=e["at"],
                actor=e["actor"],
                from_status=ReissueStatus(e["from"]) if e.get("from") else None,
                to_status=ReissueStatus(e["to"]),
                note=e.get("note"),
            )
            for e in d.get("events") or ()
        ),
        created_at=d["createdAt"],
        updated_at=d["updatedAt"],
        expires_at=d["expiresAt"],
        completed_at=d.get("completedAt"),
        private_key=StoredPrivateKey(PrivateKeyStorage(key["storage"]), bytes(key["data"])) if key else None,
        reminded_at=d.get("remindedAt"),
        reminder_count=int(d.get("reminderCount") or 0),
        issued_version=_version_from_doc(d["issuedVersion"]) if d.get("issuedVersion") else None,
        applied=bool(d.get("applied", True)),
        target_not_after=d.get("targetNotAfter"),
        issuer_not_after=d.get("issuerNotAfter"),
    )


class MongoReissueRepository(ReissueRepository):
    nested_read_bound = 500  # list_by_certificates: documents in its one read, at least

    def __init__(self, database: Database) -> None:
        self._col = database.db.reissues
        self._transitions = database.db.reissue_transitions
        self._reminders = database.db.reissue_reminders
        self._issuing = database.db.reissue_issuing

    def new_id(self) -> str:
        return REISSUE_ID_PREFIX + str(ObjectId())

    async def insert(self, reissue: Reissue) -> None:
        await self._col.insert_one(reissue_to_doc(reissue))

    async def get(self, reissue_id: str, *, account: str | None = None) -> Reissue | None:
        # By _id alone (the only filter FerretDB's SQLite backend pushes down), the
        # account checked here (R26).
        doc = await self._col.find_one({"_id": reissue_id})
        if doc is None or (account is not None and doc["account"] != account):
            return None
        return reissue_from_doc(doc)

    async def get_many(self, account: str | None, ids: Sequence[str]) -> dict[str, Reissue]:
        if not ids:
            return {}
        if len(set(ids)) == 1:
            found = await self.get(ids[0], account=account)
            return {found.id: found} if found else {}
        query: dict = {"_id": {"$in": list(set(ids))}}
        if account is not None:
            query["account"] = account
        docs = await self._col.find(query).to_list()
        return {d["_id"]: reissue_from_doc(d) for d in docs}

    async def review_queue(self, status, *, first: int, after: str | None, with_total: bool = True) -> Page:
        """Every account's reissues in `status`, oldest first (IDs grow with time)."""
        query: dict = {"status": ReissueStatus(status).value}
        total = await self._col.count_documents(query) if with_total else None
        if after:
            query["_id"] = {"$gt": decode_cursor(after, field=["after"], prefix=REISSUE_ID_PREFIX)}
        docs = await self._col.find(query).sort("_id", ASCENDING).limit(first + 1).to_list()
        return Page(
            items=[reissue_from_doc(d) for d in docs[:first]], has_next_page=len(docs) > first, total_count=total
        )

    async def active_in_domains(self, account: str, primary_domains: Sequence[str]) -> list[Reissue]:
        if not primary_domains:
            return []
        docs = await self._col.find(
            {"account": account, "primaryDomain": {"$in": sorted(set(primary_domains))}, "status": {"$in": ACTIVE}}
        ).to_list()
        return [reissue_from_doc(d) for d in docs]

    async def active_certificate_ids(self, account: str) -> list[str]:
        docs = await self._col.find({"account": account, "status": {"$in": ACTIVE}}, {"certificateId": 1}).to_list()
        return sorted({d["certificateId"] for d in docs})

    async def list(
        self, account: str, *, status=None, certificate_id: str | None = None, first: int, after: str | None,
        with_total: bool = True,
    ) -> Page:
        query: dict = {"account": account}
        if status is not None:
            query["status"] = ReissueStatus(status).value
        if certificate_id is not None:
            query["certificateId"] = certificate_id
        total = await self._col.count_documents(query) if with_total else None
        if after:
            query["_id"] = {"$lt": decode_cursor(after, field=["after"], prefix=REISSUE_ID_PREFIX)}
        docs = await self._col.find(query).sort("_id", DESCENDING).limit(first + 1).to_list()
        return Page(
            items=[reissue_from_doc(d) for d in docs[:first]], has_next_page=len(docs) > first, total_count=total
        )

    async def list_by_certificates(
        self, account: str, certificate_ids: Sequence[str], *, first: int, after: str | None, with_total: bool
    ) -> dict[str, Page]:
        ids = sorted(set(certificate_ids))
        if not ids:
            return {}
        # certificateId first: with a cursor, SecantusDB (no index serves the whole filter)
        # answers from the first clause an index serves alone, this one rather than `account`.
        query: dict = {"certificateId": {"$in": ids}, "account": account}
        if after:
            query["_id"] = {"$lt": decode_cursor(after, field=["after"], prefix=REISSUE_ID_PREFIX)}
        # Newest first across all the certificates, bounded. A full read covers every
        # reissue newer than its last one, so a certificate with more than `first` in it is
        # done; the others (a few long histories crowded them out) are read again, together,
        # from there. Each round finishes at least one certificate; usually there is one round.
        bound = max(self.nested_read_bound, (first + 1) * len(ids))
        grouped: dict[str, list] = {i: [] for i in ids}
        pending, cutoff_query, complete = ids, query, None
        while pending:
            docs = await self._col.find({**cutoff_query, "certificateId": {"$in": pending}}).sort(
                "_id", DESCENDING).limit(bound).to_list()
            if complete is None:  # the first read held every reissue asked for
                complete = len(docs) < bound
            for d in docs:
                grouped[d["certificateId"]].append(d)
            if len(docs) < bound:
                break
            cutoff_query = {**query, "_id": {"$lt": docs[-1]["_id"]}}
            pending = [c for c in pending if len(grouped[c]) <= first]
        totals: dict[str, int] = {}
        if with_total:
            if complete and not after:
                totals = {cid: len(found) for cid, found in grouped.items()}
            else:
                rows = await self._col.aggregate([
                    {"$match": {"account": account, "certificateId": {"$in": ids}}},
                    {"$group": {"_id": "$certificateId", "n": {"$sum": 1}}},
                ])
                totals = {r["_id"]: r["n"] async for r in rows}
        return {
            cid: Page(
                items=[reissue_from_doc(d) for d in found[:first]],
                has_next_page=len(found) > first,
                total_count=totals.get(cid, 0) if with_total else None,
            )
            for cid, found in grouped.items()
        }

    async def transition(self, before: Reissue, after: Reissue) -> None:
        seq = len(after.events)
        doc = reissue_to_doc(after)
        try:
            await self._transitions.insert_one(
                {"_id": f"{after.id}#{seq:05d}", "reissueId": after.id, "seq": seq, "doc": doc, "applied": False}
            )
        except DuplicateKeyError as exc:
            raise ConcurrentChange(after.id) from exc
        await self._apply(doc, seq)

    async def _apply(self, doc: dict, seq: int) -> None:
        # Only the holder of slot `seq` writes this state; a stale projection (fewer events)
        # is replaced, a newer one is left alone.
        await self._col.replace_one({"_id": doc["_id"], "seq": {"$lt": seq}}, doc)
        await self._transitions.update_one({"_id": f"{doc['_id']}#{seq:05d}"}, {"$set": {"applied": True}})

    async def repair_pending_transitions(self, limit: int = 100) -> int:
        pending = await self._transitions.find({"applied": False}).sort("seq", ASCENDING).limit(limit).to_list()
        for claim in pending:
            await self._apply(claim["doc"], claim["seq"])
        return len(pending)

    async def claim_issuance(self, reissue_id: str, seq: int, holder: str, now: datetime, until: datetime) -> bool:
        """R23: the right to sign or finalise for the transition in slot `seq`, a unique key;
        a claim whose holder died (past `until`) is taken over by deleting exactly it."""
        return await claim_leased_slot(self._issuing, f"{reissue_id}#{seq:05d}", holder, now, until)

    async def release_issuance(self, reissue_id: str, seq: int, holder: str) -> None:
        await self._issuing.delete_one({"_id": f"{reissue_id}#{seq:05d}", "holder": holder})

    async def update_validation(self, reissue_id: str, validation: DomainValidation) -> None:
        await self._col.update_one(
            {"_id": reissue_id, "status": ReissueStatus.PENDING_DOMAIN_VALIDATION.value},
            {"$set": {"domainValidation": _validation_to_doc(validation)}},
        )

    async def claim_reminder(self, reissue_id: str, number: int, at: datetime) -> bool:
        slot = f"{reissue_id}#{number}"
        try:
            await self._reminders.insert_one({"_id": slot, "reissueId": reissue_id, "at": at})
        except DuplicateKeyError:
            # Taken: by a concurrent reminder, or by one whose process died before it
            # recorded the slot on the reissue. Record it now (idempotent: only a count below
            # it moves), so the next attempt sees when that reminder really was.
            taken = await self._reminders.find_one({"_id": slot})
            if taken is not None:
                await self._col.update_one(
                    {"_id": reissue_id, "reminderCount": {"$lt": number}},
                    {"$set": {"remindedAt": taken["at"], "reminderCount": number}},
                )
            return False
        await self._col.update_one({"_id": reissue_id}, {"$set": {"remindedAt": at, "reminderCount": number}})
        return True

    async def overdue(self, now: datetime, limit: int = 100) -> list[Reissue]:
        docs = await self._col.find({"status": {"$in": ACTIVE}, "expiresAt": {"$lte": now}}).limit(limit).to_list()
        return [reissue_from_doc(d) for d in docs]

    async def issued_not_applied(self, limit: int = 100) -> list[Reissue]:
        docs = await self._col.find({"status": ReissueStatus.ISSUED.value, "applied": False}).limit(limit).to_list()
        return [reissue_from_doc(d) for d in docs]

    async def mark_applied(self, reissue_id: str) -> None:
        await self._col.update_one({"_id": reissue_id}, {"$set": {"applied": True}})

    async def pending_auto_validation(self, limit: int = 100) -> list[Reissue]:
        """Reissues waiting for a record or file the service places itself (R20), the longest
        unchecked first (never checked before all), so that none is crowded out by `limit`."""
        docs = await self._col.find({
            "status": ReissueStatus.PENDING_DOMAIN_VALIDATION.value,
            "domainValidation.method": {"$in": [ValidationMethod.DNS_AUTO.value, ValidationMethod.FILE_AUTO.value]},
        }).sort([("domainValidation.lastCheckedAt", ASCENDING), ("_id", ASCENDING)]).limit(limit).to_list()
        return [reissue_from_doc(d) for d in docs]


class MongoLockStore(LockStore):
    def __init__(self, database: Database) -> None:
        self._col = database.db.reissue_locks

    @staticmethod
    def _to_doc(lock: LockRecord) -> dict:
        return {
            "_id": lock.id,
            "key": lock.key,
            "reissueId": lock.reissue_id,
            "certificateId": lock.certificate_id,
            "certificateDomain": lock.certificate_domain,
            "acquiredAt": lock.acquired_at,
            "pendingUntil": lock.pending_until,
        }

    @staticmethod
    def _from_doc(d: dict) -> LockRecord:
        return LockRecord(
            id=d["_id"],
            key=d["key"],
            reissue_id=d["reissueId"],
            certificate_id=d["certificateId"],
            certificate_domain=d.get("certificateDomain") or "",
            acquired_at=d["acquiredAt"],
            pending_until=d["pendingUntil"],
        )

    async def try_acquire(self, lock: LockRecord) -> LockRecord | None:
        try:
            await self._col.insert_one(self._to_doc(lock))
            return None
        except DuplicateKeyError:
            existing = await self._col.find_one({"key": lock.key})
            if existing is not None and existing["_id"] == lock.id:
                # Our own insert: the driver retried a write the server had applied (a reply
                # lost under load), and the retry met the first attempt's document.
                return None
            if existing is None:
                # Released in between: report a holder that is not live, so the caller retries.
                return LockRecord(
                    id="", key=lock.key, reissue_id="", certificate_id="", certificate_domain="",
                    acquired_at=lock.acquired_at, pending_until=lock.acquired_at,
                )
            return self._from_doc(existing)

    async def release(self, lock_id: str) -> None:
        if lock_id:
            await self._col.delete_one({"_id": lock_id})

    async def held(self, lock_ids: Sequence[str]) -> set[str]:
        docs = await self._col.find({"_id": {"$in": list(lock_ids)}}, {"_id": 1}).to_list()
        return {d["_id"] for d in docs}

    async def all(self, limit: int = 1000) -> list[LockRecord]:
        return [self._from_doc(d) for d in await self._col.find({}).limit(limit).to_list()]


class MongoIdempotencyStore(IdempotencyStore):
    def __init__(self, database: Database, hashing_key: bytes) -> None:
        self._col = database.db.idempotency_keys
        self._key = hashing_key

    def fingerprint(self, material: str) -> str:
        return hmac.new(self._key, material.encode(), hashlib.sha256).hexdigest()

    def _id(self, account: str, key: str) -> str:
        return self.fingerprint(f"{account}\x00{key}")

    async def claim(self, record: IdempotencyRecord) -> IdempotencyRecord | None:
        try:
            await self._col.insert_one(
                {
                    "_id": self._id(record.account, record.key),
                    "fingerprint": record.fingerprint,
                    "reissueId": record.reissue_id,
                    "createdAt": record.created_at,
                    "tokenId": record.token_id,
                }
            )
            return None
        except DuplicateKeyError:
            doc = await self._col.find_one({"_id": self._id(record.account, record.key)})
            if doc is None:
                return await self.claim(record)
            return IdempotencyRecord(
                record.account, record.key, doc["fingerprint"], doc["reissueId"], doc["createdAt"], doc.get("tokenId", "")
            )

    async def forget(self, record: IdempotencyRecord) -> None:
        await self._col.delete_one({"_id": self._id(record.account, record.key), "reissueId": record.reissue_id})

    async def purge_before(self, moment: datetime) -> int:
        result = await self._col.delete_many({"createdAt": {"$lt": moment}})
        return result.deleted_count


class MongoVerificationLog(VerificationLog):
    def __init__(self, database: Database) -> None:
        self._col = database.db.domain_verifications

    @staticmethod
    def _id(account: str, hostname: str, organization: str | None) -> str:
        return f"{account}\x00{hostname}\x00{organization or ''}"

    async def record(self, account: str, hostname: str, organization: str | None, at: datetime) -> None:
        await self._col.update_one(
            {"_id": self._id(account, hostname, organization)},
            {"$set": {"account": account, "hostname": hostname, "organization": organization, "verifiedAt": at}},
            upsert=True,
        )

    async def last(self, account: str, hostname: str, organization: str | None) -> datetime | None:
        doc = await self._col.find_one({"_id": self._id(account, hostname, organization)})
        return doc["verifiedAt"] if doc else None
