"""The embedded database: a MongoDB-wire server in its own process, for `make run`, the
tests and the bench when no MONGODB_URI is given. CERTS_EMBEDDED_DB chooses which:

* `secantus` (the default): SecantusDB, a MongoDB-wire server over WiredTiger, run as its
  console script `secantusd-py` from the project's environment (adapters/secantus.py). It
  is GPL-2.0-only: the service talks to it over the wire only and never imports it.
* `ferretdb`: FerretDB 1.24 with its SQLite backend, the binary `make install DB=ferretdb`
  builds (adapters/ferretdb.py).

Either is started for CERTS_DATA_DIR by `certreissue serve` and stopped on exit; other
commands (and a second `serve`) reuse the one already running for that data dir, found
through `<data_dir>/<kind>.json`, instead of opening the same files twice. The data dir,
the database's directory and every file in them are the service user's only (0700, 0600):
the server is started with umask 077.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from abc import ABC, abstractmethod
from pathlib import Path

from adapters.private_files import PRIVATE_UMASK, open_private, private_dir, tighten_files, write_private

EMBEDDED_DATABASES = ("secantus", "ferretdb")
DEFAULT_EMBEDDED_DATABASE = "secantus"
REPO_ROOT = Path(__file__).resolve().parent.parent


class EmbeddedDatabaseError(RuntimeError):
    """The embedded database could not be found or started."""


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
    # directConnection: SecantusDB answers `hello` as a one-node replica set that names
    # itself by the address it was reached at; connect to that one server, never discover.
    return f"mongodb://127.0.0.1:{port}/?directConnection=true"


class EmbeddedServer(ABC):
    """One database server process for one data dir (see the module's docstring)."""

    kind: str  # as CERTS_EMBEDDED_DB names it
    title: str  # for messages
    db_subdir: str  # the server's files, under the data dir

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.port = port
        self.process: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        assert self.port is not None
        return uri_for(self.port)

    @property
    def db_dir(self) -> Path:
        return self.data_dir / self.db_subdir

    @property
    def state_path(self) -> Path:
        return self.data_dir / f"{self.kind}.json"

    @property
    def log_path(self) -> Path:
        return self.data_dir / f"{self.kind}.log"

    @abstractmethod
    def command(self, port: int) -> list[str]:
        """The server's command line, listening on 127.0.0.1:port, its files in db_dir."""

    def prepare(self) -> None:
        """Anything the command needs on disk besides db_dir (called before it runs)."""

    def running(self) -> str | None:
        """The URI of a server of this kind already serving this data dir, if one answers."""
        try:
            state = json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            return None
        pid, port = state.get("pid"), state.get("port")
        if isinstance(pid, int) and isinstance(port, int) and _pid_alive(pid) and _port_open(port):
            return uri_for(port)
        return None

    def start(self, *, timeout: float = 60.0) -> str:
        private_dir(self.data_dir)  # only the service's user may read the database's files
        tighten_files(private_dir(self.db_dir))
        self.prepare()
        self.port = self.port or free_port()
        command = self.command(self.port)
        log = os.fdopen(open_private(self.log_path, os.O_WRONLY | os.O_APPEND), "ab")
        self.process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.data_dir,
            start_new_session=True,
            umask=PRIVATE_UMASK,  # the files the server creates: 0600
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EmbeddedDatabaseError(
                    f"{self.title} exited with code {self.process.returncode}; see {self.log_path}"
                )
            if _port_open(self.port):
                write_private(self.state_path, json.dumps({"pid": self.process.pid, "port": self.port}))
                return self.uri
            time.sleep(0.05)
        self.stop()
        raise EmbeddedDatabaseError(f"{self.title} did not listen on port {self.port} within {timeout:.0f} s")

    def stop(self, *, timeout: float = 20.0) -> None:
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
            state = json.loads(self.state_path.read_text())
            if state.get("pid") == self.process.pid:
                self.state_path.unlink()
        except (OSError, ValueError):
            pass
        self.process = None


def embedded_database(kind: str, data_dir: Path, *, port: int | None = None) -> EmbeddedServer:
    """The embedded database of `kind` (CERTS_EMBEDDED_DB) for `data_dir`."""
    if kind == "secantus":
        from adapters.secantus import EmbeddedSecantus

        return EmbeddedSecantus(data_dir, port)
    if kind == "ferretdb":
        from adapters.ferretdb import EmbeddedFerretDB

        return EmbeddedFerretDB(data_dir, port)
    raise ValueError(f"CERTS_EMBEDDED_DB must be one of {', '.join(EMBEDDED_DATABASES)}, not {kind!r}")
