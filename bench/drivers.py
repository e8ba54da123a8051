"""PyMongo's AsyncMongoClient against Motor: the same find_one and update_one calls, in
one run, against the same server (issue 5, item 4).

Both clients use the service's options (tz_aware, the same timeouts) and the same
collection of small documents; each phase does `ops` find_one by _id, then `ops`
update_one ($inc by _id). Sequential (one call at a time), then with 16 concurrent
callers (`concurrent_ops` calls, fewer: FerretDB's updates are slow); the drivers alternate A B B A so drift spreads over both."""

from __future__ import annotations

import asyncio
import time


def _key(i: int) -> str:
    # String IDs like the service's: FerretDB's SQLite backend pushes down only a filter
    # that is exactly {_id: <string or ObjectId>}; any other filter reads the whole table.
    return f"doc_{i:06d}"


async def _phase(collection, ops: int, n_docs: int, tasks: int) -> dict:
    async def finds(start: int, count: int):
        for i in range(start, start + count):
            await collection.find_one({"_id": _key(i % n_docs)})

    async def updates(start: int, count: int):
        for i in range(start, start + count):
            await collection.update_one({"_id": _key(i % n_docs)}, {"$inc": {"n": 1}})

    result = {}
    for name, fn in (("find_one", finds), ("update_one", updates)):
        share = ops // tasks
        started = time.perf_counter()
        await asyncio.gather(*(fn(t * share, share) for t in range(tasks)))
        elapsed = time.perf_counter() - started
        result[name] = {"ops": share * tasks, "seconds": elapsed, "ops_per_s": share * tasks / elapsed}
    return result


async def compare(uri: str, db_name: str, *, ops: int, concurrent_ops: int | None = None, tasks_list=(1, 16), n_docs: int = 1000) -> dict:
    from motor.motor_asyncio import AsyncIOMotorClient
    from pymongo import AsyncMongoClient

    import motor
    import pymongo

    options = dict(tz_aware=True, serverSelectionTimeoutMS=5000, connectTimeoutMS=5000, socketTimeoutMS=10000)
    native = AsyncMongoClient(uri, appname="bench-async", **options)
    legacy = AsyncIOMotorClient(uri, appname="bench-motor", **options)
    try:
        col = native[db_name]["driver_bench"]
        await col.drop()
        await col.insert_many([{"_id": _key(i), "n": 0, "name": f"doc {i}", "payload": "x" * 200} for i in range(n_docs)])
        clients = {"AsyncMongoClient": native[db_name]["driver_bench"], "Motor": legacy[db_name]["driver_bench"]}
        for c in clients.values():  # connect and warm up
            for i in range(50):
                await c.find_one({"_id": _key(i)})
        results: dict = {"ops": ops, "concurrent_ops": concurrent_ops or ops, "documents": n_docs, "versions": {"pymongo": pymongo.version, "motor": motor.version}}
        for tasks in tasks_list:
            rounds: dict[str, list] = {"AsyncMongoClient": [], "Motor": []}
            n = ops if tasks == 1 else (concurrent_ops or ops)
            for name in ("AsyncMongoClient", "Motor", "Motor", "AsyncMongoClient"):
                rounds[name].append(await _phase(clients[name], n // 2, n_docs, tasks))
            summary = {}
            for name, phases in rounds.items():
                summary[name] = {}
                for op in ("find_one", "update_one"):
                    total_ops = sum(p[op]["ops"] for p in phases)
                    total_s = sum(p[op]["seconds"] for p in phases)
                    summary[name][op] = {"ops": total_ops, "seconds": total_s, "ops_per_s": total_ops / total_s}
            results[f"tasks={tasks}"] = summary
        await col.drop()
        return results
    finally:
        await native.close()
        legacy.close()
