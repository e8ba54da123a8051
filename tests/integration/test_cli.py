"""The `certreissue` command (OPERATIONS.md "Commands"), run as a real process."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from pymongo import AsyncMongoClient

from tests.conftest import GraphQLClient
from tests.support.embedded import embedded_env, new_embedded

CLI = str(Path(sys.executable).parent / "certreissue")
TOKEN = re.compile(r"crt1_[A-Za-z0-9_-]{43}")


def run(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=120)


def account(name: str, env: dict) -> str:
    result = run("account", "create", name, env=env)
    assert result.returncode == 0, result.stderr
    return name


def cli_env(settings, database_uri) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CERTS_", "MONGODB_"))}
    env.update(MONGODB_URI=database_uri, CERTS_DB_NAME=settings.db_name, CERTS_DATA_DIR=str(settings.data_dir))
    return env


async def test_token_create_prints_the_token_alone_on_one_line(settings, database_uri, http):
    env = cli_env(settings, database_uri)
    result = run("token", "create", "--account", account("cli-acct", env), "--role", "owner", env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and TOKEN.fullmatch(lines[0])
    data = await GraphQLClient(http, lines[0])("{ certificates { totalCount } }")
    assert data["certificates"]["totalCount"] == 0


async def test_token_create_refuses_an_unknown_role(settings, database_uri):
    result = run("token", "create", "--account", "x", "--role", "admin", env=cli_env(settings, database_uri))
    assert result.returncode != 0 and "admin" in result.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--account", "acme", "--role", "reviewer"), "staff"),  # a customer never holds a staff role
        (("--account", "acme", "--role", "operator"), "staff"),
        (("--staff", "--role", "owner"), "reviewer or operator"),
        (("--staff", "--role", "viewer"), "reviewer or operator"),
        (("--staff", "--account", "acme", "--role", "reviewer"), "not allowed with"),
        (("--role", "owner"), "--account"),
        (("--account", "acme", "--role", "owner", "--expires-in", "90x"), "lifetime"),
        (("--account", "acme", "--role", "owner", "--expires-in", "0d"), "between"),
        (("--account", "  ", "--role", "owner"), "account name"),
    ],
)
async def test_token_create_refuses_a_role_of_the_wrong_kind_and_stores_nothing(settings, database_uri, services, args, says):
    # R26: account roles (owner, viewer) on account tokens, staff roles (reviewer, operator) on staff tokens
    before = await services.database.tokens.count_documents({})
    result = run("token", "create", *args, env=cli_env(settings, database_uri))
    assert result.returncode != 0 and result.stdout == ""
    assert says in result.stderr, result.stderr
    assert await services.database.tokens.count_documents({}) == before


async def test_a_staff_token_has_no_account_and_works_through_the_review_queue(settings, database_uri, http):
    result = run("token", "create", "--staff", "--role", "reviewer", env=cli_env(settings, database_uri))
    assert result.returncode == 0, result.stderr
    assert "staff" in result.stderr and "reviewer" in result.stderr
    reviewer = GraphQLClient(http, result.stdout.strip())
    queue = await reviewer("{ reviewQueue(first: 1) { totalCount } }")
    assert queue["reviewQueue"]["totalCount"] >= 0
    listing = (await reviewer.raw("{ certificates { totalCount } }")).json()
    assert listing["errors"][0]["extensions"]["code"] == "FORBIDDEN"  # no account to list


async def test_a_token_with_a_short_lifetime_expires_at_that_time(settings, database_uri, services):
    env = cli_env(settings, database_uri)
    result = run("token", "create", "--account", account("short-lived", env), "--role", "viewer", "--expires-in", "30m",
                 env=env)
    assert result.returncode == 0, result.stderr
    doc = await services.database.tokens.find_one({"account": "short-lived"})
    lifetime = doc["expiresAt"] - doc["createdAt"]
    assert lifetime == timedelta(minutes=30)
    default = run("token", "create", "--account", account("default-lived", env), "--role", "viewer", env=env)
    assert default.returncode == 0
    doc = await services.database.tokens.find_one({"account": "default-lived"})
    assert doc["expiresAt"] - doc["createdAt"] == timedelta(days=90)  # R26: default 90 days


async def test_token_list_shows_each_tokens_facts_but_never_the_token(settings, database_uri, new_account, http):
    env = cli_env(settings, database_uri)
    account_name = account(new_account("listed"), env)
    owner_token = run("token", "create", "--account", account_name, "--role", "owner", env=env).stdout.strip()
    run("token", "create", "--account", account_name, "--role", "viewer", env=env)
    await GraphQLClient(http, owner_token)("{ __typename }")  # used once: "last used" is set
    listed = run("token", "list", "--account", account_name, env=env)
    assert listed.returncode == 0, listed.stderr
    header, *rows = listed.stdout.splitlines()
    assert header.split()[:5] == ["ID", "KIND", "ACCOUNT", "ROLE", "CREATED"] and "LAST USED" in header
    assert len(rows) == 2 and all(row.startswith("tok_") and account_name in row for row in rows)
    assert {row.split()[3] for row in rows} == {"owner", "viewer"}
    assert sum(row.split()[6] != "-" for row in rows) == 1  # only the owner's token was used
    assert owner_token not in listed.stdout and owner_token.removeprefix("crt1_") not in listed.stdout
    staff = run("token", "list", "--staff", env=env)
    assert account_name not in staff.stdout and all(line.split()[1] == "staff" for line in staff.stdout.splitlines()[1:])


async def test_a_revoked_token_stops_working_within_the_cache_time(settings, database_uri, new_account, http):
    # R26: a revoked token fails everywhere within 30 s (the test server remembers tokens 1 s)
    env = cli_env(settings, database_uri)
    account_name = account(new_account("revoked"), env)
    token = run("token", "create", "--account", account_name, "--role", "owner", env=env).stdout.strip()
    client = GraphQLClient(http, token)
    assert (await client.raw("{ __typename }")).status_code == 200
    token_id = run("token", "list", "--account", account_name, env=env).stdout.splitlines()[1].split()[0]
    revoked = run("token", "revoke", token_id, env=env)
    assert revoked.returncode == 0 and token_id in revoked.stderr
    deadline = time.monotonic() + 30
    while (await client.raw("{ __typename }")).status_code != 401:
        assert time.monotonic() < deadline, "the revoked token still works after 30 s"
        await asyncio.sleep(0.2)
    assert "revoked" in run("token", "list", "--account", account_name, env=env).stdout
    assert run("token", "revoke", "tok_doesnotexist", env=env).returncode == 1


async def test_demo_loads_certificates_of_all_four_flows_and_prints_working_tokens(settings, database_uri, http):
    result = run("demo", env=cli_env(settings, database_uri))
    assert result.returncode == 0, result.stderr
    tokens = TOKEN.findall(result.stdout)
    assert len(tokens) == 5 and '{"Authorization": "Bearer ' in result.stdout
    roles = [line for line in result.stdout.splitlines() if "Bearer" in line]
    assert [r.split()[0] for r in roles] == ["account", "account", "staff", "staff", "account"]
    assert "reviewer" in roles[2] and "operator" in roles[3]  # staff tokens shown as such (R26)
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
    # The README's walkthrough: the TrustAsia wildcard is waived by R18, from the demo's
    # DNS provider for example.com (a checked provider, not a flag).
    wildcard = (await owner('{ certificates(first: 50, filter: {domainContains: "*."}) { edges { node { id domain '
                            'autoValidationConfigured } } } }'))["certificates"]["edges"]
    [node] = [e["node"] for e in wildcard if e["node"]["domain"] == "*.example.com"]
    assert node["autoValidationConfigured"] is True
    preview = await owner("query($id: ID!) { previewReissue(input: {certificateId: $id, csrSource: ONLINE, "
                          'reason: "rotate"}) { waivers } }', {"id": node["id"]})
    assert preview["previewReissue"]["waivers"] == ["AUTO_VALIDATION_CONFIGURED"]
    # A second run keeps the data and prints new tokens.
    again = run("demo", env=cli_env(settings, database_uri))
    assert again.returncode == 0 and set(TOKEN.findall(again.stdout)).isdisjoint(tokens)
    assert (await owner("{ certificates { totalCount } }"))["certificates"]["totalCount"] == len(nodes)


async def test_commands_reuse_the_embedded_database_already_running_for_the_data_dir(tmp_path):
    embedded = new_embedded(tmp_path)
    embedded.start()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CERTS_", "MONGODB_"))}
        env["CERTS_DATA_DIR"] = str(tmp_path)
        env.update(embedded_env())
        result = run("token", "create", "--account", account("reuse", env), "--role", "owner", env=env)
        assert result.returncode == 0, result.stderr
        assert "started" not in result.stderr  # no second database server on the same files
        assert json.loads(embedded.state_path.read_text())["pid"] == embedded.process.pid
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
    env.update(embedded_env())
    result = run("account", "create", "solo", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "solo"
    embedded = new_embedded(tmp_path)
    assert not embedded.state_path.exists()  # stopped again
    assert embedded.running() is None


async def test_a_data_dir_left_by_the_other_embedded_database_is_pointed_out_not_silently_ignored(tmp_path):
    """Each embedded database keeps its own files: a ./var filled by FerretDB (db/) before
    SecantusDB became the default would look empty; the command says where the data is."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CERTS_", "MONGODB_"))}
    env["CERTS_DATA_DIR"] = str(tmp_path)
    env.update(embedded_env())
    other = new_embedded(tmp_path)
    other_kind = "ferretdb" if other.kind == "secantus" else "secantus"
    from adapters.embedded import embedded_database

    left = embedded_database(other_kind, tmp_path).db_dir
    left.mkdir(parents=True)
    (left / "left-by-an-earlier-run").write_bytes(b"")
    result = run("account", "create", "moved", env=env)
    assert result.returncode == 0, result.stderr
    assert f"CERTS_EMBEDDED_DB={other_kind}" in result.stderr and str(left) in result.stderr
    again = run("account", "list", env=env)
    assert "CERTS_EMBEDDED_DB" not in again.stderr  # said once: this database has files of its own now


async def test_serve_answers_healthz_and_stops_its_embedded_database_on_sigterm(tmp_path):
    import signal
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CERTS_", "MONGODB_"))}
    env["CERTS_DATA_DIR"] = str(tmp_path)
    env.update(embedded_env())
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
        pid = json.loads(new_embedded(tmp_path).state_path.read_text())["pid"]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    time.sleep(0.5)
    assert not new_embedded(tmp_path).state_path.exists()
    assert not os.path.exists(f"/proc/{pid}") or "zombie" in open(f"/proc/{pid}/status").read().lower()


async def test_a_token_for_an_account_nobody_created_is_refused_and_nothing_is_stored(settings, database_uri, services):
    env = cli_env(settings, database_uri)
    before = await services.database.tokens.count_documents({})
    result = run("token", "create", "--account", "nosuch-account", "--role", "owner", env=env)
    assert result.returncode != 0 and result.stdout == ""
    assert "account create nosuch-account" in result.stderr
    assert await services.database.tokens.count_documents({}) == before


async def test_account_create_is_idempotent_and_account_list_shows_it(settings, database_uri, new_account):
    env = cli_env(settings, database_uri)
    name = new_account("registered")
    first, again = run("account", "create", name, env=env), run("account", "create", name, env=env)
    assert (first.returncode, again.returncode) == (0, 0)
    assert "created" in first.stderr and "exists already" in again.stderr
    listed = run("account", "list", env=env).stdout.splitlines()
    assert [line for line in listed if line.split()[0] == name]
    assert run("account", "create", "bad\u202ename", env=env).returncode != 0


async def test_demo_reset_starts_the_demo_accounts_afresh(settings, database_uri, http):
    env = cli_env(settings, database_uri)
    first = run("demo", env=env)
    owner = GraphQLClient(http, TOKEN.findall(first.stdout)[0])
    ids = {e["node"]["id"] for e in (await owner("{ certificates(first: 50) { edges { node { id } } } }"))["certificates"]["edges"]}
    reset = run("demo", "--reset", env=env)
    assert reset.returncode == 0, reset.stderr
    deadline = time.monotonic() + 30  # the demo's old tokens are gone: refused within the cache time
    while (await owner.raw("{ __typename }")).status_code != 401:
        assert time.monotonic() < deadline, "an old demo token still works"
        await asyncio.sleep(0.2)
    fresh = GraphQLClient(http, TOKEN.findall(reset.stdout)[0])
    now = {e["node"]["id"] for e in (await fresh("{ certificates(first: 50) { edges { node { id } } } }"))["certificates"]["edges"]}
    assert len(now) == len(ids) == 6 and now.isdisjoint(ids)


@pytest.mark.parametrize("command", [["serve"], ["token", "create"], ["token", "list"], ["demo"]])
def test_every_option_has_help_and_says_its_default(command):
    result = subprocess.run([CLI, *command, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    options = re.findall(r"^  (--[a-z-]+)(.*)$", result.stdout, re.M)
    assert options
    text = result.stdout
    for option, rest in options:
        following = text.split(option, 1)[1].split("\n  -", 1)[0]
        assert len(following.split()) > 2, f"{option} has no help text"
    if command == ["serve"]:
        assert "(default: 127.0.0.1)" in text and "(default: 8000)" in text


def test_make_run_takes_host_and_port():
    plan = subprocess.run(["make", "-n", "run", "HOST=0.0.0.0", "PORT=8001"], cwd=Path(CLI).parents[2],
                          capture_output=True, text=True, timeout=60)
    assert "serve --host 0.0.0.0 --port 8001" in plan.stdout
