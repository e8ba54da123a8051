"""The bench's `console` section: the web console's size and how soon its first screen is
usable on loopback (console/e2e/first-screen.mjs in headless Chromium), against the bench
server with `certreissue demo`'s data in a database of its own. Figures only: the budget
(250 kB of JavaScript gzipped, a first screen usable within 1 s) is compared in the report,
never asserted in a test (tests/browser/test_console_build.py checks the size)."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONSOLE = ROOT / "console"
DIST = CONSOLE / "dist"
CHROMIUM = os.environ.get("CERTS_CHROMIUM", "/usr/bin/chromium")
DB_CONSOLE = "certreissue_bench_console"
BUDGET_GZIP_BYTES = 250_000
BUDGET_USABLE_MS = 1000


def what_is_missing() -> str | None:
    if not (DIST / "console-build.json").is_file():
        return "console/dist is not built (make install)"
    if shutil.which("node") is None or not (CONSOLE / "node_modules" / "playwright-core").is_dir():
        return "node or console/node_modules/playwright-core is missing (make install)"
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is missing"
    return None


def sizes() -> dict:
    """Bytes of each built asset, as served and gzipped (level 9, as the build's copies)."""
    build = json.loads((DIST / "console-build.json").read_text())
    files = {}
    for name in build["assets"]:
        data = (DIST / "assets" / name).read_bytes()
        files[name] = {"bytes": len(data), "gzip": len(gzip.compress(data, compresslevel=9))}
    total = lambda suffix, key: sum(v[key] for n, v in files.items() if n.endswith(suffix))  # noqa: E731
    return {
        "files": files,
        "js": {"bytes": total(".js", "bytes"), "gzip": total(".js", "gzip")},
        "css": {"bytes": total(".css", "bytes"), "gzip": total(".css", "gzip")},
        "budget_gzip_bytes": BUDGET_GZIP_BYTES,
        "versions": build.get("versions", {}),
    }


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


def summarize(samples: list[float]) -> dict:
    return {"median_ms": percentile(samples, 0.5), "p90_ms": percentile(samples, 0.9), "samples_ms": samples}


def run_console(opts, uri: str, data_dir: Path, work: Path, *, api_process, settings_for, with_services) -> dict:
    from certreissue.demo import load_demo

    missing = what_is_missing()
    if missing:
        return {"skipped": missing, "command": opts.command("--only console")}
    tokens = asyncio.run(with_services(settings_for(data_dir, DB_CONSOLE, uri), lambda s: load_demo(s, reset=True)))
    owner = next(token for account, role, token in tokens if account == "demo" and role == "owner")
    runs = 3 if opts.quick else 15
    api = api_process(uri, data_dir, DB_CONSOLE, work / "api-console.log", opts.log_level).wait_ready()
    try:
        done = subprocess.run(
            ["node", str(CONSOLE / "e2e" / "first-screen.mjs")],
            input=json.dumps({"url": api.url, "token": owner, "runs": runs}),
            capture_output=True, text=True, cwd=CONSOLE, timeout=600,
            env={**os.environ, "CERTS_CHROMIUM": CHROMIUM},
        )
    finally:
        api.stop()
    if done.returncode != 0:
        raise RuntimeError(f"first-screen.mjs failed: {done.stderr[-2000:]}")
    raw = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "sizes": sizes(),
        "runs": runs,
        "usable": {
            screen: {when: summarize(raw[screen][when]) for when in ("cold", "warm")} for screen in ("signIn", "list")
        },
        "transfer": raw["transfer"],
        "budget_usable_ms": BUDGET_USABLE_MS,
        "command": opts.command("--only console"),
    }


def summary_lines(c: dict) -> list[str]:
    """The figures, one line each, as the bench prints them at the end."""
    if "skipped" in c:
        return [f"console skipped: {c['skipped']}"]
    js = c["sizes"]["js"]
    lines = [f"console js_bytes={js['bytes']} js_gzip_bytes={js['gzip']} budget_gzip_bytes={c['sizes']['budget_gzip_bytes']}"]
    for screen, label in (("signIn", "sign_in"), ("list", "certificate_list")):
        u = c["usable"][screen]
        lines.append(
            f"console {label}_usable cold_median_ms={u['cold']['median_ms']:.0f} cold_p90_ms={u['cold']['p90_ms']:.0f} "
            f"warm_median_ms={u['warm']['median_ms']:.0f} warm_p90_ms={u['warm']['p90_ms']:.0f}"
        )
    return lines


def targets(c: dict) -> list[list[str]]:
    if "skipped" in c:
        return [["web console: JavaScript under 250 kB gzipped; first screen usable under 1 s", f"not measured: {c['skipped']}", ""]]
    js = c["sizes"]["js"]["gzip"]
    worst = max(c["usable"][s]["cold"]["p90_ms"] for s in ("signIn", "list"))
    return [
        ["web console JavaScript under 250 kB gzipped", f"{js / 1000:.1f} kB", "met" if js < BUDGET_GZIP_BYTES else "**not met**"],
        [
            "web console first screen usable under 1 s on loopback (cold cache, p90)",
            f"sign-in {c['usable']['signIn']['cold']['p90_ms']:.0f} ms, signed-in list "
            f"{c['usable']['list']['cold']['p90_ms']:.0f} ms",
            "met" if worst < BUDGET_USABLE_MS else "**not met**",
        ],
    ]


def section(c: dict, conditions: str, md_table) -> str:
    if "skipped" in c:
        return "\n".join(["## Web console", "", f"Command: `{c['command']}`", "", f"Not measured: {c['skipped']}.", ""]) + "\n"
    s = c["sizes"]
    files = [[f"`{name}`", f"{v['bytes'] / 1000:.1f}", f"{v['gzip'] / 1000:.1f}"] for name, v in sorted(s["files"].items())]
    rows = []
    for screen, label in (("signIn", "sign-in form (`/console/`)"), ("list", "certificate list, signed in (`/console/certificates`)")):
        for when, how in (("cold", "first visit, empty cache"), ("warm", "reload, assets cached")):
            u = c["usable"][screen][when]
            rows.append([label, how, f"{u['median_ms']:.0f}", f"{u['p90_ms']:.0f}", ", ".join(f"{x:.0f}" for x in u["samples_ms"])])
    t = c["transfer"]
    versions = ", ".join(f"{k} {v}" for k, v in s.get("versions", {}).items())
    return "\n".join(
        [
            "## Web console",
            "",
            f"Command: `{c['command']}`",
            conditions,
            f"The build in `console/dist` ({versions}): JavaScript **{s['js']['bytes'] / 1000:.1f} kB, "
            f"{s['js']['gzip'] / 1000:.1f} kB gzipped** (budget {s['budget_gzip_bytes'] / 1000:.0f} kB gzipped); "
            f"CSS {s['css']['bytes'] / 1000:.1f} kB, {s['css']['gzip'] / 1000:.1f} kB gzipped.",
            "",
            md_table(["file", "kB", "kB gzipped"], files),
            "",
            f"Headless Chromium on loopback against the bench server with `certreissue demo`'s data, {c['runs']} runs, "
            "each in a fresh browser context and then reloaded. *Usable*: the sign-in form's token field shown and enabled; "
            "signed in (a token already in the tab's session storage), the first row of certificates shown, after the "
            "page's one GraphQL request. Milliseconds from the start of the navigation (the page's `performance.now()`):",
            "",
            md_table(["screen", "visit", "median ms", "p90 ms", "samples ms"], rows),
            "",
            f"Transferred on a first visit of the sign-in form: {t['signInCold']['requests']} requests, "
            f"{t['signInCold']['bytes'] / 1000:.1f} kB ({t['signInCold']['scripts'] / 1000:.1f} kB of script, gzipped); "
            f"on its reload: {t['signInWarm']['bytes'] / 1000:.1f} kB (the hashed assets come from the cache).",
            "",
        ]
    ) + "\n"
