"""`make audit-http`: graphql-http's auditServer against a certreissue started for the run.

The service is `certreissue serve` on a free loopback port, with a data dir of its own (a
temporary one) and so an embedded database of its own, or the database at MONGODB_URI when
that is set. A viewer token is created for the run (`certreissue token create`), and the
audit (audit/run.mjs, graphql-http pinned in audit/package-lock.json) sends it with every
request. Prints every audit result; exits non-zero on any warning or error.

    scripts/audit_http.py                      # a service of its own
    AUDIT_TOKEN=... scripts/audit_http.py --server http://host:port/graphql   # one that runs
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AUDIT_DIR = ROOT / "audit"
CERTREISSUE = ROOT / ".venv" / "bin" / "certreissue"
START_TIMEOUT_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_audit(url: str, token: str, json_file: str | None = None) -> int:
    """The audit's exit code: 0 when nothing warned or erred."""
    node = shutil.which("node")
    if node is None:
        print("audit-http: node is not installed (Node 20 or later is needed)", file=sys.stderr)
        return 2
    if not (AUDIT_DIR / "node_modules" / "graphql-http").is_dir():
        print("audit-http: graphql-http is not installed: run `make install` (npm ci in audit/)", file=sys.stderr)
        return 2
    command = [node, str(AUDIT_DIR / "run.mjs"), url] + (["--json", json_file] if json_file else [])
    return subprocess.run(command, env={**os.environ, "AUDIT_TOKEN": token}, check=False).returncode


def _wait_until_ready(base: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"certreissue serve exited with {server.returncode} before it was ready")
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=2) as answer:  # noqa: S310 - loopback
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"certreissue serve was not ready within {START_TIMEOUT_SECONDS:g} s")


def audit_own_service(json_file: str | None) -> int:
    data_dir = Path(tempfile.mkdtemp(prefix="certreissue-audit-"))
    port = free_port()
    env = {**os.environ, "CERTS_DATA_DIR": str(data_dir), "CERTS_GRAPHIQL": "true"}
    env.setdefault("CERTS_DB_NAME", f"certreissue_audit_{port}")
    base = f"http://127.0.0.1:{port}"
    print(f"audit-http: serving {base}/graphql (data dir {data_dir}, "
          f"{'MONGODB_URI' if env.get('MONGODB_URI') else 'embedded database of its own'})", file=sys.stderr)
    server = subprocess.Popen(
        [str(CERTREISSUE), "serve", "--port", str(port), "--log-level", "warning"], env=env, cwd=ROOT
    )
    try:
        _wait_until_ready(base, server)
        token = subprocess.run(
            [str(CERTREISSUE), "token", "create", "--account", "audit", "--role", "viewer", "--expires-in", "1h"],
            env=env, cwd=ROOT, check=True, capture_output=True, text=True,
        ).stdout.strip()
        return run_audit(f"{base}/graphql", token, json_file)
    finally:
        server.send_signal(signal.SIGTERM)  # it stops its embedded database on the way out
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        shutil.rmtree(data_dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", help="audit this running /graphql URL instead (token in AUDIT_TOKEN)")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    if args.server:
        token = os.environ.get("AUDIT_TOKEN", "")
        if not token:
            parser.error("--server needs the bearer token in AUDIT_TOKEN")
        return run_audit(args.server, token, args.json)
    return audit_own_service(args.json)


if __name__ == "__main__":
    raise SystemExit(main())
