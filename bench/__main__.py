"""`python -m bench [--quick] [--only SECTION ...]`: measure, then write the report.

Sections (all by default): throughput, changes, profile, memory, scale (one account), spread
(the same certificates over many accounts), subscriptions (from a mutation's answer to the
subscriber's message, per change feed), console (the web console's size and how soon its
first screen is usable, in headless Chromium). Raw figures go to
<output>.json next to the report; `--only` re-measures some sections and keeps the others'
figures from that file, so every figure in the report can be reproduced on its own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import report
from bench.console import run_console
from bench.scenarios import PAGE, REQUEST_REASON, SCENARIOS, graphql_body, payload_of, request_for

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ("throughput", "changes", "profile", "memory", "scale", "spread", "subscriptions", "console")
CHANGE_FEEDS = ("change-stream", "poll")  # the subscriptions section measures each
DB_BENCH = "certreissue_bench"
DB_SCALE = "certreissue_bench_scale"
# Per 40 actions (a cycle is two requests): mostly the cheap reads, a page and cycles among
# them; weighted so 100,000 requests fit in a bench run on FerretDB (a page costs it ~30x a
# certificate(id): it reads the whole certificates table).
MIXED_SCHEDULE = [["certificate", 28], ["previewReissue", 9], ["certificates50", 1], ["reissueCycle", 2]]


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- options ----------------------------------------------------------------------------


@dataclass
class Options:
    quick: bool
    only: tuple[str, ...]
    concurrency: list[int]
    runs: int
    duration: float
    warmup: float
    max_requests: int
    scale_certificates: int
    scale_accounts: int
    spread_accounts: int
    scale_requests: int
    memory_requests: int
    profile_seconds: float
    changes_seconds: float
    subscription_samples: int
    cycle_domains: int
    output: Path
    keep: bool
    log_level: str
    mongodb_uri: str | None = None
    render_only: bool = False

    def command(self, *extra: str) -> str:
        """The command that reproduces one figure with these options."""
        parts = [".venv/bin/python -m bench"]
        if self.quick:
            parts.append("--quick")
        parts.extend(extra)
        return " ".join(parts)


def parse_args(argv: list[str] | None) -> Options:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="everything small: a smoke test of the harness (~2 min)")
    p.add_argument("--only", action="append", choices=SECTIONS, help="measure only this section (repeatable)")
    p.add_argument("--concurrency", help="comma-separated client counts (default 1,8,32,64; quick 1,8)")
    p.add_argument("--runs", type=int, help="interleaved runs per cell, median reported (default 3; quick 1)")
    p.add_argument("--duration", type=float, help="seconds measured per run (default 4; quick 1)")
    p.add_argument("--warmup", type=float, help="unrecorded seconds before each run (default 1; quick 0.3)")
    p.add_argument("--max-requests", type=int, help="requests per run at most (default 20000)")
    p.add_argument("--scale-certificates", type=int, help="certificates in the scale account (default 100000; quick 2000)")
    p.add_argument("--scale-accounts", type=int, default=1,
                   help="spread the scale certificates over this many accounts, round-robin, and page through "
                   "the first (default 1: all in one account; e.g. 1000 for 1,000 accounts x 100)")
    p.add_argument("--spread-accounts", type=int,
                   help="the spread section: the scale certificates over this many accounts (default 1000; quick 20)")
    p.add_argument("--scale-requests", type=int, help="requests per page in the scale test (default 2; quick 2)")
    p.add_argument("--memory-requests", type=int, help="mixed requests of the memory test (default 100000; quick 200)")
    p.add_argument("--profile-seconds", type=float, help="seconds per scenario in-process (default 4; quick 1)")
    p.add_argument("--changes-seconds", type=float, help="seconds per scenario and side, before/after (default 4; quick 1)")
    p.add_argument("--subscription-samples", type=int,
                   help="mutations timed to the subscriber's message, per change feed (default 200; quick 20)")
    p.add_argument("--cycle-domains", type=int, default=200, help="primary domains of the reissue cycle (default 200)")
    p.add_argument("--output", type=Path, help="report path (default docs/performance.md; quick var/bench-quick/performance.md)")
    p.add_argument("--mongodb-uri", help="measure against this server (e.g. the docker-compose MongoDB) instead of "
                   "starting the embedded database (CERTS_EMBEDDED_DB: secantus or ferretdb); the bench databases on it "
                   "are dropped and rewritten")
    p.add_argument("--keep", action="store_true", help="keep the temporary database directory")
    p.add_argument("--render-only", action="store_true", help="rewrite the report from <output>.json, measure nothing")
    p.add_argument("--log-level", default="warning", help="the API process's log level (default warning)")
    a = p.parse_args(argv)
    q = a.quick

    def pick(value, full, quick):
        return value if value is not None else (quick if q else full)

    concurrency = [int(x) for x in a.concurrency.split(",")] if a.concurrency else ([1, 8] if q else [1, 8, 32, 64])
    return Options(
        quick=q,
        only=tuple(a.only) if a.only else SECTIONS,
        concurrency=concurrency,
        runs=pick(a.runs, 3, 1),
        duration=pick(a.duration, 4.0, 1.0),
        warmup=pick(a.warmup, 1.0, 0.3),
        max_requests=pick(a.max_requests, 20000, 20000),
        scale_certificates=pick(a.scale_certificates, 100_000, 2000),
        scale_accounts=max(1, a.scale_accounts),
        spread_accounts=max(2, pick(a.spread_accounts, 1000, 20)),
        scale_requests=pick(a.scale_requests, 2, 2),
        memory_requests=pick(a.memory_requests, 100_000, 200),
        profile_seconds=pick(a.profile_seconds, 4.0, 1.0),
        changes_seconds=pick(a.changes_seconds, 4.0, 1.0),
        subscription_samples=pick(a.subscription_samples, 200, 20),
        cycle_domains=a.cycle_domains,
        output=a.output or (ROOT / ("var/bench-quick/performance.md" if q else "docs/performance.md")),
        keep=a.keep,
        log_level=a.log_level,
        render_only=a.render_only,
        mongodb_uri=a.mongodb_uri,
    )


# -- processes --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class ApiProcess:
    """`python -m bench.server` on a free loopback port: uvicorn, httptools, uvloop, one worker."""

    def __init__(
        self, uri: str, data_dir: Path, db_name: str, log_path: Path, log_level: str, env_extra: dict | None = None
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ)
        for key in list(env):
            if key.startswith("CERTS_"):
                del env[key]
        env.update(
            MONGODB_URI=uri,
            CERTS_DATA_DIR=str(data_dir),
            CERTS_DB_NAME=db_name,
            CERTS_RATE_LIMIT_PER_MINUTE="0",
            CERTS_EXECUTION_TIMEOUT_SECONDS="120",
            CERTS_DB_TIMEOUT_MS="60000",
            PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
            **(env_extra or {}),
        )
        self.log = open(log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.server", "--port", str(self.port), "--log-level", log_level],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        self.log_path = log_path

    def wait_ready(self, timeout: float = 60) -> ApiProcess:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the API process exited ({self.process.returncode}); see {self.log_path}")
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the API process was not ready within {timeout:.0f} s; see {self.log_path}")

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def post(url: str, path: str, body: bytes, token: str, timeout: float = 300) -> tuple[int, dict, float]:
    req = urllib.request.Request(
        url + path, data=body, method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw, status = r.read(), r.status
    except urllib.error.HTTPError as e:
        raw, status = e.read(), e.code
    elapsed = time.perf_counter() - started
    return status, json.loads(raw or b"{}"), elapsed


def loadgen(spec: dict) -> dict:
    """One bounded run of the load generator in its own process."""
    timeout = float(spec.get("warmup", 0)) + max(float(spec["duration"]), float(spec.get("max_window", 30))) + 2 * float(spec.get("timeout", 60)) + 60
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run(
        [sys.executable, "-m", "bench.loadgen"], input=json.dumps(spec), capture_output=True, text=True,
        cwd=ROOT, env=env, timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"loadgen failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout)


# -- the database -----------------------------------------------------------------------


def settings_for(data_dir: Path, db_name: str, uri: str):
    from certreissue.settings import Settings

    return Settings(
        mongodb_uri=uri, db_name=db_name, data_dir=data_dir, rate_limit_per_minute=0,
        execution_timeout_seconds=120, db_timeout_ms=60000,
    )


async def with_services(settings, work):
    from certreissue.bootstrap import build_services

    services = build_services(settings, settings.mongodb_uri)
    try:
        await services.start()
        return await work(services)
    finally:
        await services.close()


async def purge_cycle_reissues(uri: str, db_name: str) -> int:
    """Deletes the reissues the cycle runs made (all cancelled), and their event slots, so
    every run starts from the same data set: FerretDB scans whole collections."""
    from pymongo import AsyncMongoClient

    client = AsyncMongoClient(uri)
    try:
        db = client[db_name]
        ids = [d["_id"] for d in await db.reissues.find({"reason": REQUEST_REASON}, {"_id": 1}).to_list()]
        if ids:
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                await db.reissues.delete_many({"_id": {"$in": chunk}})
                await db.reissue_transitions.delete_many({"reissueId": {"$in": chunk}})
        await db.reissue_locks.delete_many({"reissueId": {"$in": ids}}) if ids else None
        return len(ids)
    finally:
        await client.close()


# -- sections ---------------------------------------------------------------------------


def keys_for(bench: dict) -> dict:
    return {
        "certificate": bench["certificate_ids"],
        "previewReissue": bench["page_ids"],
        "reissueCycle": bench["cycle_ids"],
        "certificates50": [None],
    }


def preflight(api: ApiProcess, bench: dict) -> dict:
    """GraphQL and floor answer the same JSON (IDs of new reissues aside)."""
    token = bench["token"]
    checks = {}
    keys = keys_for(bench)
    for scenario in ("certificate", "certificates50", "previewReissue"):
        mismatches = []
        for key in (keys[scenario][:3] if scenario != "certificates50" else [None]):
            answers = []
            for variant in ("graphql", "floor"):
                path, body = request_for(scenario, variant, key)
                status, data, _ = post(api.url, path, body, token)
                answers.append((status, data))
            if answers[0] != answers[1]:
                mismatches.append({"key": key, "graphql": answers[0], "floor": answers[1]})
        checks[scenario] = {"same_json": not mismatches, "mismatch": mismatches[:1]}
    cycle = {}
    for variant in ("graphql", "floor"):
        cid = keys["reissueCycle"][0]
        steps = []
        for scenario in ("request", "cancel"):
            path, body = request_for(scenario, variant, cid if scenario == "request" else steps[-1]["reissue"]["id"])
            status, data, _ = post(api.url, path, body, token)
            steps.append(payload_of(data))
        cycle[variant] = [
            {"status": (s.get("reissue") or {}).get("status"), "userErrors": s.get("userErrors")} for s in steps
        ]
    checks["reissueCycle"] = {"same_json": cycle["graphql"] == cycle["floor"], "answers": cycle}
    return checks


def run_throughput(opts: Options, uri: str, data_dir: Path, work: Path, bench: dict, db_pid: int) -> dict:
    api = ApiProcess(uri, data_dir, DB_BENCH, work / "api-throughput.log", opts.log_level).wait_ready()
    try:
        checks = preflight(api, bench)
        for scenario, check in checks.items():
            log(f"preflight {scenario}: {'same JSON' if check['same_json'] else 'JSON DIFFERS'}")
        asyncio.run(purge_cycle_reissues(uri, DB_BENCH))
        plan = report.interleaved_plan(SCENARIOS, opts.concurrency, opts.runs)
        keys = keys_for(bench)
        records = []
        started = time.monotonic()
        for n, (run, scenario, concurrency, variant) in enumerate(plan, 1):
            spec = {
                "port": api.port, "token": bench["token"], "variant": variant, "concurrency": concurrency,
                "duration": opts.duration, "warmup": opts.warmup, "max_requests": opts.max_requests,
                "mode": "cycle" if scenario == "reissueCycle" else "simple", "scenario": scenario,
                "keys": keys[scenario], "timeout": 120, "cpu_pids": {"api": api.pid, **({"db": db_pid} if db_pid else {})},
            }
            result = loadgen(spec)
            if scenario == "reissueCycle":
                asyncio.run(purge_cycle_reissues(uri, DB_BENCH))
            records.append({"run": run, "scenario": scenario, "concurrency": concurrency, "variant": variant, **result})
            log(
                f"[{n}/{len(plan)}] run {run + 1} {scenario} c={concurrency} {variant}: {result['rps']:.1f} req/s "
                f"p99 {result['p99_ms']:.1f} ms ({result['requests']} requests; CPU ms/request "
                + ", ".join(f"{k} {v:.1f}" for k, v in result["cpu_ms_per_request"].items())
                + (f", errors {result['errors']}" if result["errors"] else "")
                + (f", userErrors {result['user_errors']}" if result["user_errors"] else "") + ")"
            )
        return {
            "records": records, "preflight": checks, "seconds": time.monotonic() - started,
            "concurrency": opts.concurrency, "runs": opts.runs, "duration": opts.duration, "warmup": opts.warmup,
            "max_requests": opts.max_requests, "command": opts.command("--only throughput"),
        }
    finally:
        api.stop()


def run_profile(opts: Options, uri: str, data_dir: Path, work: Path, bench: dict) -> dict:
    from bench.app import create_bench_app
    from bench.inproc import run_inprocess

    settings = settings_for(data_dir, DB_BENCH, uri)
    result = asyncio.run(
        run_inprocess(
            lambda: create_bench_app(settings, uri), bench["token"], keys_for(bench), SCENARIOS,
            seconds=opts.profile_seconds, max_requests=opts.max_requests, out_dir=work / "profiles",
            cleanup=lambda: purge_cycle_reissues(uri, DB_BENCH),
        )
    )
    result["command"] = opts.command("--only profile")
    result["seconds_per_scenario"] = opts.profile_seconds
    return result


def run_changes(opts: Options, uri: str, data_dir: Path, bench: dict) -> dict:
    from bench.app import create_bench_app
    from bench.inproc import run_changes as measure

    settings = settings_for(data_dir, DB_BENCH, uri)
    result = asyncio.run(
        measure(
            lambda tuning: create_bench_app(settings, uri, tuning=tuning), bench["token"], keys_for(bench),
            database=DB_BENCH, seconds=opts.changes_seconds, max_requests=opts.max_requests,
            cleanup=lambda: purge_cycle_reissues(uri, DB_BENCH),
        )
    )
    return {"changes": result, "seconds_per_side": opts.changes_seconds,
            "command": opts.command("--only changes")}


def run_memory(opts: Options, uri: str, data_dir: Path, work: Path, bench: dict) -> dict:
    api = ApiProcess(uri, data_dir, DB_BENCH, work / "api-memory.log", opts.log_level).wait_ready()
    try:
        keys = keys_for(bench)
        base = {
            "port": api.port, "token": bench["token"], "variant": "graphql", "concurrency": 8, "mode": "mixed",
            "schedule": MIXED_SCHEDULE, "keys": bench["certificate_ids"], "cycle_keys": keys["reissueCycle"],
            "duration": 3600, "warmup": 0, "timeout": 120,
        }
        warm = max(100 if opts.quick else 200, min(2000, opts.memory_requests // 20))
        loadgen({**base, "max_requests": warm})
        asyncio.run(purge_cycle_reissues(uri, DB_BENCH))
        before = rss_kib(api.pid)
        samples = [{"requests": 0, "rss_kib": before, "seconds": 0.0}]
        # Chunks of at most 2,000 requests, the cycles' reissues deleted after each: on
        # FerretDB every read of reissues scans them all, so letting them pile up would
        # measure a growing table rather than the API process.
        chunk = max(1, min(2000, opts.memory_requests // 10))
        done = 0
        total_s = 0.0
        errors: dict = {}
        user_errors: dict = {}
        while done < opts.memory_requests:
            n = min(chunk, opts.memory_requests - done)
            result = loadgen({**base, "max_requests": n})
            asyncio.run(purge_cycle_reissues(uri, DB_BENCH))
            done += result["requests"]
            total_s += result["elapsed_s"]
            for k, v in result["errors"].items():
                errors[k] = errors.get(k, 0) + v
            for k, v in result["user_errors"].items():
                user_errors[k] = user_errors.get(k, 0) + v
            samples.append({"requests": done, "rss_kib": rss_kib(api.pid), "seconds": total_s})
            log(f"memory: {done} requests, RSS {samples[-1]['rss_kib'] / 1024:.1f} MiB ({result['rps']:.0f} req/s)")
        after = samples[-1]["rss_kib"]
        return {
            "warmup_requests": warm, "requests": done, "seconds": total_s, "rps": done / total_s if total_s else 0,
            "rss_before_kib": before, "rss_after_kib": after, "growth": (after - before) / before if before else 0,
            "samples": samples, "errors": errors, "user_errors": user_errors, "concurrency": 8,
            "schedule": MIXED_SCHEDULE,
            "command": opts.command("--only memory", f"--memory-requests {opts.memory_requests}"),
        }
    finally:
        api.stop()



def run_subscriptions(opts: Options, uri: str, data_dir: Path, work: Path, bench: dict) -> dict:
    from bench.subscriptions import WATCH, measure

    feeds = {}
    certificate_id = bench["cycle_ids"][0]
    for feed in CHANGE_FEEDS:
        env = {"CERTS_CHANGE_FEED": feed}
        subscriber = ApiProcess(uri, data_dir, DB_BENCH, work / f"api-subscriber-{feed}.log", opts.log_level, env)
        mutator = ApiProcess(uri, data_dir, DB_BENCH, work / f"api-mutator-{feed}.log", opts.log_level, env)
        try:
            subscriber.wait_ready()
            mutator.wait_ready()
            result = asyncio.run(
                measure(subscriber.url, mutator.url, bench["token"], certificate_id, opts.subscription_samples)
            )
        finally:
            subscriber.stop()
            mutator.stop()
        asyncio.run(purge_cycle_reissues(uri, DB_BENCH))
        result["summary"] = {
            key: report.latency_summary(result[key]) for key in ("from_answer_ms", "from_send_ms", "mutation_ms")
        }
        feeds[feed] = result
        s = result["summary"]["from_answer_ms"]
        log(f"subscriptions {feed}: answer -> message median {s['median']:.1f} ms, p99 {s['p99']:.1f} ms "
            f"({result['samples']} samples, {result['messages']} messages)")
    return {
        "feeds": feeds, "document": WATCH, "samples": opts.subscription_samples,
        "command": opts.command("--only subscriptions", f"--subscription-samples {opts.subscription_samples}"),
    }


async def _explain_and_time(uri: str, ids: list[str], reps: int, account: str) -> dict:
    """Direct PyMongo timings of the reads behind the page, and the server's explain."""
    from pymongo import AsyncMongoClient

    client = AsyncMongoClient(uri, tz_aware=True)
    try:
        db = client[DB_SCALE]
        col = db.certificates
        deep_after = ids[89_999] if len(ids) >= 90_000 else ids[int(len(ids) * 0.9) - 1]
        queries = {
            "count_documents({account})": lambda: col.count_documents({"account": account}),
            "estimated_document_count()": lambda: col.estimated_document_count(),
            "first page: find({account}).sort(_id desc).limit(51)": lambda: col.find({"account": account}).sort("_id", -1).limit(51).to_list(),
            "deep page: find({account, _id < cursor}).sort(_id desc).limit(51)": lambda: col.find(
                {"account": account, "_id": {"$lt": deep_after}}).sort("_id", -1).limit(51).to_list(),
            "find_one({_id}) (the repository's get, the DataLoader for one ID)": lambda: col.find_one({"_id": ids[len(ids) // 2]}),
            "find_one({_id, account}) (not used: scans on FerretDB)": lambda: col.find_one({"_id": ids[len(ids) // 2], "account": account}),
            "find({_id: {$in: ids}, account}) (the DataLoader for several IDs)": lambda: col.find({"_id": {"$in": [ids[len(ids) // 2]]}, "account": account}).to_list(),
        }
        timings = {}
        for name, fn in queries.items():
            samples = []
            for _ in range(reps):
                started = time.perf_counter()
                await fn()
                samples.append((time.perf_counter() - started) * 1000)
            timings[name] = {"median_ms": report.median(samples), "samples_ms": samples}
        explains = {}
        commands = {
            "first page": {"find": "certificates", "filter": {"account": account}, "sort": {"_id": -1}, "limit": 51},
            "deep page": {"find": "certificates", "filter": {"account": account, "_id": {"$lt": deep_after}}, "sort": {"_id": -1}, "limit": 51},
            # totalCount: what count_documents sends
            "totalCount": {"aggregate": "certificates", "pipeline": [{"$match": {"account": account}}, {"$group": {"_id": 1, "n": {"$sum": 1}}}], "cursor": {}},
            "find_one({_id}) (the repository's get, the DataLoader for one ID)": {"find": "certificates", "filter": {"_id": ids[0]}, "limit": 1},
            "find_one({_id, account})": {"find": "certificates", "filter": {"_id": ids[0], "account": account}, "limit": 1},
        }
        for name, command in commands.items():
            try:
                r = await db.command({"explain": command})
                planner = r.get("queryPlanner")
                if planner is None and r.get("stages"):  # MongoDB's aggregate explain
                    planner = (r["stages"][0].get("$cursor") or {}).get("queryPlanner")
                explains[name] = {"queryPlanner": planner, **{k: r.get(k) for k in ("filterPushdown", "sortPushdown", "limitPushdown")}}
            except Exception as exc:  # noqa: BLE001 - report what the server says
                explains[name] = {"error": str(exc)}
        indexes = [
            {"name": i["name"], "key": dict(i["key"]), "unique": bool(i.get("unique"))}
            for i in await (await col.list_indexes()).to_list()
        ]
        stats = {}
        with contextlib.suppress(Exception):
            s = await db.command({"collStats": "certificates"})
            stats = {k: s.get(k) for k in ("count", "size", "storageSize", "avgObjSize", "totalIndexSize", "nindexes")}
        return {"timings": timings, "explain": explains, "indexes": indexes, "collstats": stats}
    finally:
        await client.close()


def run_scale(opts: Options, uri: str, data_dir: Path, work: Path, accounts: int | None = None) -> dict:
    """The scale certificates in `accounts` accounts (default --scale-accounts), paged
    through one of them."""
    from bench.dataset import load_scale_account, scale_account
    from domain.model import Role
    from domain.pagination import encode_cursor

    settings = settings_for(data_dir, DB_SCALE, uri)
    total, accounts = opts.scale_certificates, accounts or opts.scale_accounts
    account = scale_account(0, accounts)
    log(f"scale: loading {total} certificates into {accounts} account(s)")
    started = time.monotonic()

    async def load(services):
        await services.database.db.drop_collection("certificates")
        await services.start()
        ids = await load_scale_account(
            services, total, accounts=accounts, progress=lambda k: k % 20000 == 0 and log(f"scale: {k} inserted")
        )
        now = services.clock.now()
        token, _ = await services.tokens.create(account, Role.OWNER, now=now, expires_at=now + timedelta(days=30))
        return ids, token

    ids, token = asyncio.run(with_services(settings, load))
    load_s = time.monotonic() - started
    log(f"scale: loaded in {load_s:.0f} s")
    n = len(ids)  # the certificates of the account paged through
    deep_index = 89_999 if n >= 90_000 else int(n * 0.9) - 1
    deep_cursor = encode_cursor(ids[deep_index])
    api = ApiProcess(uri, data_dir, DB_SCALE, work / "api-scale.log", opts.log_level).wait_ready()
    try:
        # Alternate first page / deep page / certificate(id); every request is a sample (at
        # 100,000 certificates each takes tens of seconds: FerretDB reads the whole table).
        lat: dict[str, list[float]] = {"first page": [], "page after cursor": [], "certificate(id)": []}
        check = {}
        bodies = {
            "first page": graphql_body(PAGE, {"first": 50}),
            "page after cursor": graphql_body(PAGE, {"first": 50, "after": deep_cursor}),
        }
        cert_path, cert_body = request_for("certificate", "graphql", ids[n // 2])
        for round_ in range(opts.scale_requests):
            for name, body in bodies.items():
                status, data, elapsed = post(api.url, "/graphql", body, token)
                lat[name].append(elapsed * 1000)
                if round_ == 0:
                    page = (data.get("data") or {}).get("certificates") or {}
                    edges = page.get("edges") or []
                    check[name] = {
                        "status": status, "totalCount": page.get("totalCount"), "edges": len(edges),
                        "first_id_index": ids.index(edges[0]["node"]["id"]) if edges else None,
                        "errors": data.get("errors"),
                    }
                log(f"scale: {name} {elapsed * 1000:.0f} ms")
            lat["certificate(id)"].append(post(api.url, cert_path, cert_body, token)[2] * 1000)
            log(f"scale: certificate(id) {lat['certificate(id)'][-1]:.0f} ms")
        latency = {k: {"median_ms": report.median(v), "samples_ms": v} for k, v in lat.items()}
        first = latency["first page"]["median_ms"]
        latency["deep/first"] = latency["page after cursor"]["median_ms"] / first if first else 0
        direct = asyncio.run(_explain_and_time(uri, ids, 1 if n >= 50_000 else 3, account))
    finally:
        api.stop()
    extra = [f"--scale-accounts {accounts}"] if accounts > 1 else []
    return {
        "certificates": n, "total_certificates": total, "accounts": accounts, "load_seconds": load_s, "deep_index": deep_index + 1, "check": check, "latency": latency,
        **direct, "requests_per_page": opts.scale_requests,
        "command": opts.command("--only scale", f"--scale-certificates {total}", *extra),
    }


# -- machine ----------------------------------------------------------------------------


async def server_info(uri: str) -> dict:
    """What answers at `uri`: FerretDB and SecantusDB say so in buildInfo."""
    from pymongo import AsyncMongoClient

    client = AsyncMongoClient(uri, serverSelectionTimeoutMS=10000)
    try:
        info = await client.admin.command("buildInfo")
        # Both answer the MongoDB version they emulate too.
        ferret, secantus = info.get("ferretdbVersion"), info.get("secantusVersion")
        name = f"FerretDB {ferret}" if ferret else f"SecantusDB {secantus}" if secantus else f"MongoDB {info.get('version')}"
        return {"version": info.get("version"), "ferretdb": ferret is not None, "secantus": secantus is not None,
                "name": name}
    finally:
        await client.close()



def machine() -> dict:
    from importlib.metadata import version

    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = ""
    with contextlib.suppress(OSError):
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kib / 1024 / 1024:.0f} GiB"
    ferret = ""
    with contextlib.suppress(Exception):
        from adapters.ferretdb import locate_binary

        if embedded_kind() != "ferretdb":
            raise LookupError("not the embedded database measured")
        out = subprocess.run([str(locate_binary()), "--version"], capture_output=True, text=True, timeout=10).stdout
        ferret = next((line.split(":", 1)[1].strip() for line in out.splitlines() if line.lower().startswith("version")), out.split("\n")[0])
    packages = {}
    for name in ("strawberry-graphql", "graphql-core", "starlette", "uvicorn", "uvloop", "httptools", "pymongo", "pyinstrument",
                 "secantusdb"):
        with contextlib.suppress(Exception):
            packages[name] = version(name)
    return {
        "nproc": os.cpu_count(), "cpu": cpu, "memory": mem, "python": platform.python_version(),
        "implementation": platform.python_implementation(), "platform": platform.platform(), "ferretdb": ferret,
        "embedded": embedded_kind(),
        "packages": packages, "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "loadavg_start": list(os.getloadavg()), "busy_processes_start": busy_processes(),
    }


def git_commit() -> str:
    """The commit measured (the service code is read from the work tree), `+dirty` when changed."""
    with contextlib.suppress(Exception):
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "domain", "adapters", "schema", "resolvers", "certreissue"],
            cwd=ROOT, capture_output=True, text=True, timeout=10,
        ).stdout.strip()
        return head + ("+dirty" if dirty else "")
    return "unknown"


def busy_processes(threshold: float = 20.0) -> list[str]:
    """Other processes using the CPU right now (the machine may be shared): `ps` top entries."""
    with contextlib.suppress(Exception):
        out = subprocess.run(
            ["ps", "-eo", "pid,ppid,pcpu,comm", "--sort=-pcpu", "--no-headers"], capture_output=True, text=True, timeout=10
        ).stdout
        me = os.getpid()
        rows = []
        for line in out.splitlines()[:8]:
            pid, ppid, cpu, comm = line.split(None, 3)
            # this run's own processes (its FerretDB, API, load generator) are not "other"
            if float(cpu) >= threshold and me not in (int(pid), int(ppid)):
                rows.append(f"{comm} ({cpu}% CPU)")
        return rows
    return []


# -- main -------------------------------------------------------------------------------


def embedded_kind() -> str:
    """The embedded database a run starts (without --mongodb-uri): CERTS_EMBEDDED_DB, as the service reads it."""
    from certreissue.settings import Settings

    return Settings.from_env({"CERTS_EMBEDDED_DB": os.environ.get("CERTS_EMBEDDED_DB", "")}).embedded_db


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    from adapters.embedded import embedded_database

    json_path = opts.output.with_suffix(".json")
    if opts.render_only:
        from bench.render import write_report

        for line in write_report(json.loads(json_path.read_text()), opts.output):
            print(line)
        return 0
    results: dict = {}
    if set(opts.only) != set(SECTIONS) and json_path.exists():
        results = json.loads(json_path.read_text())
    work = Path(tempfile.mkdtemp(prefix="certreissue-bench-"))
    data_dir = work / "data"
    database = None if opts.mongodb_uri else embedded_database(embedded_kind(), work / "db")
    if database is None:
        uri = opts.mongodb_uri
        log(f"work dir {work}; server {uri.split('@')[-1]}")
    else:
        log(f"work dir {work}; starting {database.title}")
        uri = database.start()
    started = time.monotonic()
    ok = False
    try:
        results["machine"] = machine()
        results["machine"]["server"] = asyncio.run(server_info(uri))
        needs_bench = {"throughput", "changes", "profile", "memory", "subscriptions"} & set(opts.only)
        bench = None
        if needs_bench:
            from bench.dataset import load_bench_account

            t0 = time.monotonic()
            bench = asyncio.run(
                with_services(
                    settings_for(data_dir, DB_BENCH, uri),
                    lambda s: load_bench_account(s, cycle_domains=opts.cycle_domains),
                )
            ).to_json()
            results["dataset"] = {
                "certificates": len(bench["certificate_ids"]), "cycle_domains": len(bench["cycle_ids"]),
                "page_certificates": len(bench["page_ids"]), "active_reissues": bench["active_reissues"],
                "load_seconds": time.monotonic() - t0,
            }
            log(f"bench account loaded: {results['dataset']}")
        sections = {
            "throughput": lambda: run_throughput(opts, uri, data_dir, work, bench, database.process.pid if database else None),
            "changes": lambda: run_changes(opts, uri, data_dir, bench),
            "profile": lambda: run_profile(opts, uri, data_dir, work, bench),
            "memory": lambda: run_memory(opts, uri, data_dir, work, bench),
            "scale": lambda: run_scale(opts, uri, data_dir, work),
            "spread": lambda: run_scale(opts, uri, data_dir, work, opts.spread_accounts),
            "subscriptions": lambda: run_subscriptions(opts, uri, data_dir, work, bench),
            "console": lambda: run_console(
                opts, uri, data_dir, work, api_process=ApiProcess, settings_for=settings_for, with_services=with_services
            ),
        }
        for name in SECTIONS:
            if name in opts.only:
                log(f"section {name}")
                before = {"at": datetime.now(UTC).strftime("%H:%M:%S UTC"), "loadavg": list(os.getloadavg()),
                          "busy": busy_processes(), "commit": git_commit()}
                results[name] = sections[name]()
                if name in ("scale", "spread"):
                    results[name]["server"] = results["machine"]["server"]
                results[name]["conditions"] = {
                    "start": before,
                    "end": {"at": datetime.now(UTC).strftime("%H:%M:%S UTC"), "loadavg": list(os.getloadavg()),
                            "busy": busy_processes()},
                }
        results["machine"]["loadavg_end"] = list(os.getloadavg())
        results["machine"]["busy_processes_end"] = busy_processes()
        results["options"] = {"quick": opts.quick, "only": list(opts.only), "log_level": opts.log_level}
        results["total_seconds"] = time.monotonic() - started
        ok = True
    finally:
        if database is not None:
            database.stop()
        if ok and not opts.keep:
            profiles = work / "profiles"
            if profiles.exists():  # the full pyinstrument trees, kept out of git (var/)
                dest = ROOT / "var" / ("bench-quick-profiles" if opts.quick else "bench-profiles")
                shutil.rmtree(dest, ignore_errors=True)
                shutil.copytree(profiles, dest)
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"kept {work}")
    from bench.render import write_report

    opts.output.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(results, indent=1, default=str))
    lines = write_report(results, opts.output)
    log(f"wrote {opts.output} and {json_path.name} in {time.monotonic() - started:.0f} s")
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
