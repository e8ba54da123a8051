"""Debian's nginx serving the accounts' webroots on a loopback port, as a customer's web
server would for FILE_AUTO: one `server` per domain whose
`location /.well-known/pki-validation/` has its root in `<base>/<account>/<directory>`,
with `disable_symlinks on` as the README advises. `serve()` adds a domain and restarts it
(same port). Without nginx the tests are skipped here and fail in CI."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.processes import terminate

NGINX = Path(os.environ.get("CERTS_NGINX", "/usr/sbin/nginx"))


def require_nginx() -> Path:
    if os.access(NGINX, os.X_OK):
        return NGINX
    message = f"{NGINX} is missing (make install runs `apt-get install -y nginx-light` when run as root)"
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false"):
        pytest.fail(f"the nginx tests cannot run in CI: {message}", pytrace=False)
    pytest.skip(f"no nginx here (CI would fail): {message}")


# A configuration of its own (no root paths: prefix, pid, logs and temp files in {dir}),
# in the foreground; followed by the `server` blocks and the closing brace of `http`.
PREAMBLE = """
daemon off;
master_process off;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 16; }}
http {{
    access_log off;
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
"""

MAIN = PREAMBLE + """    server {{
        listen 127.0.0.1:{port} default_server;
        return 404;
    }}
{servers}
}}
"""

SERVER = """
    server {{
        listen 127.0.0.1:{port};
        server_name {domain};
        location /.well-known/pki-validation/ {{
            root {root};
            default_type text/plain;
            disable_symlinks on;
        }}
    }}
"""


class WebrootSite:
    def __init__(self, directory: Path, base: Path, port: int) -> None:
        self.dir = directory
        self.base = base
        self.port = port
        self.roots: dict[str, Path] = {}
        self.process: subprocess.Popen | None = None
        (directory / "tmp").mkdir(parents=True, exist_ok=True)

    def serve(self, account: str, domain: str, directory: str | None = None) -> None:
        """http://<domain>/.well-known/pki-validation/ from <base>/<account>/<directory>."""
        self.roots[domain] = self.base / account / (directory or domain)
        self.stop()
        self.start()

    def start(self) -> WebrootSite:
        binary = require_nginx()
        servers = "".join(SERVER.format(port=self.port, domain=d, root=r) for d, r in self.roots.items())
        (self.dir / "nginx.conf").write_text(MAIN.format(dir=self.dir, port=self.port, servers=servers))
        self.process = subprocess.Popen(
            [str(binary), "-p", str(self.dir), "-c", str(self.dir / "nginx.conf"), "-e", str(self.dir / "error.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited: {(self.dir / 'error.log').read_text(errors='replace')[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("nginx did not listen") from None
                time.sleep(0.05)

    def stop(self) -> None:
        terminate(self.process)
        self.process = None
