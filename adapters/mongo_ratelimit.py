"""Per-token rate limit shared across processes (CERTS_RATE_LIMIT_PER_MINUTE), in units:
an operation claims as many as its mutations weigh (schema/cost.py).

A fixed one-minute window of `limit` slots per token; each unit is slot n of its window,
claimed by inserting a document with the unique `_id` `<token>:<window>:<n>` (n in 1..limit),
so however many processes race, at most `limit` units exist per window (no conditional
update: FerretDB's are not atomic). An operation claims all its units or none: when they do
not all fit, it deletes the slots it did get (by their `_id`, its own) and is refused. One
heavier than the whole limit is refused before it claims anything.
"""

from __future__ import annotations

import contextlib
from datetime import datetime

from pymongo.errors import BulkWriteError, PyMongoError

from adapters.mongo import Database
from domain.ports import RateLimiter

WINDOW_SECONDS = 60
DUPLICATE_KEY = 11000
# Each round reads the window's free slots and inserts as many as are still needed; a slot
# another request took in between costs one more round. Past this many, give up (refuse).
MAX_ROUNDS = 8


class MongoRateLimiter(RateLimiter):
    def __init__(self, database: Database, limit_per_minute: int) -> None:
        self._col = database.db.rate_limit_slots
        self._limit = limit_per_minute

    async def hit(self, token_id: str, now: datetime, weight: int = 1) -> float | None:
        if self._limit <= 0 or weight <= 0:
            return None
        epoch = now.timestamp()
        window = int(epoch // WINDOW_SECONDS)
        retry_after = (window + 1) * WINDOW_SECONDS - epoch
        if weight > self._limit:
            return retry_after  # can never fit: claim nothing
        prefix = f"{token_id}:{window}:"
        claimed: list[str] = []
        try:
            for _ in range(MAX_ROUNDS):
                taken = {d["_id"] async for d in self._col.find({"token": token_id, "window": window}, {"_id": 1})}
                free = [s for s in (f"{prefix}{n}" for n in range(1, self._limit + 1)) if s not in taken]
                need = weight - len(claimed)
                if len(free) < need:
                    break
                claimed += await self._insert(free[:need], token_id, window, now)
                if len(claimed) == weight:
                    return None
        except BaseException:
            with contextlib.suppress(PyMongoError):
                await self._release(claimed)
            raise
        await self._release(claimed)
        return retry_after

    async def _insert(self, ids: list[str], token_id: str, window: int, now: datetime) -> list[str]:
        """The slots of `ids` this call inserted (the others were taken meanwhile)."""
        documents = [{"_id": i, "token": token_id, "window": window, "at": now} for i in ids]
        try:
            await self._col.insert_many(documents, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors") or []
            failed = {e["index"] for e in errors}
            inserted = [i for n, i in enumerate(ids) if n not in failed]
            if any(e.get("code") != DUPLICATE_KEY for e in errors):
                with contextlib.suppress(PyMongoError):
                    await self._release(inserted)
                raise
            return inserted
        return ids

    async def _release(self, ids: list[str]) -> None:
        if ids:
            await self._col.delete_many({"_id": {"$in": ids}})

    async def purge_before(self, now: datetime) -> int:
        window = int(now.timestamp() // WINDOW_SECONDS)
        return (await self._col.delete_many({"window": {"$lt": window - 1}})).deleted_count


async def ensure_rate_limit_indexes(database: Database) -> None:
    await database.db.rate_limit_slots.create_index([("token", 1), ("window", 1)], name="token_window")
    await database.db.rate_limit_slots.create_index([("window", 1)], name="window")  # purge_before
