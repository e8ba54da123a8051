"""CERTS_DATA_DIR holds the embedded database, the master key and the built-in CA's key: it
and everything in it are the service user's alone (directories 0700, files 0600), whether
it is created now or was there before with looser modes, whatever the process's umask."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient

from adapters import authority
from adapters.sealing import load_or_create_master_key
from tests.support.embedded import new_embedded


def modes(root: Path) -> dict[str, str]:
    """Every path under root (root included) with its permission bits, in octal."""
    found = {".": oct(stat.S_IMODE(root.stat().st_mode))}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(directory) / name
            found[str(path.relative_to(root))] = oct(stat.S_IMODE(path.lstat().st_mode))
    return found


def loose(root: Path) -> dict[str, str]:
    wrong = {}
    for name, mode in modes(root).items():
        path = root / name
        wanted = "0o700" if path.is_dir() else "0o600"
        if mode != wanted:
            wrong[name] = f"{mode}, wanted {wanted}"
    return wrong


@pytest.fixture
def open_umask():
    """A umask that would leave files readable by everyone (022 is the usual one)."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


async def use_data_dir(data_dir: Path) -> dict[str, str]:
    """Starts the embedded database there, writes through PyMongo, creates the master key
    and the CA the service creates there; returns what is too open while it all runs."""
    embedded = new_embedded(data_dir)
    embedded.start()
    try:
        client = AsyncMongoClient(embedded.uri)
        try:
            await client.certreissue.probe.insert_one({"written": True})
            assert await client.certreissue.probe.count_documents({}) == 1
        finally:
            await client.close()
        load_or_create_master_key(data_dir)
        authority.load_or_create(data_dir)
        assert embedded.state_path.exists() and embedded.log_path.exists()
        assert any(embedded.db_dir.iterdir()), f"{embedded.title} wrote no files: the test would prove nothing"
        return loose(data_dir)
    finally:
        embedded.stop()


async def test_a_new_data_dir_and_everything_in_it_are_private(tmp_path, open_umask):
    data_dir = tmp_path / "new" / "var"
    assert await use_data_dir(data_dir) == {}, modes(data_dir)
    assert loose(data_dir) == {}  # and after the database stopped


async def test_an_existing_data_dir_with_loose_modes_is_made_private(tmp_path, open_umask):
    data_dir = tmp_path / "var"
    paths = new_embedded(data_dir)  # where the embedded database keeps its files and log
    db_dir, log = paths.db_dir, paths.log_path
    db_dir.mkdir(parents=True)
    (data_dir / "ca").mkdir()
    log.write_text("from an earlier run\n")
    (db_dir / "left-by-an-earlier-run.txt").write_bytes(b"")
    for path, mode in ((data_dir, 0o755), (db_dir, 0o755), (data_dir / "ca", 0o755),
                       (log, 0o644), (db_dir / "left-by-an-earlier-run.txt", 0o644)):
        path.chmod(mode)
    assert await use_data_dir(data_dir) == {}, modes(data_dir)
