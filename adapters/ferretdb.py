"""The embedded database: FerretDB 1.24 with its SQLite backend, in its own process.

`certreissue serve` without MONGODB_URI starts one for CERTS_DATA_DIR and stops it on
exit; other commands (and a second `serve`) reuse the one already running for that data
dir, found through `<data_dir>/ferretdb.json`, instead of opening the same files twice.
The data dir, `db/` and every file in them are the service user's only (0700, 0600).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from adapters.private_files import PRIVATE_UMASK, open_private, private_dir, tighten_files, write_private

STATE_FILE = "ferretdb.json"
REPO_ROOT = Path(__file__).resolve().parent.parent
SQLITE_BUSY_TIMEOUT_MS = 30_000  # how long a write waits for SQLite's one writer slot


class EmbeddedDatabaseError(RuntimeError):
    """The embedded database could not be found or started."""


def locate_binary() -> Path:
    candidates = [os.environ.get("CERTS_FERRETDB_BIN"), str(REPO_ROOT / ".tools" / "bin" / "ferretdb"), shutil.which("ferretdb")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    raise EmbeddedDatabaseError(
        "the FerretDB binary was not found: run `make install` (it builds .tools/bin/ferretdb), "
        "or set MONGODB_URI to use another server"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def uri_for(port: int) -> str:
    return f"mongodb://127.0.0.1:{port}/"


@dataclass
class EmbeddedDatabase:
    data_dir: Path
    port: int | None = None
    process: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        assert self.port is not None
        return uri_for(self.port)

    @property
    def _state_path(self) -> Path:
        return self.data_dir / STATE_FILE

    def running(self) -> str | None:
        """The URI of a FerretDB already serving this data dir, if one answers."""
        try:
            state = json.loads(self._state_path.read_text())
        except (OSError, ValueError):
            return None
        pid, port = state.get("pid"), state.get("port")
        if isinstance(pid, int) and isinstance(port, int) and _pid_alive(pid) and _port_open(port):
            return uri_for(port)
        return None

    def start(self, *, timeout: float = 30.0) -> str:
        binary = locate_binary()
        private_dir(self.data_dir)  # only the service's user may read the database's files
        db_dir = private_dir(self.data_dir / "db")
        tighten_files(db_dir)
        self.port = self.port or free_port()
        log = os.fdopen(open_private(self.data_dir / "ferretdb.log", os.O_WRONLY | os.O_APPEND), "ab")
        self.process = subprocess.Popen(
            [
                str(binary),
                "--handler=sqlite",
                # SQLite takes one writer at a time; FerretDB's default busy_timeout (10 s)
                # made writes fail with SQLITE_BUSY under 64 concurrent writers (make bench).
                # Waiting longer queues them instead; the client's own timeout still bounds it.
                f"--sqlite-url=file:{db_dir}/?_pragma=busy_timeout({SQLITE_BUSY_TIMEOUT_MS})",
                f"--state-dir={db_dir}",
                f"--listen-addr=127.0.0.1:{self.port}",
                "--telemetry=disable",
                "--log-level=warn",
                "--debug-addr=-",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            umask=PRIVATE_UMASK,  # the SQLite files FerretDB creates: 0600
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EmbeddedDatabaseError(
                    f"FerretDB exited with code {self.process.returncode}; see {self.data_dir / 'ferretdb.log'}"
                )
            if _port_open(self.port):
                write_private(self._state_path, json.dumps({"pid": self.process.pid, "port": self.port}))
                return self.uri
            time.sleep(0.05)
        self.stop()
        raise EmbeddedDatabaseError(f"FerretDB did not listen on port {self.port} within {timeout:.0f} s")

    def stop(self, *, timeout: float = 10.0) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        try:
            state = json.loads(self._state_path.read_text())
            if state.get("pid") == self.process.pid:
                self._state_path.unlink()
        except (OSError, ValueError):
            pass
        self.process = None
