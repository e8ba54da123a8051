"""Soak: N clients for M minutes of mixed reissue traffic against two API processes on one
database, with the invariant checker sampled during and after.

    .venv/bin/python scripts/soak.py --clients 16 --minutes 5 [--json out.json]

Loopback only; bounded by --minutes and --max-requests. Prints requests done, outcomes by
code, and invariant violations (must be 0; the exit status is 1 otherwise).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from adapters.embedded import embedded_database, free_port  # noqa: E402
from adapters.invariants import check_invariants  # noqa: E402
from certreissue.bootstrap import build_services  # noqa: E402
from certreissue.demo import DemoCertificate, upload_entry  # noqa: E402
from certreissue.settings import Settings  # noqa: E402
from domain.model import Brand, Caller, Role, ValidationLevel  # noqa: E402
from domain.ports import Clock  # noqa: E402
from domain.rules import LOCK_GRACE  # noqa: E402

REQUEST = """mutation($input: RequestReissueInput!) { requestReissue(input: $input) {
  reissue { id status } userErrors { code } } }"""
ACT = """mutation($id: ID!) { %s(reissueId: $id) { reissue { id status } userErrors { code } } }"""
LIST = "{ certificates(first: 50) { totalCount edges { node { id status activeReissue { id } reissueEligibility { eligible } } } } }"
PREVIEW = """query($input: RequestReissueInput!) { previewReissue(input: $input) { eligibility { eligible } userErrors { code } } }"""


class Later(Clock):
    def __init__(self, offset: timedelta) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


def serve(env: dict, port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "certreissue"), "serve", "--port", str(port), "--log-level", "warning"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


async def wait_ready(url: str) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(300):
            try:
                if (await http.get(f"{url}/readyz", timeout=1)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} did not become ready")


async def seed(services, account: str, zones: int, per_zone: int) -> list[tuple[str, str]]:
    """Certificates of every flow under `zones` primary domains; returns (id, kind)."""
    owner = Caller(account, Role.OWNER)
    kinds = [
        ("dv", Brand.SECTIGO, ValidationLevel.DV, None),
        ("wotrus", Brand.WOTRUS, ValidationLevel.OV, "Soak Ltd"),
        ("other", Brand.DIGICERT, ValidationLevel.OV, "Soak Ltd"),
    ]
    made = []
    for z in range(zones):
        zone = f"soak{z}-{uuid.uuid4().hex[:6]}.com"
        for n in range(per_zone):
            kind, brand, level, org = kinds[n % len(kinds)]
            entry = DemoCertificate(f"h{n}.{zone}", brand, level, organization=org)
            cert = await upload_entry(services, owner, entry)
            made.append((cert.id, kind))
    return made


async def client_loop(n, urls, tokens, certs, deadline, budget, outcomes, latencies):
    rng = random.Random(n)
    async with httpx.AsyncClient(timeout=30) as http:
        while time.monotonic() < deadline and budget["left"] > 0:
            budget["left"] -= 1
            url = urls[rng.randrange(len(urls))]
            cid, kind = certs[rng.randrange(len(certs))]
            op = rng.random()
            started = time.perf_counter()
            try:
                if op < 0.3:
                    code = await run(http, url, tokens["owner"], LIST, {}, "certificates")
                elif op < 0.45:
                    code = await run(http, url, tokens["owner"], PREVIEW,
                                     {"input": {"certificateId": cid, "reason": "soak"}}, "previewReissue")
                else:
                    source = "ORIGINAL" if rng.random() < 0.3 else "ONLINE"
                    inp = {"certificateId": cid, "csrSource": source, "reason": "soak"}
                    if source == "ONLINE":
                        inp["keyAlgorithm"] = "ECC"
                    if kind == "wotrus" and rng.random() < 0.5:
                        inp["organizationName"] = f"Soak {rng.randrange(1000)}"
                    body = await post(http, url, tokens["owner"], REQUEST, {"input": inp})
                    code, rid = outcome(body, "requestReissue")
                    if rid and code == "OK":
                        status = body["data"]["requestReissue"]["reissue"]["status"]
                        follow = {
                            "PENDING_MANUAL_REVIEW": ("approveReissue", "reviewer"),
                            "PENDING_CA_VERIFICATION": ("confirmCaVerification", "operator"),
                        }.get(status, ("cancelReissue", "owner"))
                        if status != "ISSUED":
                            if rng.random() < 0.3:
                                follow = ("cancelReissue", "owner")
                            code2, _ = outcome(await post(http, urls[rng.randrange(len(urls))], tokens[follow[1]],
                                                          ACT % follow[0], {"id": rid}), follow[0])
                            outcomes[f"{follow[0]}:{code2}"] += 1
                    code = f"requestReissue:{code}"
                outcomes[code] += 1
            except httpx.HTTPError as exc:
                outcomes[f"transport:{type(exc).__name__}"] += 1
            latencies.append(time.perf_counter() - started)


async def post(http, url, token, query, variables):
    response = await http.post(f"{url}/graphql", json={"query": query, "variables": variables},
                               headers={"Authorization": f"Bearer {token}"})
    return response.json()


def outcome(body, field):
    if body.get("errors"):
        return body["errors"][0].get("extensions", {}).get("code", "ERROR"), None
    payload = body["data"][field]
    if isinstance(payload, dict) and payload.get("userErrors"):
        return payload["userErrors"][0]["code"], None
    reissue = payload.get("reissue") if isinstance(payload, dict) else None
    return "OK", reissue["id"] if reissue else None


async def run(http, url, token, query, variables, field):
    code, _ = outcome(await post(http, url, token, query, variables), field)
    return f"{field}:{code}"


async def main(args) -> int:
    work = Path(tempfile.mkdtemp(prefix="soak-"))
    # The embedded database CERTS_EMBEDDED_DB names (the service's default otherwise).
    database = embedded_database(Settings.from_env().embedded_db, work / "db")
    database.start()
    settings = Settings(db_name="soak", data_dir=work / "data", rate_limit_per_minute=0)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CERTS_", "MONGODB_"))}
    env.update(MONGODB_URI=database.uri, CERTS_DB_NAME="soak", CERTS_DATA_DIR=str(settings.data_dir),
               CERTS_GRAPHIQL="false", CERTS_RATE_LIMIT_PER_MINUTE="0")
    ports = [free_port(), free_port()]
    processes = [serve(env, p) for p in ports]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    services = build_services(settings, database.uri)
    report: dict = {"clients": args.clients, "minutes": args.minutes, "processes": 2, "database": database.title}
    try:
        await asyncio.gather(*(wait_ready(u) for u in urls))
        account = "soak"
        certs = await seed(services, account, args.zones, args.per_zone)
        now = services.clock.now()
        tokens = {
            r: (await services.tokens.create(None if Role(r).is_staff else account, Role(r), now=now,
                                             expires_at=now + timedelta(days=1)))[0]
            for r in ("owner", "reviewer", "operator")
        }
        outcomes: Counter = Counter()
        latencies: list[float] = []
        budget = {"left": args.max_requests}
        started = time.monotonic()
        deadline = started + args.minutes * 60
        samples = []
        clients = [asyncio.create_task(client_loop(i, urls, tokens, certs, deadline, budget, outcomes, latencies))
                   for i in range(args.clients)]
        while not all(c.done() for c in clients):
            await asyncio.sleep(min(10, max(0.5, deadline - time.monotonic())))
            violations = await check_invariants(services.database.db, grace_seconds=30)
            samples.append(len(violations))
            if violations:
                print("violation during the run:", *violations[:5], sep="\n  ", file=sys.stderr)
        await asyncio.gather(*clients)
        elapsed = time.monotonic() - started
        later = build_services(settings, database.uri, clock=Later(LOCK_GRACE + timedelta(seconds=1)))
        try:
            await later.reissues.sweep()
            final = await check_invariants(later.database.db, now=later.clock.now())
        finally:
            await later.close()
        latencies.sort()
        done = sum(outcomes.values())
        report.update(
            requests=done,
            seconds=round(elapsed, 1),
            rps=round(done / elapsed, 1) if elapsed else 0,
            p50_ms=round(latencies[len(latencies) // 2] * 1000, 1) if latencies else None,
            p99_ms=round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1) if latencies else None,
            outcomes=dict(sorted(outcomes.items())),
            invariant_samples=len(samples),
            violations_during=sum(samples),
            violations_after=len(final),
            certificates=len(certs),
            primary_domains=args.zones,
        )
        print(f"requests={done} seconds={elapsed:.1f} rps={report['rps']} p50_ms={report['p50_ms']} p99_ms={report['p99_ms']}")
        for code, count in sorted(outcomes.items()):
            print(f"  {code}: {count}")
        print(f"invariant samples={len(samples)} violations_during={sum(samples)} violations_after={len(final)}")
        for v in final[:20]:
            print("  ", v)
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=2))
        return 0 if not final and not sum(samples) else 1
    finally:
        for p in processes:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                p.wait(30)
        await services.close()
        database.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--max-requests", type=int, default=1_000_000)
    parser.add_argument("--zones", type=int, default=8)
    parser.add_argument("--per-zone", type=int, default=3)
    parser.add_argument("--json", help="write the figures to this file")
    raise SystemExit(asyncio.run(main(parser.parse_args())))
