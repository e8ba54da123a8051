"""In-process measurements: the bench app called as an ASGI callable (no HTTP server, no
client library), one request at a time, on a plain asyncio loop so that waiting for the
database shows up as `select` in the profile and can be told apart from CPU work.

* per-request wall time of each scenario, GraphQL and floor, sequentially;
* a pyinstrument profile of the GraphQL side of each scenario: top entries by self time
  and by inclusive time, and the share of each package.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from bench.scenarios import payload_of, request_for


async def asgi_post(app, path: str, body: bytes, token: str) -> tuple[int, bytes]:
    done = asyncio.Event()
    sent = False
    status = 0
    chunks: list[bytes] = []

    async def receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                done.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", b"application/json"),
            (b"accept", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    await app(scope, receive, send)
    return status, b"".join(chunks)


class InProcess:
    def __init__(self, app, token: str, keys: dict) -> None:
        self.app = app
        self.token = token
        self.keys = keys  # scenario -> list of certificate IDs

    async def one(self, scenario: str, variant: str, i: int) -> None:
        """One request of `scenario` (a whole request + cancel for reissueCycle)."""
        keys = self.keys.get(scenario) or [None]
        key = keys[i % len(keys)]
        if scenario == "reissueCycle":
            path, body = request_for("request", variant, key)
            status, raw = await asgi_post(self.app, path, body, self.token)
            reissue = payload_of(json.loads(raw)).get("reissue") if status == 200 else None
            if reissue:
                path, body = request_for("cancel", variant, reissue["id"])
                await asgi_post(self.app, path, body, self.token)
            return
        path, body = request_for(scenario, variant, key)
        status, raw = await asgi_post(self.app, path, body, self.token)
        if status != 200 or b'"errors":[' in raw:
            raise RuntimeError(f"{scenario}/{variant}: {status} {raw[:300]!r}")

    async def timed(self, scenario: str, variant: str, seconds: float, max_requests: int) -> dict:
        """Sequential requests for `seconds`: wall time and this process's CPU time
        (time.process_time: user + system, every thread) per request; a reissueCycle
        counts as its two requests."""
        per = 2 if scenario == "reissueCycle" else 1
        samples = []
        deadline = time.perf_counter() + seconds
        i = 0
        cpu_started = time.process_time()
        wall_started = time.perf_counter()
        while time.perf_counter() < deadline and i * per < max_requests:
            started = time.perf_counter()
            await self.one(scenario, variant, i)
            samples.append((time.perf_counter() - started) / per)
            i += 1
        cpu = time.process_time() - cpu_started
        wall = time.perf_counter() - wall_started
        samples.sort()
        n = i * per
        return {
            "requests": n,
            "mean_ms": 1000 * wall / n if n else 0.0,
            "median_ms": 1000 * samples[len(samples) // 2] if samples else 0.0,
            "cpu_ms": 1000 * cpu / n if n else 0.0,
        }


def _category(path: str | None) -> str:
    p = path or ""
    for needle, name in (
        ("/strawberry/", "strawberry"),
        ("/graphql/", "graphql-core"),
        ("/pymongo/", "pymongo"),
        ("/bson/", "bson"),
        ("/starlette/", "starlette"),
        ("/asyncio/", "asyncio"),
        ("/selectors.py", "asyncio"),
        ("/json/", "json"),
        ("/logging/", "logging"),
        ("/cryptography/", "cryptography"),
        ("/domain/", "service: domain"),
        ("/adapters/", "service: adapters"),
        ("/resolvers/", "service: resolvers"),
        ("/schema/", "service: schema"),
        ("/certreissue/", "service: certreissue"),
        ("/bench/", "bench harness"),
        ("/pyinstrument/", "profiler"),
    ):
        if needle in p:
            return name
    return "python stdlib/other"


def analyse(root, *, top: int = 15) -> dict:
    """Self and inclusive time by function, package shares, and idle (waiting) time."""
    self_times: dict[tuple[str, str], float] = {}
    inclusive: dict[tuple[str, str], float] = {}
    categories: dict[str, float] = {}
    idle = 0.0
    sending = 0.0

    def walk(frame, on_stack: set) -> float:
        """Returns the waiting time (select, transport write) inside `frame`."""
        nonlocal idle, sending
        real = [c for c in frame.children if not c.is_synthetic]
        self_time = frame.time - sum(c.time for c in real)
        key = (frame.function or "?", frame.file_path_short or frame.file_path or "")
        if frame.function == "select" and (frame.file_path or "").endswith("selectors.py"):
            idle += frame.time  # the loop waiting for FerretDB's answers
            return frame.time
        if frame.function == "socket.send" or (
            frame.function == "write" and (frame.file_path or "").endswith("selector_events.py")
        ):
            # A loopback write wakes FerretDB; on 2 busy cores the kernel often runs it
            # first, so this wall time is mostly waiting for a CPU, not work of ours.
            sending += frame.time
            return frame.time
        if frame.is_synthetic:
            return 0.0
        self_times[key] = self_times.get(key, 0.0) + max(self_time, 0.0)
        cat = _category(frame.file_path)
        categories[cat] = categories.get(cat, 0.0) + max(self_time, 0.0)
        waiting = sum(walk(child, on_stack | {key}) for child in real)
        if key not in on_stack:
            inclusive[key] = inclusive.get(key, 0.0) + frame.time - waiting
        return waiting

    walk(root, set())
    total = root.time
    busy = total - idle - sending

    def rows(d):
        return [
            {"function": f, "file": path, "seconds": t, "share_of_busy": t / busy if busy else 0.0}
            for (f, path), t in sorted(d.items(), key=lambda kv: -kv[1])[:top]
        ]

    return {
        "total_s": total,
        "idle_s": idle,
        "send_s": sending,
        "busy_s": busy,
        "top_self": rows(self_times),
        "top_inclusive": [
            r for r in rows({k: v for k, v in inclusive.items() if v < busy * 0.999})
        ],
        "categories": sorted(
            ({"package": k, "seconds": v, "share_of_busy": v / busy if busy else 0.0} for k, v in categories.items()),
            key=lambda r: -r["seconds"],
        ),
    }


async def run_inprocess(
    app_factory, token: str, keys: dict, scenarios, *, seconds: float, max_requests: int, out_dir: Path, cleanup
) -> dict:
    """Times every scenario (GraphQL and floor, interleaved), then profiles the GraphQL side."""
    from pyinstrument import Profiler

    from bench.app import run_lifespan

    app = app_factory()
    results: dict = {"timings": {}, "profiles": {}}
    async with run_lifespan(app):
        runner = InProcess(app, token, keys)
        for scenario in scenarios:  # warm up both sides (caches, connections)
            for variant in ("graphql", "floor"):
                for i in range(5):
                    await runner.one(scenario, variant, i)
        await cleanup()
        for scenario in scenarios:
            results["timings"][scenario] = {}
            for variant in ("graphql", "floor", "graphql", "floor"):
                t = await runner.timed(scenario, variant, seconds / 2, max_requests)
                results["timings"][scenario].setdefault(variant, []).append(t)
            await cleanup()
        for scenario in scenarios:
            profiler = Profiler(interval=0.0005, async_mode="disabled")
            profiler.start()
            t = await runner.timed(scenario, "graphql", seconds, max_requests)
            profiler.stop()
            await cleanup()
            session = profiler.last_session
            root = session.root_frame(trim_stem=False)
            analysis = analyse(root)
            analysis["requests"] = t["requests"]
            analysis["mean_ms"] = t["mean_ms"]
            analysis["cpu_ms"] = t["cpu_ms"]
            results["profiles"][scenario] = analysis
            out_dir.mkdir(parents=True, exist_ok=True)
            (out_dir / f"profile-{scenario}.txt").write_text(
                profiler.output_text(unicode=True, color=False, show_all=False)
            )
            profiler.write_html(str(out_dir / f"profile-{scenario}.html"))
    return results


# -- before/after: each optimisation of the GraphQL layer turned off, one at a time ------

CHANGES = {
    "document_caches": {
        "what": "ParserCache + ValidationCache: a repeated query document is parsed and validated once",
        "scenarios": ["certificate", "certificates50", "previewReissue"],
    },
    "batch_loads": {
        "what": "DataLoader batching: one query per kind of object per request (off: one per key, N+1)",
        "scenarios": ["certificates50"],
    },
    "preload_page": {
        "what": "`certificates` loads its page's reissues in progress and eligibility itself; "
        "status/activeReissue/reissueEligibility answer from memory instead of each awaiting a DataLoader",
        "scenarios": ["certificates50"],
    },
}


class _Commands:
    """Counts the commands sent to one database (PyMongo command monitoring)."""

    def __init__(self, database: str) -> None:
        from pymongo import monitoring

        self.database = database
        self.enabled = False
        self.names: list[str] = []
        listener = self

        class Listener(monitoring.CommandListener):
            def started(self, event):
                if listener.enabled and event.database_name == listener.database:
                    listener.names.append(event.command_name)

            def succeeded(self, event):
                pass

            def failed(self, event):
                pass

        monitoring.register(Listener())

    async def per_request(self, runner: InProcess, scenario: str) -> int:
        """Commands of one request (the fewest of 3: a background sweep may add some)."""
        counts = []
        for i in range(3):
            self.names.clear()
            self.enabled = True
            await runner.one(scenario, "graphql", i)
            self.enabled = False
            counts.append(len(self.names))
        return min(counts)


async def run_changes(app_factory, token: str, keys: dict, *, database: str, seconds: float, max_requests: int, cleanup) -> dict:
    """For each optimisation: the service with it (after) and without it (before), in this
    process, on the same database, timed in interleaved passes (before, after, before,
    after); CPU and wall per request, and database commands per request."""
    from dataclasses import replace

    from bench.app import run_lifespan
    from resolvers.context import Tuning

    commands = _Commands(database)  # registered before any client exists
    results: dict = {}
    for change, spec in CHANGES.items():
        apps = {"after": app_factory(Tuning()), "before": app_factory(replace(Tuning(), **{change: False}))}
        async with run_lifespan(apps["after"]), run_lifespan(apps["before"]):
            runners = {side: InProcess(app, token, keys) for side, app in apps.items()}
            rows = {}
            for scenario in spec["scenarios"]:
                for side in ("before", "after"):  # warm up: connections, caches, the token
                    for i in range(3):
                        await runners[side].one(scenario, "graphql", i)
                passes: dict = {"before": [], "after": []}
                for side in ("before", "after", "before", "after"):
                    passes[side].append(await runners[side].timed(scenario, "graphql", seconds / 2, max_requests))
                rows[scenario] = {
                    side: {
                        "requests": sum(t["requests"] for t in ts),
                        # per request over both passes of the side
                        "cpu_ms": sum(t["cpu_ms"] * t["requests"] for t in ts) / max(1, sum(t["requests"] for t in ts)),
                        "wall_ms": sum(t["mean_ms"] * t["requests"] for t in ts) / max(1, sum(t["requests"] for t in ts)),
                        "commands": await commands.per_request(runners[side], scenario),
                    }
                    for side, ts in passes.items()
                }
                await cleanup()
            results[change] = {"what": spec["what"], "scenarios": rows}
    return results
