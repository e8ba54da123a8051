"""Figures to text: the run plan, medians, the summary lines and docs/performance.md.
Pure functions of plain data (no I/O, no third-party imports): unit-tested."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

VARIANTS = ("graphql", "floor")


def interleaved_plan(scenarios, concurrencies, runs: int) -> list[tuple[int, str, int, str]]:
    """(run, scenario, concurrency, variant) in the order to run them: every run visits
    every cell once, so drift over time spreads over all cells, and the GraphQL and floor
    sides of a cell swap order from one run to the next."""
    plan = []
    for run in range(runs):
        order = VARIANTS if run % 2 == 0 else tuple(reversed(VARIANTS))
        for scenario in scenarios:
            for concurrency in concurrencies:
                for variant in order:
                    plan.append((run, scenario, concurrency, variant))
    return plan


def median(values) -> float:
    values = list(values)
    return float(statistics.median(values)) if values else 0.0


def latency_summary(values) -> dict:
    """Median, p99 (nearest rank), min and max of some latencies, and how many."""
    ordered = sorted(values)
    if not ordered:
        return {"n": 0, "median": 0.0, "p99": 0.0, "min": 0.0, "max": 0.0}
    rank = max(1, math.ceil(0.99 * len(ordered)))
    return {"n": len(ordered), "median": median(ordered), "p99": float(ordered[rank - 1]),
            "min": float(ordered[0]), "max": float(ordered[-1])}


@dataclass
class Cell:
    """One scenario at one concurrency: the medians of its runs, per side."""

    scenario: str
    concurrency: int
    runs: int
    graphql_rps: float
    floor_rps: float
    graphql_p50_ms: float
    graphql_p99_ms: float
    floor_p50_ms: float
    floor_p99_ms: float
    graphql_errors: dict = field(default_factory=dict)
    floor_errors: dict = field(default_factory=dict)
    graphql_user_errors: dict = field(default_factory=dict)
    floor_user_errors: dict = field(default_factory=dict)
    graphql_requests: int = 0
    floor_requests: int = 0
    # CPU milliseconds per request spent by each process within the recording window
    graphql_cpu_ms: dict = field(default_factory=dict)
    floor_cpu_ms: dict = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.graphql_rps / self.floor_rps if self.floor_rps else 0.0


def _sum_counts(dicts) -> dict:
    total: dict = {}
    for d in dicts:
        for k, v in (d or {}).items():
            total[k] = total.get(k, 0) + v
    return total


def _median_counts(dicts) -> dict:
    keys: dict[str, list[float]] = {}
    for d in dicts:
        for k, v in (d or {}).items():
            keys.setdefault(k, []).append(v)
    return {k: median(v) for k, v in keys.items()}


def summarize(records: list[dict]) -> dict[tuple[str, int], Cell]:
    """records: {scenario, concurrency, variant, run, rps, p50_ms, p99_ms, requests, errors,
    user_errors}; each figure of a cell is the median over its runs."""
    groups: dict[tuple[str, int, str], list[dict]] = {}
    for r in records:
        groups.setdefault((r["scenario"], r["concurrency"], r["variant"]), []).append(r)
    cells = {}
    for scenario, concurrency in sorted({(s, c) for s, c, _ in groups}, key=lambda k: (k[0], k[1])):
        g = groups.get((scenario, concurrency, "graphql"), [])
        f = groups.get((scenario, concurrency, "floor"), [])
        cells[(scenario, concurrency)] = Cell(
            scenario=scenario,
            concurrency=concurrency,
            runs=min(len(g), len(f)) if g and f else max(len(g), len(f)),
            graphql_rps=median(r["rps"] for r in g),
            floor_rps=median(r["rps"] for r in f),
            graphql_p50_ms=median(r["p50_ms"] for r in g),
            graphql_p99_ms=median(r["p99_ms"] for r in g),
            floor_p50_ms=median(r["p50_ms"] for r in f),
            floor_p99_ms=median(r["p99_ms"] for r in f),
            graphql_errors=_sum_counts(r.get("errors") for r in g),
            floor_errors=_sum_counts(r.get("errors") for r in f),
            graphql_user_errors=_sum_counts(r.get("user_errors") for r in g),
            floor_user_errors=_sum_counts(r.get("user_errors") for r in f),
            graphql_requests=sum(r.get("requests", 0) for r in g),
            floor_requests=sum(r.get("requests", 0) for r in f),
            graphql_cpu_ms=_median_counts(r.get("cpu_ms_per_request") for r in g),
            floor_cpu_ms=_median_counts(r.get("cpu_ms_per_request") for r in f),
        )
    return cells


def _num(value: float) -> str:
    return f"{value:.1f}"


def scenario_line(scenario: str, graphql_rps: float, floor_rps: float, p99_ms: float) -> str:
    """`<scenario> graphql_rps=<n> floor_rps=<n> ratio=<r> p99_ms=<n>` (ratio = GraphQL/floor)."""
    ratio = graphql_rps / floor_rps if floor_rps else 0.0
    return (
        f"{scenario} graphql_rps={_num(graphql_rps)} floor_rps={_num(floor_rps)} "
        f"ratio={ratio:.2f} p99_ms={_num(p99_ms)}"
    )


def reference_concurrency(concurrencies, preferred: int = 32) -> int:
    """The concurrency the summary lines report: 32 clients when measured, else the highest."""
    concurrencies = sorted(set(concurrencies))
    return preferred if preferred in concurrencies else concurrencies[-1]


def summary_lines(cells: dict[tuple[str, int], Cell], scenarios, concurrencies) -> list[str]:
    c = reference_concurrency(concurrencies)
    lines = []
    for scenario in scenarios:
        cell = cells.get((scenario, c))
        if cell is not None:
            lines.append(scenario_line(scenario, cell.graphql_rps, cell.floor_rps, cell.graphql_p99_ms))
    return lines


def _counts(d: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(d.items())) or "none"


def throughput_table(cells: dict[tuple[str, int], Cell], scenarios, concurrencies) -> str:
    rows = [
        "| scenario | clients | GraphQL req/s | floor req/s | ratio | GraphQL p50 / p99 ms | floor p50 / p99 ms "
        "| API CPU ms/req GraphQL / floor | DB CPU ms/req GraphQL / floor | runs | errors (GraphQL; floor) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for scenario in scenarios:
        for c in concurrencies:
            cell = cells.get((scenario, c))
            if cell is None:
                continue
            errors = f"{_counts(cell.graphql_errors)}; {_counts(cell.floor_errors)}"
            api = f"{cell.graphql_cpu_ms.get('api', 0):.1f} / {cell.floor_cpu_ms.get('api', 0):.1f}"
            db = f"{cell.graphql_cpu_ms.get('db', 0):.1f} / {cell.floor_cpu_ms.get('db', 0):.1f}"
            rows.append(
                f"| {scenario} | {c} | {cell.graphql_rps:.1f} | {cell.floor_rps:.1f} | {cell.ratio:.2f} | "
                f"{cell.graphql_p50_ms:.1f} / {cell.graphql_p99_ms:.1f} | {cell.floor_p50_ms:.1f} / {cell.floor_p99_ms:.1f} | "
                f"{api} | {db} | {cell.runs} | {errors} |"
            )
    return "\n".join(rows)


def md_table(header: list[str], rows: list[list]) -> str:
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    for row in rows:
        out.append("| " + " | ".join(str(x) for x in row) + " |")
    return "\n".join(out)
