"""The `certreissue` command (OPERATIONS.md "Commands"), run as a real process."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
from pymongo import AsyncMongoClient

from adapters.ferretdb import EmbeddedDatabase
from tests.conftest import GraphQLClient

CLI = str(Path(sys.executable).parent / "certreissue")
TOKEN = re.compile(r"crt1_[A-Za-z0-9_-]{43}")


def run(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=120)


def cli_env(settings, database_uri) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CERTS_", "MONGODB_"))}
    env.update(MONGODB_URI=database_uri, CERTS_DB_NAME=settings.db_name, CERTS_DATA_DIR=str(settings.data_dir))
    return env


async def test_token_create_prints_the_token_alone_on_one_line(settings, database_uri, http):
    result = run("token", "create", "--account", "cli-acct", "--role", "owner", "--role", "reviewer",
                 env=cli_env(settings, database_uri))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and TOKEN.fullmatch(lines[0])
    data = await GraphQLClient(http, lines[0])("{ certificates { totalCount } }")
    assert data["certificates"]["totalCount"] == 0


async def test_token_create_refuses_an_unknown_role(settings, database_uri):
    result = run("token", "create", "--account", "x", "--role", "admin", env=cli_env(settings, database_uri))
    assert result.returncode != 0 and "admin" in result.stderr


async def test_demo_loads_certificates_of_all_four_flows_and_prints_working_tokens(settings, database_uri, http):
    result = run("demo", env=cli_env(settings, database_uri))
    assert result.returncode == 0, result.stderr
    tokens = TOKEN.findall(result.stdout)
    assert len(tokens) == 4 and '{"Authorization": "Bearer ' in result.stdout
    owner = GraphQLClient(http, tokens[0])
    data = await owner(
        "{ certificates(first: 50) { totalCount edges { node { domain primaryDomain reissueEligibility { eligible flow } } } } }"
    )
    nodes = [e["node"] for e in data["certificates"]["edges"]]
    flows = {n["reissueEligibility"]["flow"] for n in nodes}
    assert flows == {"PAID_DV", "FREE_DV", "ORGANIZATION_WOTRUS_DNSPOD", "ORGANIZATION_OTHER_BRAND"}
    primaries = [n["primaryDomain"] for n in nodes]
    assert any(primaries.count(p) >= 2 for p in primaries)  # several under one primary domain
    assert all(n["reissueEligibility"]["eligible"] for n in nodes)
    # A second run keeps the data and prints new tokens.
    again = run("demo", env=cli_env(settings, database_uri))
    assert again.returncode == 0 and set(TOKEN.findall(again.stdout)).isdisjoint(tokens)
    assert (await owner("{ certificates { totalCount } }"))["certificates"]["totalCount"] == len(nodes)


async def test_commands_reuse_the_embedded_database_already_running_for_the_data_dir(tmp_path):
    embedded = EmbeddedDatabase(tmp_path)
    embedded.start()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CERTS_", "MONGODB_"))}
        env["CERTS_DATA_DIR"] = str(tmp_path)
        result = run("token", "create", "--account", "reuse", env=env)
        assert result.returncode == 0, result.stderr
        assert "started" not in result.stderr  # no second FerretDB on the same files
        assert json.loads((tmp_path / "ferretdb.json").read_text())["pid"] == embedded.process.pid
        client = AsyncMongoClient(embedded.uri)
        try:
            assert await client.certreissue.api_tokens.count_documents({"account": "reuse"}) == 1
        finally:
            await client.close()
    finally:
        embedded.stop()


async def test_a_command_with_no_database_running_starts_one_and_stops_it(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CERTS_", "MONGODB_"))}
    env["CERTS_DATA_DIR"] = str(tmp_path)
    result = run("token", "create", "--account", "solo", env=env)
    assert result.returncode == 0, result.stderr
    assert TOKEN.fullmatch(result.stdout.strip())
    assert not (tmp_path / "ferretdb.json").exists()  # stopped again
    assert EmbeddedDatabase(tmp_path).running() is None


async def test_serve_answers_healthz_and_stops_its_embedded_database_on_sigterm(tmp_path):
    import signal
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CERTS_", "MONGODB_"))}
    env["CERTS_DATA_DIR"] = str(tmp_path)
    process = subprocess.Popen([CLI, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and process.poll() is None, "serve did not become ready"
            time.sleep(0.2)
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        pid = json.loads((tmp_path / "ferretdb.json").read_text())["pid"]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    time.sleep(0.5)
    assert not (tmp_path / "ferretdb.json").exists()
    assert not os.path.exists(f"/proc/{pid}") or "zombie" in open(f"/proc/{pid}/status").read().lower()
