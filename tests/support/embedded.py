"""The embedded database the tests run against: CERTS_EMBEDDED_DB (`make test DB=...`
sets it), else the service's default."""

from __future__ import annotations

import os
from pathlib import Path

from adapters.embedded import EmbeddedServer, embedded_database
from certreissue.settings import Settings

EMBEDDED_DB = Settings.from_env({"CERTS_EMBEDDED_DB": os.environ.get("CERTS_EMBEDDED_DB", "")}).embedded_db


def new_embedded(data_dir: Path, port: int | None = None) -> EmbeddedServer:
    """An embedded database of the chosen kind for data_dir (not started)."""
    return embedded_database(EMBEDDED_DB, data_dir, port=port)


def embedded_env() -> dict[str, str]:
    """For a `certreissue` process that must start the same kind."""
    return {"CERTS_EMBEDDED_DB": EMBEDDED_DB}
