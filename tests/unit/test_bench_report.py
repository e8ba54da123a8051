"""The benchmark's report formatting (bench/report.py) on fixed input: no server, no database."""

from __future__ import annotations

import re

from bench import report

LINE = re.compile(r"^(\S+) graphql_rps=(\d+\.\d) floor_rps=(\d+\.\d) ratio=(\d+\.\d\d) p99_ms=(\d+\.\d)$")


def record(run, scenario, concurrency, variant, rps, p99, **extra):
    return {
        "run": run, "scenario": scenario, "concurrency": concurrency, "variant": variant, "rps": rps,
        "p50_ms": p99 / 2, "p99_ms": p99, "requests": int(rps * 4), "errors": {}, "user_errors": {}, **extra,
    }


def test_scenario_line_has_the_issue_format():
    line = report.scenario_line("certificate", 480.04, 1200.0, 12.345)
    assert line == "certificate graphql_rps=480.0 floor_rps=1200.0 ratio=0.40 p99_ms=12.3"
    assert LINE.match(line)


def test_scenario_line_without_a_floor_figure_has_ratio_zero():
    assert report.scenario_line("x", 10, 0, 1).endswith("ratio=0.00 p99_ms=1.0")


def test_interleaved_plan_visits_every_cell_once_per_run_and_alternates_sides():
    plan = report.interleaved_plan(["a", "b"], [1, 8], 3)
    assert len(plan) == 2 * 2 * 2 * 3
    for run in range(3):
        cells = [(s, c, v) for r, s, c, v in plan if r == run]
        assert sorted(cells) == sorted((s, c, v) for s in "ab" for c in (1, 8) for v in ("graphql", "floor"))
    firsts = [v for r, s, c, v in plan if (s, c) == ("a", 1)]
    assert firsts == ["graphql", "floor", "floor", "graphql", "graphql", "floor"]
    # runs come one after another: all of run 0 before any of run 1
    runs = [r for r, *_ in plan]
    assert runs == sorted(runs)


def test_cells_are_medians_of_the_interleaved_runs():
    records = [
        record(0, "certificate", 8, "graphql", 100.0, 30.0),
        record(1, "certificate", 8, "graphql", 300.0, 10.0),
        record(2, "certificate", 8, "graphql", 200.0, 20.0, errors={"http_500": 1}),
        record(0, "certificate", 8, "floor", 900.0, 5.0),
        record(1, "certificate", 8, "floor", 1000.0, 4.0, errors={"http_500": 2}),
        record(2, "certificate", 8, "floor", 800.0, 6.0),
    ]
    cell = report.summarize(records)[("certificate", 8)]
    assert (cell.graphql_rps, cell.floor_rps, cell.graphql_p99_ms, cell.floor_p99_ms) == (200.0, 900.0, 20.0, 5.0)
    assert cell.runs == 3
    assert round(cell.ratio, 4) == round(200 / 900, 4)
    assert cell.graphql_errors == {"http_500": 1} and cell.floor_errors == {"http_500": 2}
    assert report.median([4.0, 1.0]) == 2.5 and report.median([]) == 0.0


def test_summary_lines_report_32_clients_or_the_highest_measured():
    records = [
        record(0, s, c, v, rps, 9.0)
        for s in ("certificate", "previewReissue")
        for c in (1, 8, 32, 64)
        for v, rps in (("graphql", float(c)), ("floor", 2.0 * c))
    ]
    cells = report.summarize(records)
    lines = report.summary_lines(cells, ["certificate", "previewReissue"], [1, 8, 32, 64])
    assert lines == [
        "certificate graphql_rps=32.0 floor_rps=64.0 ratio=0.50 p99_ms=9.0",
        "previewReissue graphql_rps=32.0 floor_rps=64.0 ratio=0.50 p99_ms=9.0",
    ]
    assert report.reference_concurrency([1, 8]) == 8
    table = report.throughput_table(cells, ["certificate"], [1, 8, 32, 64])
    assert table.count("\n| certificate |") == 4


def test_latency_summary_takes_the_median_and_the_nearest_rank_p99():
    values = [float(v) for v in range(1, 201)]  # 1..200 ms, shuffled order does not matter
    summary = report.latency_summary(reversed(values))
    assert summary == {"n": 200, "median": 100.5, "p99": 198.0, "min": 1.0, "max": 200.0}
    assert report.latency_summary([-2.0, 5.0])["median"] == 1.5  # a message before the answer is kept
    assert report.latency_summary([])["n"] == 0


def test_the_subscriptions_section_shows_each_feed_median_and_p99():
    from bench.render import _subscriptions

    def feed(base):
        values = [base + i for i in range(10)]
        summary = report.latency_summary(values)
        return {"summary": {"from_answer_ms": summary, "from_send_ms": summary, "mutation_ms": summary}}

    text = _subscriptions({"feeds": {"change-stream": feed(3.0), "poll": feed(500.0)}, "samples": 10,
                           "document": "subscription W { x }", "command": "python -m bench --only subscriptions"})
    rows = [line for line in text.splitlines() if line.startswith("| change stream") or line.startswith("| polling")]
    assert len(rows) == 2
    assert "| 10 | 7.5 | 12.0 | 3.0 / 12.0 |" in rows[0]
    assert "| 10 | 504.5 | 509.0 | 500.0 / 509.0 |" in rows[1]


def console_result(cold_p90_ms: float, js_gzip: int) -> dict:
    samples = [cold_p90_ms / 2, cold_p90_ms]
    usable = {when: {"median_ms": samples[0], "p90_ms": samples[1], "samples_ms": samples} for when in ("cold", "warm")}
    return {
        "sizes": {
            "files": {"index-A.js": {"bytes": 4 * js_gzip, "gzip": js_gzip}, "index-B.css": {"bytes": 6000, "gzip": 2000}},
            "js": {"bytes": 4 * js_gzip, "gzip": js_gzip},
            "css": {"bytes": 6000, "gzip": 2000},
            "budget_gzip_bytes": 250_000,
            "versions": {"react": "19.3.1"},
        },
        "runs": 2,
        "usable": {"signIn": usable, "list": usable},
        "transfer": {key: {"requests": 4, "bytes": 110_000, "scripts": 106_000} for key in ("signInCold", "signInWarm", "listCold", "listWarm")},
        "budget_usable_ms": 1000,
        "command": ".venv/bin/python -m bench --only console",
    }


def test_the_console_section_reports_its_figures_and_compares_them_with_the_budget():
    from bench import console

    within = console.targets(console_result(640.0, 105_600))
    assert [row[2] for row in within] == ["met", "met"] and within[0][1] == "105.6 kB"
    over = console.targets(console_result(1200.0, 260_000))
    assert [row[2] for row in over] == ["**not met**", "**not met**"]
    lines = console.summary_lines(console_result(640.0, 105_600))
    assert lines[0] == "console js_bytes=422400 js_gzip_bytes=105600 budget_gzip_bytes=250000"
    assert lines[1] == "console sign_in_usable cold_median_ms=320 cold_p90_ms=640 warm_median_ms=320 warm_p90_ms=640"
    text = console.section(console_result(640.0, 105_600), "", report.md_table)
    assert "## Web console" in text and "| `index-A.js` | 422.4 | 105.6 |" in text
    skipped = {"skipped": "console/dist is not built (make install)", "command": "x"}
    assert console.targets(skipped)[0][1].startswith("not measured") and "Not measured" in console.section(skipped, "", report.md_table)


def test_percentiles_of_the_console_samples():
    from bench.console import percentile

    assert percentile([5.0, 1.0, 3.0], 0.5) == 3.0 and percentile([5.0, 1.0, 3.0], 0.9) == 5.0 and percentile([], 0.5) == 0.0
