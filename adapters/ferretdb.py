"""FerretDB 1.24 with its SQLite backend as the embedded database (CERTS_EMBEDDED_DB=ferretdb).

The binary is built by `make install DB=ferretdb` (scripts/build-ferretdb.sh) into
`.tools/bin/ferretdb`, or named by CERTS_FERRETDB_BIN. Its files live in `<data_dir>/db`.
Starting, reusing and stopping it: adapters/embedded.py.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from adapters.embedded import REPO_ROOT, EmbeddedDatabaseError, EmbeddedServer, free_port  # noqa: F401

SQLITE_BUSY_TIMEOUT_MS = 30_000  # how long a write waits for SQLite's one writer slot


def locate_binary() -> Path:
    candidates = [os.environ.get("CERTS_FERRETDB_BIN"), str(REPO_ROOT / ".tools" / "bin" / "ferretdb"), shutil.which("ferretdb")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    raise EmbeddedDatabaseError(
        "the FerretDB binary was not found: run `make install DB=ferretdb` (it builds .tools/bin/ferretdb), "
        "or set MONGODB_URI to use another server"
    )


class EmbeddedFerretDB(EmbeddedServer):
    kind = "ferretdb"
    title = "FerretDB"
    db_subdir = "db"

    def command(self, port: int) -> list[str]:
        return [
            str(locate_binary()),
            "--handler=sqlite",
            # SQLite takes one writer at a time; FerretDB's default busy_timeout (10 s)
            # made writes fail with SQLITE_BUSY under 64 concurrent writers (make bench).
            # Waiting longer queues them instead; the client's own timeout still bounds it.
            f"--sqlite-url=file:{self.db_dir}/?_pragma=busy_timeout({SQLITE_BUSY_TIMEOUT_MS})",
            f"--state-dir={self.db_dir}",
            f"--listen-addr=127.0.0.1:{port}",
            "--telemetry=disable",
            "--log-level=warn",
            "--debug-addr=-",
        ]
