"""Browser tests: headless Chromium (Debian's `chromium` package, /usr/bin/chromium, or
CERTS_CHROMIUM) driven by playwright-core from graphiql/node_modules, through the Node
scripts of graphiql/e2e/ (the web console's tests: console/node_modules, console/e2e/).
Each script reads its task as JSON on stdin, does what a person would in the browser, and
prints a JSON report of what happened; the tests judge the report.

`make install` provides all of it (npm ci; apt-get install chromium when run as root).
When something is missing these tests are skipped on a developer's machine, but fail in
CI (CI set to anything but empty, 0 or false), so a CI run never passes without them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FRONTEND = REPO / "graphiql"
CONSOLE = REPO / "console"
CHROMIUM = Path(os.environ.get("CERTS_CHROMIUM", "/usr/bin/chromium"))
# A stuck browser must not hold the suite forever; each step in the scripts waits at most
# 60 s for what it expects, so this bound is never what decides a test.
DRIVER_LIMIT_SECONDS = 300


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false")


def what_is_missing(frontend: Path = FRONTEND) -> str | None:
    if shutil.which("node") is None:
        return "node is not installed (make install needs Node.js 18+ and npm)"
    if not (frontend / "node_modules" / "playwright-core").is_dir():
        return f"{frontend.name}/node_modules/playwright-core is missing (make install runs npm ci in {frontend.name}/)"
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is missing (make install runs `apt-get install -y chromium` when run as root)"
    return None


def skip_or_fail(missing: str | None) -> None:
    """Skips the test where the browser cannot run, except in CI, where that fails it."""
    if missing is None:
        return
    if in_ci():
        pytest.fail(f"the browser tests cannot run in CI: {missing}", pytrace=False)
    pytest.skip(f"no browser here (CI would fail): {missing}")


@pytest.fixture(scope="session")
def browser() -> None:
    skip_or_fail(what_is_missing())


@pytest.fixture(scope="session")
def console_browser() -> None:
    """The web console's drivers: its own playwright-core and axe-core, and its build."""
    missing = what_is_missing(CONSOLE)
    if missing is None and not (CONSOLE / "node_modules" / "@axe-core" / "playwright").is_dir():
        missing = "console/node_modules/@axe-core/playwright is missing (make install runs npm ci in console/)"
    if missing is None and not (CONSOLE / "dist" / "console-build.json").is_file():
        missing = "console/dist is not built (make install builds it)"
    skip_or_fail(missing)


def drive(script: str, task: dict, frontend: Path = FRONTEND) -> dict:
    """Runs <frontend>/e2e/<script> (graphiql/ by default) with `task` and returns its
    report; the report's `failure` (a step that did not happen) fails the test with
    everything recorded."""
    done = subprocess.run(
        ["node", str(frontend / "e2e" / script)],
        input=json.dumps(task),
        capture_output=True,
        text=True,
        cwd=frontend,
        timeout=DRIVER_LIMIT_SECONDS,
        env={**os.environ, "CERTS_CHROMIUM": str(CHROMIUM)},
    )
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 0 and lines, f"{script} exited {done.returncode}:\n{done.stderr[-3000:]}"
    report = json.loads(lines[-1])
    assert "failure" not in report, json.dumps(report, indent=1)[-6000:]
    return report


def origin_of(url: str) -> str:
    return "/".join(url.split("/")[:3])
