"""Download grants, revocation jobs and the built-in CA's revocation records in MongoDB.

As everywhere (docs/operations.md), what must happen once is a unique-key insert: a
download URL is used up by inserting its use record (`download_uses`, `_id` the grant's
ID), a revocation job's attempt by inserting its slot (`revocation_claims`,
`<job>#<n>`), a revocation by inserting `<issuer>:<serial>` (`ca_revocations`).
"""

from __future__ import annotations

import contextlib

import hashlib
import hmac
import secrets
from collections.abc import Collection
from datetime import datetime

from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from adapters.mongo import Database
from domain.model import RevocationReason
from domain.ports import DownloadGrant, DownloadStore, Revocation, RevocationJob, RevocationJobs

DOWNLOAD_TOKEN_PREFIX = "dl1_"


async def ensure_download_indexes(database: Database) -> None:
    db = database.db
    await db.downloads.create_index([("expiresAt", ASCENDING)], name="expires")
    await db.download_uses.create_index([("expiresAt", ASCENDING)], name="expires")
    await db.revocation_jobs.create_index([("done", ASCENDING), ("supersededAt", ASCENDING)], name="done_superseded")
    await db.ca_revocations.create_index([("issuer", ASCENDING)], name="issuer")


class MongoDownloadStore(DownloadStore):
    """A URL's token is 256 random bits; only HMAC-SHA256(token) is stored, as the grant's
    `_id`, so a database dump opens no download."""

    def __init__(self, database: Database, hashing_key: bytes) -> None:
        self._col = database.db.downloads
        self._uses = database.db.download_uses
        self._key = hashing_key

    def new_token(self) -> tuple[str, str]:
        token = DOWNLOAD_TOKEN_PREFIX + secrets.token_urlsafe(32)
        return token, self._hash(token)

    def _hash(self, token: str) -> str:
        return hmac.new(self._key, token.encode(), hashlib.sha256).hexdigest()

    def id_of(self, token: str) -> str | None:
        if not token.startswith(DOWNLOAD_TOKEN_PREFIX) or len(token) > 100:
            return None
        return self._hash(token)

    async def add(self, grant: DownloadGrant) -> None:
        await self._col.insert_one({
            "_id": grant.id,
            "account": grant.account,
            "certificateId": grant.certificate_id,
            "serialNumber": grant.serial_number,
            "format": grant.format,
            "includeKey": grant.include_key,
            "sealedPassword": grant.sealed_password,
            "fileName": grant.file_name,
            "createdAt": grant.created_at,
            "expiresAt": grant.expires_at,
        })

    async def get(self, grant_id: str) -> DownloadGrant | None:
        d = await self._col.find_one({"_id": grant_id})
        if d is None or not hmac.compare_digest(d["_id"], grant_id):
            return None
        return DownloadGrant(
            id=d["_id"], account=d["account"], certificate_id=d["certificateId"], serial_number=d["serialNumber"],
            format=d["format"], include_key=bool(d["includeKey"]),
            sealed_password=bytes(d["sealedPassword"]) if d.get("sealedPassword") is not None else None,
            file_name=d["fileName"], created_at=d["createdAt"], expires_at=d["expiresAt"],
        )

    async def consume(self, grant: DownloadGrant, now: datetime) -> bool:
        try:
            await self._uses.insert_one({"_id": grant.id, "usedAt": now, "expiresAt": grant.expires_at})
        except DuplicateKeyError:
            return False
        return True

    async def was_consumed(self, grant_id: str) -> bool:
        return await self._uses.find_one({"_id": grant_id}, {"_id": 1}) is not None

    async def delete(self, grant_id: str) -> None:
        await self._col.delete_one({"_id": grant_id})

    async def purge(self, *, expired_before: datetime, used_before: datetime) -> int:
        # An expired grant leaves a use record (as a used one does), so its URL answers 410,
        # not 404, until the records are purged; the grant, with its sealed password, goes.
        expired = [d async for d in self._col.find({"expiresAt": {"$lt": expired_before}}, {"expiresAt": 1})]
        for d in expired:
            with contextlib.suppress(DuplicateKeyError):
                await self._uses.insert_one({"_id": d["_id"], "expiredAt": expired_before, "expiresAt": d["expiresAt"]})
        grants = await self._col.delete_many({"_id": {"$in": [d["_id"] for d in expired]}})
        uses = await self._uses.delete_many({"expiresAt": {"$lt": used_before}})
        return grants.deleted_count + uses.deleted_count


class MongoRevocationJobs(RevocationJobs):
    def __init__(self, database: Database) -> None:
        self._col = database.db.revocation_jobs
        self._claims = database.db.revocation_claims

    async def schedule(
        self, certificate_id: str, serial_number: str, superseded_at: datetime, issuer: str | None = None
    ) -> None:
        try:
            await self._col.insert_one({
                "_id": f"{certificate_id}:{serial_number}", "certificateId": certificate_id,
                "serialNumber": serial_number, "supersededAt": superseded_at, "done": False, "attempt": 0,
                "issuer": issuer,
            })
        except DuplicateKeyError:
            pass  # scheduled already (the issuance was applied again after a crash)

    async def due(
        self, superseded_before: datetime, issuers: Collection[str | None], limit: int = 100
    ) -> list[RevocationJob]:
        # A job stored before issuers were kept has no `issuer` field: `$in` with None
        # matches it as it matches null.
        docs = await self._col.find(
            {"done": False, "supersededAt": {"$lte": superseded_before}, "issuer": {"$in": list(issuers)}}
        ).sort("supersededAt", ASCENDING).limit(limit).to_list()
        return [
            RevocationJob(d["_id"], d["certificateId"], d["serialNumber"], d["supersededAt"],
                          int(d.get("attempt", 0)), d.get("issuer"))
            for d in docs
        ]

    async def claim(self, job: RevocationJob, now: datetime, lease_until: datetime) -> bool:
        # `attempt` names the slot last taken: while its lease runs, its holder works on it.
        if job.attempt > 0:
            held = await self._claims.find_one({"_id": f"{job.id}#{job.attempt}"})
            if held is not None and held["leaseUntil"] > now:
                return False
        number = job.attempt + 1
        for _ in range(3):
            try:
                await self._claims.insert_one(
                    {"_id": f"{job.id}#{number}", "jobId": job.id, "claimedAt": now, "leaseUntil": lease_until}
                )
            except DuplicateKeyError:
                held = await self._claims.find_one({"_id": f"{job.id}#{number}"})
                if held is not None and held["leaseUntil"] > now:
                    return False  # another process works on it now
                number += 1  # its holder died: the next attempt may be taken
                continue
            # Read after winning: a process that read the job before another finished it
            # (finish drops the slots, so this one was free again) must not do it twice.
            current = await self._col.find_one({"_id": job.id}, {"done": 1})
            if current is None or current.get("done"):
                return False
            await self._col.update_one({"_id": job.id, "attempt": {"$lt": number}}, {"$set": {"attempt": number}})
            return True
        return False

    async def finish(self, job: RevocationJob, outcome: str, now: datetime) -> None:
        # `done` first, then the slots: claim() reads `done` after taking a slot.
        await self._col.update_one({"_id": job.id}, {"$set": {"done": True, "outcome": outcome, "doneAt": now}})
        await self._claims.delete_many({"jobId": job.id})


class MongoCaRevocations:
    """The built-in CA's revoked serials, per issuer (adapters.authority reads them into
    its CRLs). The first revocation of a serial stands."""

    def __init__(self, database: Database) -> None:
        self._col = database.db.ca_revocations

    async def add(self, issuer: str, serial: int, reason: RevocationReason, now: datetime) -> Revocation:
        key = f"{issuer}:{serial:X}"
        try:
            await self._col.insert_one(
                {"_id": key, "issuer": issuer, "serial": f"{serial:X}", "revokedAt": now, "reason": reason.value}
            )
            return Revocation(now, reason)
        except DuplicateKeyError:
            doc = await self._col.find_one({"_id": key})
            return Revocation(doc["revokedAt"], RevocationReason(doc["reason"]))

    async def of_issuer(self, issuer: str) -> list[tuple[int, datetime, RevocationReason]]:
        docs = await self._col.find({"issuer": issuer}).to_list()
        return sorted((int(d["serial"], 16), d["revokedAt"], RevocationReason(d["reason"])) for d in docs)
