"""docs/performance.md (and its plot) from the raw figures of a run."""

from __future__ import annotations

import json
from pathlib import Path

from bench import console, report
from bench.scenarios import CERTIFICATE, CERTIFICATES, PAGE, PREVIEW, REQUEST, CANCEL, SCENARIOS

SCENARIO_TEXT = {
    "certificate": "`certificate(id)` with 12 fields (rotating over every certificate of the account)",
    "certificates50": "`certificates(first: 50)` with `totalCount`, nested `activeReissue { id status events { to } }` "
    "and `reissueEligibility { eligible flow reasons { code message } }`",
    "previewReissue": "`previewReissue` (csrSource ORIGINAL) rotating over the page certificates (every flow)",
    "reissueCycle": "`requestReissue` then `cancelReissue`, each client on its own primary domains out of 200 "
    "(ORGANIZATION_OTHER_BRAND: the reissue waits for the CA, so it can be cancelled); req/s counts both requests",
}


def _mb(kib: float) -> str:
    return f"{kib / 1024:.1f} MiB"


def conditions(section: dict) -> str:
    c = section.get("conditions")
    if not c:
        return ""

    def one(x):
        busy = ", ".join(x.get("busy") or []) or "no other busy process"
        return f"{x['at']} (load {', '.join(f'{v:.2f}' for v in x['loadavg'])}; {busy})"

    commit = f" on service code at commit `{c['start']['commit']}`" if c["start"].get("commit") else ""
    return f"\nMeasured{commit} from {one(c['start'])} to {one(c['end'])}.\n"


def _machine(m: dict) -> str:
    pk = ", ".join(f"{k} {v}" for k, v in m.get("packages", {}).items())
    return "\n".join(
        [
            f"- nproc: **{m.get('nproc')}** ({m.get('cpu') or 'unknown CPU'}), memory {m.get('memory')}",
            f"- Python {m.get('python')} ({m.get('implementation')}), {m.get('platform')}",
            _server_line(m),
            f"- {pk}",
            "- The database server, the API process and the load generator all share these cores.",
            f"- Load average (1, 5, 15 min) when the run started: {', '.join(f'{x:.2f}' for x in m.get('loadavg_start', []))}; "
            f"when it ended: {', '.join(f'{x:.2f}' for x in m.get('loadavg_end', []))}. Other processes busy at the start: "
            f"{', '.join(m.get('busy_processes_start') or []) or 'none'}; at the end: {', '.join(m.get('busy_processes_end') or []) or 'none'}.",
        ]
    )


def _server_line(m: dict) -> str:
    server = m.get("server") or {}
    if server.get("secantus"):
        return (f"- {server.get('name')} (WiredTiger; `secantusd-py`, its own process, started by the run on a "
                "temporary directory; CERTS_EMBEDDED_DB=secantus)")
    if server.get("ferretdb", True):
        return (f"- FerretDB {m.get('ferretdb')} (SQLite backend, its own process, started by the run on a temporary "
                "directory; CERTS_EMBEDDED_DB=ferretdb)")
    return f"- {server.get('name')} at `--mongodb-uri` (not started by the run)"


def _throughput(t: dict, png_name: str) -> tuple[str, list[str]]:
    cells = report.summarize(t["records"])
    conc = t["concurrency"]
    lines = report.summary_lines(cells, SCENARIOS, conc)
    ref = report.reference_concurrency(conc)
    pre = []
    for scenario, check in t.get("preflight", {}).items():
        pre.append(f"`{scenario}` {'same JSON' if check.get('same_json') else '**differs**'}")
    mismatch = [
        f"\n<details><summary>{s}: first difference</summary>\n\n```json\n{json.dumps(c.get('mismatch') or c.get('answers'), indent=1)[:3000]}\n```\n</details>\n"
        for s, c in t.get("preflight", {}).items()
        if not c.get("same_json")
    ]
    cut_note = ""
    text = f"""## Throughput: GraphQL against its floor

Command: `{t['command']}`
{conditions(t)}
One API process: uvicorn, `--loop uvloop --http httptools`, one worker, the service's own
app (`certreissue.app.create_app`, unchanged) plus bench-only floor routes in the same
process (`bench/app.py`): bare Starlette endpoints doing the same PyMongo reads (same
queries, same collections, a client with the service's options) and answering the same JSON,
built by hand; the reissue cycle's floor calls the domain services directly. Both sides
pass through the service's request-ID middleware; the API logs at `warning`; the mutation
rate limit is off (`CERTS_RATE_LIMIT_PER_MINUTE=0`), so the two sides differ only by the
GraphQL layer (Strawberry, its extensions, resolvers, DataLoaders, schema types).

The load comes from a second process (`bench/loadgen.py`): N clients, one keep-alive
connection each, closed loop, loopback only. Each run: at least {t['warmup']:g} s unrecorded
warm-up, until every client has had an answer; then the recording window: {t['duration']:g} s and at
least 2 completions per client (at most 30 s), or {t['max_requests']} requests, whichever comes first. Every cell is the median of
**{t['runs']} interleaved runs** (every run visits every cell; GraphQL and floor swap order
from one run to the next). The reissues a cycle run created are deleted after it, so every
run starts from the same data set. Before measuring, GraphQL and floor were compared
answer for answer: {', '.join(pre)}.{''.join(mismatch)}

Scenarios:
""" + "\n".join(f"- **{s}**: {SCENARIO_TEXT[s]}" for s in SCENARIOS) + f"""

{report.throughput_table(cells, SCENARIOS, conc)}

ratio = GraphQL req/s / floor req/s in the same run set. The summary lines at the top are the
{ref}-client rows. API / DB CPU ms/req: CPU time of the API process / the FerretDB process within
the recording window (from /proc), divided by the requests completed in it.{cut_note} Errors count non-200 answers and GraphQL `errors`; the reissue cycle's
`userErrors` (none expected: no two clients share a primary domain) were:
""" + "\n".join(
        f"- {s} c={c}: GraphQL {report._counts(cells[(s, c)].graphql_user_errors)}; floor {report._counts(cells[(s, c)].floor_user_errors)}"
        for s in ("reissueCycle",) for c in conc if (s, c) in cells
    ) + f"""

![throughput against concurrency]({png_name})
"""
    return text, lines


def _profile(p: dict) -> str:
    out = [
        "## Where the GraphQL path spends its time",
        "",
        f"Command: `{p['command']}`",
        conditions(p),
        "In-process: the bench app called as an ASGI callable (no HTTP server, no client), one request",
        "at a time, on a plain asyncio loop (so time spent waiting for FerretDB is `select` and is",
        f"told apart from CPU work); about {p.get('seconds_per_scenario', 0):g} s per scenario and side.",
        "",
        "| scenario | GraphQL CPU ms/request | floor CPU ms/request | GraphQL - floor (CPU) | GraphQL wall ms/request | floor wall ms/request |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for scenario, t in p.get("timings", {}).items():
        gc = report.median(x.get("cpu_ms", 0) for x in t["graphql"])
        fc = report.median(x.get("cpu_ms", 0) for x in t["floor"])
        g = report.median(x["mean_ms"] for x in t["graphql"])
        f = report.median(x["mean_ms"] for x in t["floor"])
        out.append(f"| {scenario} | {gc:.2f} | {fc:.2f} | {gc - fc:+.2f} | {g:.1f} | {f:.1f} |")
    out += [
        "",
        "CPU = `time.process_time()` of the process (the app and PyMongo; FerretDB runs in its own process)",
        "divided by requests; wall = elapsed / requests; sequential; the median of two interleaved",
        "passes per side; a reissue cycle counts as its two requests.",
        "",
        "pyinstrument (0.5 ms sampling, wall clock) on the GraphQL side of each scenario. *busy* is the",
        "sampled time minus the time the loop sat in `select` waiting for FerretDB and the time inside",
        "the transport's `write`/`socket.send` (a loopback write that wakes FerretDB; with both cores busy",
        "the kernel runs it first, so that time is mostly waiting for a CPU). Shares below are of busy time;",
        "the sampled wall time includes the profiler's own overhead (compare the process CPU figures).",
        "",
    ]
    for scenario, a in p.get("profiles", {}).items():
        busy = a["busy_s"]
        per_req = busy / a["requests"] * 1000 if a.get("requests") else 0
        out += [
            f"### {scenario}",
            "",
            f"{a.get('requests')} requests, {a['total_s']:.2f} s sampled: busy {busy:.2f} s "
            f"({per_req:.2f} ms per request; process CPU {a.get('cpu_ms', 0):.2f} ms per request), waiting for the "
            f"database {a['idle_s']:.2f} s, in the transport's write {a.get('send_s', 0):.2f} s.",
            "",
            "By package (self time): " + ", ".join(
                f"{c['package']} {c['share_of_busy']:.0%}" for c in a["categories"] if c["share_of_busy"] >= 0.01
            ),
            "",
            report.md_table(
                ["top self time", "where", "s", "share"],
                [[f"`{r['function']}`", r["file"], f"{r['seconds']:.3f}", f"{r['share_of_busy']:.1%}"] for r in a["top_self"][:12]],
            ),
            "",
            report.md_table(
                ["top inclusive time", "where", "s", "share"],
                [[f"`{r['function']}`", r["file"], f"{r['seconds']:.3f}", f"{r['share_of_busy']:.1%}"] for r in a["top_inclusive"][:15]],
            ),
            "",
        ]
    return "\n".join(out)


def plan_summary(planner: dict) -> str:
    """One line per plan: FerretDB's SQLite plan rows, or MongoDB's winning plan as its
    stages from the top (`LIMIT < FETCH < IXSCAN account_id`)."""
    if planner.get("Plan"):
        return "; ".join(planner["Plan"])
    stage, parts = planner.get("winningPlan"), []
    while isinstance(stage, dict):
        stage = stage.get("queryPlan", stage)
        name = stage.get("stage", "?")
        if stage.get("indexName"):
            name += f" {stage['indexName']}"
        parts.append(name)
        stage = stage.get("inputStage") or (stage.get("inputStages") or [None])[0]
    return " < ".join(parts) if parts else json.dumps(planner)[:300]


FERRETDB_SCALE_NOTE = [
    "**On FerretDB 1.24 the target (deep page within 1.5x of the first, index-backed) cannot be shown.**",
    "Its SQLite backend keeps each collection as one table of JSON documents; `createIndexes` is accepted",
    "and listed above, but a query uses SQL only for a filter that is exactly `{_id: <value>}`",
    "(`internal/backends/sqlite/collection.go`, `Query`: `if params.Filter.Len() == 1`), sorts only by",
    "`$natural`, and its plan for even that read is a full `SCAN` of the table (above). Every other filter",
    "(`account`, the keyset `_id < cursor`, the count) is applied in Go to every document of the table, so",
    "the first page and the deep page cost the same full read, which is why the ratio is near 1 and why",
    "neither is fast. The same queries are index-backed on MongoDB: the keyset page is `{account, _id < cursor}`",
    "sorted by `_id` descending, the prefix of the `account_id` index `{account: 1, _id: -1}`, and the count",
    "`{account}` reads that index's keys only. `--mongodb-uri` runs this section against a MongoDB server",
    "(`docker compose up -d mongo`); no MongoDB server ran where this report was made, so those figures are not here.",
    "",
]


SECANTUS_SCALE_NOTE = [
    "**On SecantusDB 0.7 the pages are index-backed but sorted in memory.** Its planner picks an index",
    "that starts with `account` (`IXSCAN` above), fetches and decodes every document the index bounds",
    "admit, then sorts them by `_id` in Python and keeps 51 (the blocking `SORT`",
    "stage above the scan): it walks an index in key order only when the filter is empty or is one equality",
    "on the sort field itself. So the first page of one account costs that account's whole size, and a",
    "page after a cursor costs what lies beyond the cursor. MongoDB answers the same `{account, _id < cursor}`",
    "sorted by `_id` descending from the same index with no `SORT` stage (`LIMIT < FETCH < IXSCAN`): it",
    "reads 51 index keys and 51 documents whatever the account's size. Its count reads the account's",
    "documents too (`FETCH`), where MongoDB counts index keys.",
    "",
]


def _scale(s: dict) -> str:
    lat = s["latency"]
    rows = [
        [name, f"{v['median_ms']:.0f}", ", ".join(f"{x:.0f}" for x in v["samples_ms"])]
        for name, v in lat.items()
        if isinstance(v, dict)
    ]
    direct = [[f"`{name}`", f"{v['median_ms']:.1f}", ", ".join(f"{x:.1f}" for x in v["samples_ms"])] for name, v in s["timings"].items()]
    explain = []
    for name, e in s["explain"].items():
        if "error" in e:
            explain.append([name, "error: " + e["error"], "", "", ""])
        else:
            plan = plan_summary(e.get("queryPlanner") or {})
            explain.append([name, f"`{plan}`", e.get("filterPushdown"), e.get("sortPushdown"), e.get("limitPushdown")])
    idx = ", ".join(f"`{i['name']}` {i['key']}" + (" unique" if i["unique"] else "") for i in s.get("indexes", []))
    check = s.get("check", {})
    return "\n".join(
        [
            "## Scale: one account with many certificates" if s.get("accounts", 1) <= 1 else
            f"## Scale: {s['accounts']} accounts sharing {s['total_certificates']} certificates",
            "",
            f"Command: `{s['command']}`",
            conditions(s),
            (f"{s['certificates']} certificates in one account (its own database), inserted in the service's"
             if s.get("accounts", 1) <= 1 else
             f"{s['total_certificates']} certificates spread round-robin over {s['accounts']} accounts (its own database; "
             f"the account paged through has {s['certificates']}), inserted in the service's"),
            f"document format (`adapters.mongo.certificate_to_doc`) in {s['load_seconds']:.0f} s; "
            f"collection stats: {json.dumps(s.get('collstats'))}.",
            f"Through the API (GraphQL, one client, {s['requests_per_page']} requests each, alternating): the first page",
            f"of `certificates(first: 50)` with `totalCount`, and the page after the cursor of certificate {s['deep_index']}.",
            f"Answers: first page {check.get('first page', {}).get('edges')} edges, totalCount "
            f"{check.get('first page', {}).get('totalCount')}; after the cursor {check.get('page after cursor', {}).get('edges')} "
            f"edges, starting at position {(check.get('page after cursor', {}).get('first_id_index') or 0) + 1} of the list.",
            "",
            report.md_table(["request", "median ms", "samples ms"], rows[:3]),
            "",
            f"**Page after cursor {s['deep_index']} / first page: {lat.get('deep/first', 0):.2f}x.**",
            "",
            "The reads behind it, timed directly with PyMongo against the same server:",
            "",
            report.md_table(["read", "median ms", "samples ms"], direct),
            "",
            f"Indexes on `certificates`: {idx}.",
            "",
            "What the server's `explain` says:",
            "",
            report.md_table(["query", "plan", "filterPushdown", "sortPushdown", "limitPushdown"], explain),
            "",
            *(FERRETDB_SCALE_NOTE if any(e.get("filterPushdown") is not None for e in s["explain"].values()) else []),
            *(SECANTUS_SCALE_NOTE if s.get("server", {}).get("secantus") else []),
        ]
    )



def _changes(c: dict) -> str:
    out = [
        "## Before and after: each optimisation of the GraphQL layer",
        "",
        f"Command: `{c['command']}`",
        conditions(c),
        "In-process, like the profile below: the service's app twice in one process on the same database, once as",
        "it is (after) and once with one optimisation turned off (before; `resolvers.context.Tuning`, a switch",
        "that exists for this measurement only); one request at a time; the two sides alternate before, after,",
        f"before, after, {c['seconds_per_side'] / 2:g} s each. CPU = `time.process_time()` per request (FerretDB runs in",
        "its own process), wall = elapsed per request, commands = database commands per request (PyMongo",
        "command monitoring, the fewest of 3 requests).",
        "",
        "| change | scenario | CPU ms before | CPU ms after | CPU after / before | wall ms before | wall ms after | commands before | commands after |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    notes = []
    for change, v in c["changes"].items():
        notes.append(f"- `{change}`: {v['what']}.")
        for scenario, row in v["scenarios"].items():
            b, a = row["before"], row["after"]
            ratio = a["cpu_ms"] / b["cpu_ms"] if b["cpu_ms"] else 0
            out.append(
                f"| `{change}` | {scenario} | {b['cpu_ms']:.2f} | {a['cpu_ms']:.2f} | {ratio:.2f} | {b['wall_ms']:.1f} | "
                f"{a['wall_ms']:.1f} | {b['commands']} | {a['commands']} |"
            )
    return "\n".join([*out, "", *notes, ""]) + "\n"


def _memory(m: dict) -> str:
    sched = ", ".join(f"{name} {w}" for name, w in m["schedule"])
    samples = m["samples"]
    step = max(1, (len(samples) - 1) // 10)  # about 10 rows, the first and last always
    shown = [x for i, x in enumerate(samples) if i % step == 0 or i == len(samples) - 1]
    rows = [[x["requests"], _mb(x["rss_kib"]), f"{x['seconds']:.0f}"] for x in shown]
    return "\n".join(
        [
            "## Memory of one API process",
            "",
            f"Command: `{m['command']}`",
            conditions(m),
            f"A fresh API process; {m['warmup_requests']} mixed requests to warm it up, then RSS (`VmRSS`);",
            f"then **{m['requests']} mixed GraphQL requests** at {m['concurrency']} clients ({m['rps']:.0f} req/s, {m['seconds']:.0f} s), schedule per",
            f"{sum(w for _, w in m['schedule'])} actions: {sched} (a cycle is two requests). Errors: {report._counts(m['errors'])}; userErrors: {report._counts(m['user_errors'])}.",
            "",
            f"**RSS before {_mb(m['rss_before_kib'])}, after {_mb(m['rss_after_kib'])}: {m['growth']:+.1%}.**",
            "",
            *([
                f"{m['requests']} requests, not 100,000: at the {m['rps']:.0f} req/s measured here, 100,000 would take "
                f"about {100_000 / m['rps'] / 3600:.1f} h. The count is `--memory-requests N`.",
                "",
            ] if m["requests"] < 100_000 else []),
            report.md_table(["requests", "RSS", "s"], rows),
            "",
        ]
    )


FEED_TEXT = {
    "change-stream": "change stream (`CERTS_CHANGE_FEED=change-stream`; `auto` on SecantusDB and MongoDB)",
    "poll": "polling every 1 s (`CERTS_CHANGE_FEED=poll`; `auto` on FerretDB)",
}


def _subscriptions(sub: dict) -> str:
    rows = []
    for feed, r in sub["feeds"].items():
        a, s, m = r["summary"]["from_answer_ms"], r["summary"]["from_send_ms"], r["summary"]["mutation_ms"]
        rows.append([FEED_TEXT.get(feed, feed), a["n"], f"{a['median']:.1f}", f"{a['p99']:.1f}",
                     f"{a['min']:.1f} / {a['max']:.1f}", f"{s['median']:.1f}", f"{s['p99']:.1f}", f"{m['median']:.1f}"])
    return "\n".join(
        [
            "## Subscriptions: from a mutation's answer to the subscriber's message",
            "",
            f"Command: `{sub['command']}`",
            conditions(sub),
            "Two API processes on the same database, each with the change feed named in the first column: a",
            "subscriber on one (a WebSocket, graphql-transport-ws) watches a certificate of the reissue cycle with",
            f"`{sub['document']}`; the bench sends `requestReissue` and `cancelReissue` to the other by HTTP,",
            "alternately, one at a time (each turns the certificate REISSUING or ISSUED again: one sample each,",
            f"{sub['samples']} per feed), with a pause of 0-1 s (uniform) between them so that a mutation lands at",
            "any phase of a poll. Latency from the moment the mutation's answer has arrived to the moment",
            "the message showing the new status has; a negative figure would be a message before the answer. Also",
            "from the moment the mutation was sent, and the mutation's own time. Milliseconds.",
            "",
            report.md_table(
                ["change feed", "samples", "answer to message, median", "p99", "min / max", "send to message, median",
                 "p99", "mutation, median"],
                rows,
            ),
            "",
        ]
    )


def _targets(results: dict) -> str:
    """The performance targets next to what this run measured (figures, not assertions)."""
    rows = []
    if "throughput" in results:
        cells = report.summarize(results["throughput"]["records"])
        conc = results["throughput"]["concurrency"]

        def ratios(scenario):
            return [cells[(scenario, c)].ratio for c in conc if (scenario, c) in cells]

        for scenario, floor in (("certificate", 0.50), ("certificates50", 0.25)):
            r = ratios(scenario)
            if r:
                rows.append([f"`{scenario}` GraphQL / floor req/s >= {floor:.2f}",
                             ", ".join(f"{c} clients {x:.2f}" for c, x in zip(conc, r)),
                             "met" if min(r) >= floor else "**not met**"])
        ref = report.reference_concurrency(conc)
        cycle = cells.get(("reissueCycle", ref))
        if cycle:
            unexpected = {k: v for k, v in (cycle.graphql_user_errors or {}).items()}
            rows.append([f"`reissueCycle` p99 at {ref} clients reported; no lock errors but the expected",
                         f"p99 {cycle.graphql_p99_ms:.0f} ms; errors {report._counts(cycle.graphql_errors)}; "
                         f"userErrors {report._counts(unexpected)}",
                         "reported" + ("" if not unexpected and not cycle.graphql_errors else " (**errors**)")])
    if "changes" in results:
        row = results["changes"]["changes"].get("batch_loads", {}).get("scenarios", {}).get("certificates50")
        if row:
            rows.append(["`certificates(first: 50)` nested: constant database round trips (<= 3)",
                         f"{row['after']['commands']} commands per request (without batching: {row['before']['commands']}); "
                         "5 vs 50 certificates equal: `tests/integration/test_round_trips.py`",
                         "met" if row["after"]["commands"] <= 3 else "**not met**"])
    if "scale" in results:
        sc = results["scale"]
        deep = sc["latency"].get("deep/first", 0)
        ferret = any(e.get("filterPushdown") is not None for e in sc["explain"].values())
        secantus = bool(sc.get("server", {}).get("secantus"))
        rows.append([f"page after cursor {sc['deep_index']} within 1.5x of the first page, index-backed",
                     f"{deep:.2f}x at {sc['certificates']} certificates; first page "
                     f"{sc['latency']['first page']['median_ms'] / 1000:.1f} s",
                     "ratio met, **not index-backed on FerretDB** (see Scale)" if ferret and deep <= 1.5
                     else "met; index-backed, **sorted in memory on SecantusDB** (see Scale)" if secantus and deep <= 1.5
                     else ("met" if deep <= 1.5 else "**not met**")])
    if "spread" in results:
        sp = results["spread"]
        lat = sp["latency"]
        worst = max(lat["first page"]["median_ms"], lat["page after cursor"]["median_ms"])
        rows.append([f"{sp['total_certificates']:,} certificates across {sp['accounts']:,} accounts: first page and "
                     "deep page under 50 ms each",
                     f"first page {lat['first page']['median_ms']:.0f} ms, page after cursor "
                     f"{lat['page after cursor']['median_ms']:.0f} ms; `certificate(id)` {lat['certificate(id)']['median_ms']:.0f} ms",
                     "met" if worst < 50 else "**not met**"])
    if "throughput" in results:
        cells = report.summarize(results["throughput"]["records"])
        for scenario, label, floor in (("certificate", "`certificate(id)`", 1000), ("certificates50", "`certificates(first: 50)` nested", 100)):
            cell = cells.get((scenario, 32))
            if cell:
                rows.append([f"{label} >= {floor:,} req/s at 32 clients", f"{cell.graphql_rps:.0f} req/s",
                             "met" if cell.graphql_rps >= floor else "**not met**"])
    if "memory" in results:
        m = results["memory"]
        rows.append([f"RSS growth < 10% over 100,000 mixed requests",
                     f"{m['growth']:+.1%} over {m['requests']} requests",
                     ("met" if m["growth"] < 0.10 else "**not met**") + ("" if m["requests"] >= 100_000 else " (fewer requests)")])
    if "console" in results:
        rows.extend(console.targets(results["console"]))
    if not rows:
        return ""
    return "\n".join(["## Targets", "", report.md_table(["target", "this run", ""], rows), "",
                      *_absolute_targets_why(results), ""]) + "\n"


def _absolute_targets_why(results: dict) -> list[str]:
    """Why an absolute req/s target was not met, from the CPU each process spent per request
    in the same cells: the cores are shared, so their sum bounds what one machine can do."""
    if "throughput" not in results:
        return []
    cells = report.summarize(results["throughput"]["records"])
    cores = results["machine"].get("nproc") or 1
    lines = []
    for scenario, label, target in (("certificate", "`certificate(id)`", 1000),
                                    ("certificates50", "`certificates(first: 50)` nested", 100)):
        cell = cells.get((scenario, 32))
        if cell is None or cell.graphql_rps >= target or not cell.graphql_cpu_ms:
            continue
        cpu = cell.graphql_cpu_ms
        total = sum(cpu.values())
        lines.append(
            f"{label} at 32 clients: each request cost {cpu.get('api', 0):.1f} ms of CPU in the API process, "
            f"{cpu.get('db', 0):.1f} ms in the database server and {cpu.get('loadgen', 0):.1f} ms in the load "
            f"generator, {total:.1f} ms in all, so {cores} cores cannot answer more than "
            f"{1000 * cores / total:.0f} req/s with all three on them; the {target:,} req/s target needs "
            f"{1000 * cores / target:.1f} ms a request. The database server's share is "
            f"{cpu.get('db', 0) / total:.0%}: the embedded server handles each command in Python (over "
            "WiredTiger), where MongoDB's `mongod` is C++ and would run on its own machine."
        )
    if lines:
        lines = ["Why the absolute targets are not met (measured, same cells):", "", *(f"- {x}" for x in lines), ""]
    return lines + [
        "PyMongo's `AsyncMongoClient` was compared with Motor 3.7.1 once, on 2026-11-27 against the embedded "
        "FerretDB (10,000 `find_one` and 10,000 `update_one` by `_id` per driver, one caller; 2,000 each with 16): "
        "AsyncMongoClient did 1.09x and 1.11x Motor's operations per second with one caller, 1.03x and 1.02x with "
        "16. The comparison is not part of the bench any more: the service does not use Motor, which MongoDB has "
        "deprecated.",
    ]


def write_report(results: dict, output: Path) -> list[str]:
    png = output.with_name(output.stem + "-throughput.png")
    parts = [
        "# Performance",
        "",
        f"Written by `make bench` (`.venv/bin/python -m bench`) on {results['machine']['date']}; every figure "
        f"below was measured by a run of the harness in `bench/` (raw figures: `{output.with_suffix('.json').name}`). "
        "Each section gives the command that reproduces it alone.",
        "",
        "## Machine",
        "",
        _machine(results["machine"]),
        "",
    ]
    if "dataset" in results:
        d = results["dataset"]
        parts += [
            "## Data set",
            "",
            f"Account `bench` (database `certreissue_bench`): {d['certificates']} certificates uploaded through "
            f"`CertificateService.upload` (real EC P-256 chains, keys and CSRs made by the run): "
            f"{d['cycle_domains']} OV certificates of another brand, one per primary domain (the reissue cycle), then the "
            f"{d['page_certificates']} newest of every flow under 12 primary domains, {d['active_reissues']} of them with a "
            f"reissue pending (made with `ReissueService.request`), so the first page has REISSUING certificates, "
            f"REISSUE_IN_PROGRESS and PRIMARY_DOMAIN_LOCKED reasons. Loaded in {d['load_seconds']:.0f} s.",
            "",
        ]
    lines: list[str] = []
    if "throughput" in results:
        text, lines = _throughput(results["throughput"], png.name)
        cells = report.summarize(results["throughput"]["records"])
        from bench.plot import throughput_plot

        throughput_plot(
            cells, SCENARIOS, results["throughput"]["concurrency"], png,
            f"GraphQL vs floor, median of {results['throughput']['runs']} interleaved runs "
            f"({results['machine'].get('nproc')} cores, Python {results['machine'].get('python')})",
        )
        parts += [
            "## Summary",
            "",
            f"At {report.reference_concurrency(results['throughput']['concurrency'])} concurrent clients; "
            "ratio = GraphQL req/s / floor req/s; p99 of the GraphQL side:",
            "",
            "```",
            *lines,
            "```",
            "",
            text,
        ]
    parts.insert(parts.index("## Machine"), _targets(results))
    if "changes" in results:
        parts.append(_changes(results["changes"]))
    if "profile" in results:
        parts.append(_profile(results["profile"]))
    if "scale" in results:
        parts.append(_scale(results["scale"]))
    if "spread" in results:
        parts.append(_scale(results["spread"]))
    if "memory" in results:
        parts.append(_memory(results["memory"]))
    if "subscriptions" in results:
        parts.append(_subscriptions(results["subscriptions"]))
    if "console" in results:
        parts.append(console.section(results["console"], conditions(results["console"]), report.md_table))
        lines = [*lines, *console.summary_lines(results["console"])]
    parts += [
        "## The GraphQL documents",
        "",
        "```graphql",
        CERTIFICATE,
        CERTIFICATES,
        PREVIEW,
        REQUEST,
        CANCEL,
        PAGE,
        "```",
        "",
    ]
    output.write_text("\n".join(parts))
    return lines
