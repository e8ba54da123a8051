"""Per-token mutation rate limit shared across processes (CERTS_RATE_LIMIT_PER_MINUTE).

A fixed one-minute window; each allowed mutation claims slot n of its window with a
unique `_id` (`<token>:<window>:<n>`), so however many processes race, at most `limit`
slots exist per window (no conditional update: FerretDB's are not atomic).
"""

from __future__ import annotations

from datetime import datetime

from pymongo.errors import DuplicateKeyError

from adapters.mongo import Database
from domain.ports import RateLimiter

WINDOW_SECONDS = 60


class MongoRateLimiter(RateLimiter):
    def __init__(self, database: Database, limit_per_minute: int) -> None:
        self._col = database.db.rate_limit_slots
        self._limit = limit_per_minute

    async def hit(self, token_id: str, now: datetime) -> float | None:
        if self._limit <= 0:
            return None
        epoch = now.timestamp()
        window = int(epoch // WINDOW_SECONDS)
        retry_after = (window + 1) * WINDOW_SECONDS - epoch
        prefix = f"{token_id}:{window}:"
        used = await self._col.count_documents({"token": token_id, "window": window})
        while used < self._limit:
            try:
                await self._col.insert_one(
                    {"_id": f"{prefix}{used + 1}", "token": token_id, "window": window, "at": now}
                )
                return None
            except DuplicateKeyError:
                used += 1  # another request took this slot; try the next
        return retry_after

    async def purge_before(self, now: datetime) -> int:
        window = int(now.timestamp() // WINDOW_SECONDS)
        return (await self._col.delete_many({"window": {"$lt": window - 1}})).deleted_count


async def ensure_rate_limit_indexes(database: Database) -> None:
    await database.db.rate_limit_slots.create_index([("token", 1), ("window", 1)], name="token_window")
