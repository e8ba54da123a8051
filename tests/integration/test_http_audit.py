"""graphql-http's auditServer (the reference implementation's GraphQL over HTTP compliance
audit, pinned in audit/package-lock.json and installed by `make install`) against the
tests' server, as `make audit-http` runs it: no warning and no error. Its requests carry a
viewer token (every call needs one, R26), which audit/run.mjs adds through auditServer's
`fetchFn`."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path

from tests.conftest import new_token

AUDIT = Path(__file__).resolve().parents[2] / "audit"
AUDIT_SECONDS = 120


async def test_the_graphql_over_http_audit_passes_without_a_warning_or_an_error(api, services, tmp_path):
    node = shutil.which("node")
    assert node, "Node 20+ is needed for the GraphQL over HTTP audit"
    assert (AUDIT / "node_modules" / "graphql-http").is_dir(), "graphql-http is not installed: run `make install`"
    token = await new_token(services, "http-audit", "viewer")
    report_file = tmp_path / "audit.json"
    audit = await asyncio.create_subprocess_exec(
        node, str(AUDIT / "run.mjs"), f"{api.url}/graphql", "--json", str(report_file),
        env={**os.environ, "AUDIT_TOKEN": token},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(audit.communicate(), AUDIT_SECONDS)
    printed = output.decode(errors="replace")
    assert report_file.exists(), printed
    report = json.loads(report_file.read_text())
    counts = report["counts"]
    assert (counts["warn"], counts["error"]) == (0, 0), printed
    assert audit.returncode == 0, printed
    # Every audit of the pinned graphql-http passes: not even a notice (an optional MAY).
    assert len(report["results"]) >= 61 and counts["ok"] == len(report["results"]), printed
