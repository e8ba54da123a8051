"""Browser tests: headless Chromium (Debian's `chromium` package, /usr/bin/chromium, or
CERTS_CHROMIUM) driven by playwright-core from graphiql/node_modules, through the Node
scripts of graphiql/e2e/. Each script reads its task as JSON on stdin, does what a
person would in the browser, and prints a JSON report of what happened; the tests judge
the report.

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
CHROMIUM = Path(os.environ.get("CERTS_CHROMIUM", "/usr/bin/chromium"))
# A stuck browser must not hold the suite forever; each step in the scripts waits at most
# 60 s for what it expects, so this bound is never what decides a test.
DRIVER_LIMIT_SECONDS = 300


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false")


def what_is_missing() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed (make install needs Node.js 18+ and npm)"
    if not (FRONTEND / "node_modules" / "playwright-core").is_dir():
        return "graphiql/node_modules/playwright-core is missing (make install runs npm ci in graphiql/)"
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is missing (make install runs `apt-get install -y chromium` when run as root)"
    return None


@pytest.fixture(scope="session")
def browser() -> None:
    """Skips the test where the browser cannot run, except in CI, where that fails it."""
    missing = what_is_missing()
    if missing is None:
        return
    if in_ci():
        pytest.fail(f"the browser tests cannot run in CI: {missing}", pytrace=False)
    pytest.skip(f"no browser here (CI would fail): {missing}")


def drive(script: str, task: dict) -> dict:
    """Runs graphiql/e2e/<script> with `task` and returns its report; the report's
    `failure` (a step that did not happen) fails the test with everything recorded."""
    done = subprocess.run(
        ["node", str(FRONTEND / "e2e" / script)],
        input=json.dumps(task),
        capture_output=True,
        text=True,
        cwd=FRONTEND,
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
