"""Paths only the service's user may read: CERTS_DATA_DIR holds the embedded database, the
master key and the built-in CA's key. Directories 0700, files 0600, whatever the umask."""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
# For processes that create files of their own there (FerretDB and its SQLite files).
PRIVATE_UMASK = 0o077


def private_dir(path: Path) -> Path:
    """`path` as a directory only its owner may enter: created so (missing parents are
    created as usual), or tightened if it was there with a looser mode."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    _tighten(path, PRIVATE_DIR)
    return path


def open_private(path: Path, flags: int) -> int:
    """os.open of a file only its owner may read; an existing one is tightened too."""
    fd = os.open(path, flags | os.O_CREAT, PRIVATE_FILE)
    if stat.S_IMODE(os.fstat(fd).st_mode) != PRIVATE_FILE:
        os.fchmod(fd, PRIVATE_FILE)
    return fd


def write_private(path: Path, text: str) -> None:
    with os.fdopen(open_private(path, os.O_WRONLY | os.O_TRUNC), "w") as fh:
        fh.write(text)


def tighten_files(directory: Path) -> None:
    """Files left in `directory` by an earlier run with a looser umask become 0600."""
    for entry in directory.iterdir():
        if entry.is_file() and not entry.is_symlink():
            _tighten(entry, PRIVATE_FILE)


def _tighten(path: Path, mode: int) -> None:
    if stat.S_IMODE(path.stat().st_mode) == mode:
        return
    try:
        os.chmod(path, mode)
    except PermissionError as exc:
        raise PermissionError(
            f"{path} holds the service's keys or database: it must belong to the user running the "
            f"service, who makes it {mode:o} ({exc.strerror})"
        ) from None
