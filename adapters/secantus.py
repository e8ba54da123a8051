"""SecantusDB as the embedded database (CERTS_EMBEDDED_DB=secantus, the default).

SecantusDB (PyPI `secantusdb`, pinned in pyproject.toml) is a MongoDB-wire server over
WiredTiger. It is GPL-2.0-only, so the service never imports it: it runs as its own
process, the console script `secantusd-py` installed beside the interpreter running the
service (the project's .venv), and is spoken to over the wire like any MongoDB server.
Its WiredTiger files live in `<data_dir>/secantus`. Starting, reusing and stopping it:
adapters/embedded.py.
"""

from __future__ import annotations

import os
import shutil
import sysconfig
from pathlib import Path

from adapters.embedded import EmbeddedDatabaseError, EmbeddedServer
from adapters.private_files import write_private

SCRIPT = "secantusd-py"
CONFIG_FILE = "secantusd.toml"


def locate_script() -> Path:
    candidates = [
        os.environ.get("CERTS_SECANTUSD_BIN"),
        str(Path(sysconfig.get_path("scripts")) / SCRIPT),  # the environment running the service
        shutil.which(SCRIPT),
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    raise EmbeddedDatabaseError(
        f"SecantusDB's `{SCRIPT}` was not found: run `make install` (it installs the pinned `secantusdb` "
        "package into .venv), or set MONGODB_URI to use another server"
    )


class EmbeddedSecantus(EmbeddedServer):
    kind = "secantus"
    title = "SecantusDB"
    db_subdir = "secantus"

    @property
    def config_path(self) -> Path:
        return self.data_dir / CONFIG_FILE

    def prepare(self) -> None:
        # Without --config, secantusd-py reads the first secantusd.toml it finds in the
        # working directory, ~/.secantus or /etc/secantus; a file of our own (empty: every
        # setting that matters is a flag) keeps a stray one from changing the server.
        write_private(self.config_path, "# certreissue's embedded SecantusDB: settings are passed as flags\n")

    def command(self, port: int) -> list[str]:
        return [
            str(locate_script()),
            f"--config={self.config_path}",
            "--host=127.0.0.1",
            f"--port={port}",
            f"--storage-path={self.db_dir}",
            "--log-level=WARNING",
        ]
