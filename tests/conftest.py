"""Session fixtures: one real database server (the embedded one CERTS_EMBEDDED_DB names, or
MONGODB_URI when set) and one
real HTTP server (uvicorn running the app) for the whole run. Tests isolate themselves by
account: each gets fresh account names."""

from __future__ import annotations

import dataclasses
import os
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn

from certreissue.app import create_app
from certreissue.bootstrap import Services, build_services
from certreissue.server import uvicorn_options
from certreissue.settings import Settings
from domain.model import Role
from tests import certs
from tests.support.dnsserver import ChallengeDNS
from tests.support.embedded import EMBEDDED_DB, new_embedded
from tests.support.httpserver import FileSite
from tests.support.knot import Knot
from tests.support.nginx import WebrootSite


def pytest_report_header(config) -> str:
    if os.environ.get("MONGODB_URI"):
        return "database: MONGODB_URI"
    return f"database: embedded {EMBEDDED_DB} (CERTS_EMBEDDED_DB; `make test DB=secantus|ferretdb`)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    """The tests' data dir; it trusts the tests' root CA (tests/certs.py), as an operator
    would trust a public CA, so uploaded test chains earn R17/R18 waivers."""
    path = tmp_path_factory.mktemp("certs-data")
    (path / "trusted-roots.pem").write_text(certs.pem(certs.root_ca().cert))
    return path


@pytest.fixture(scope="session")
def database_uri(tmp_path_factory) -> Iterator[str]:
    """MONGODB_URI when set (real MongoDB), else an embedded database of our own on a free
    port: CERTS_EMBEDDED_DB's kind (`make test DB=secantus|ferretdb`)."""
    if os.environ.get("MONGODB_URI"):
        yield os.environ["MONGODB_URI"]
        return
    embedded = new_embedded(tmp_path_factory.mktemp(EMBEDDED_DB))
    embedded.start()
    try:
        yield embedded.uri
    finally:
        embedded.stop()


@pytest.fixture(scope="session")
def dns_server() -> Iterator[ChallengeDNS]:
    """The DNS the service asks (CERTS_DNS_NAMESERVERS), with records the tests set."""
    for _ in range(5):
        try:
            server = ChallengeDNS(free_port()).start()
            break
        except OSError:
            continue
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def file_site() -> Iterator[FileSite]:
    """The web server file validation reaches (CERTS_HTTP_VALIDATION_PORT)."""
    site = FileSite().start()
    try:
        yield site
    finally:
        site.stop()


@pytest.fixture(scope="session")
def settings(data_dir: Path, dns_server: ChallengeDNS, file_site: FileSite) -> Settings:
    return Settings(
        db_name=f"certreissue_test_{uuid.uuid4().hex[:8]}",
        data_dir=data_dir,
        graphiql=True,
        db_timeout_ms=3000,
        dns_nameservers=(f"127.0.0.1:{dns_server.port}",),
        http_validation_port=file_site.port,
        http_validation_allow_private=True,  # the test web server is on loopback
        dns_provider_allow_private=True,  # the tests' DNS servers (Knot) are on loopback
        # Many tests send bursts of mutations with one token; the limit has tests of its own.
        rate_limit_per_minute=0,
        # Revocation tests wait for a process's token cache to forget (R26: within 30 s).
        token_cache_seconds=1.0,
        # Webhook tests wait for deliveries and retries: short intervals.
        webhook_poll_seconds=0.2,
        webhook_backoff_base_seconds=0.5,
        webhook_backoff_max_seconds=1.0,
    )


class ApiServer:
    """uvicorn serving the real app on a loopback port, in a thread of its own."""

    def __init__(self, settings: Settings, uri: str, *, sweep: bool = True) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(settings, uri, sweep=sweep), host="127.0.0.1", port=self.port, log_level="warning", lifespan="on",
            **uvicorn_options(settings),  # the service's read deadlines and keep-alive (certreissue/server.py)
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> ApiServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the API server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)


@pytest.fixture(scope="session")
def api(settings: Settings, database_uri: str) -> Iterator[ApiServer]:
    server = ApiServer(settings, database_uri).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
async def services(settings: Settings, database_uri: str, api) -> AsyncIterator[Services]:
    """The same wiring as the server's, in the tests' loop: for setting up tokens and for
    looking at the database directly."""
    s = build_services(settings, database_uri)
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture(scope="session")
def knot(tmp_path_factory) -> Iterator[Knot]:
    """Knot DNS, authoritative for a zone of its own, updated over RFC 2136 with its TSIG key
    (skipped here, failing in CI, without knotd: tests/support/knot.py)."""
    server = Knot(tmp_path_factory.mktemp("knot"), f"z{uuid.uuid4().hex[:10]}.com", free_port()).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def knot_settings(settings: Settings, knot: Knot) -> Settings:
    # A database of its own: no other test process's sweeper removes, or checks, its records
    # between a test's steps (the tests sweep when their story says so).
    return dataclasses.replace(settings, dns_nameservers=(knot.address,), db_name=f"{settings.db_name}_dnsauto")


# The Knot and nginx sides: each an API process on a database of its own, without a sweeper
# (the tests sweep when their story says so), its services, an HTTP client and staff tokens.


def _api_without_sweeper(settings: Settings, database_uri: str) -> Iterator[ApiServer]:
    server = ApiServer(settings, database_uri, sweep=False).start()
    try:
        yield server
    finally:
        server.stop()


async def _services_of(settings: Settings, database_uri: str) -> AsyncIterator[Services]:
    built = build_services(settings, database_uri)
    try:
        yield built
    finally:
        await built.close()


async def _http_to(server: ApiServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        yield client


async def _staff_tokens_of(services: Services) -> dict[str, str]:
    return {role: await new_token(services, None, role) for role in ("reviewer", "operator")}


@pytest.fixture(scope="session")
def knot_api(knot_settings: Settings, database_uri: str) -> Iterator[ApiServer]:
    """An API process whose resolver sees the Knot server's zone (the world's view, for
    DNS_AUTO); the session's `api` resolves through another server."""
    yield from _api_without_sweeper(knot_settings, database_uri)


@pytest.fixture(scope="session")
async def knot_services(knot_settings: Settings, database_uri: str, knot_api) -> AsyncIterator[Services]:
    async for built in _services_of(knot_settings, database_uri):
        yield built


@pytest.fixture(scope="session")
async def knot_http(knot_api: ApiServer) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _http_to(knot_api):
        yield client


@pytest.fixture(scope="session")
def webroot_site(tmp_path_factory) -> Iterator[WebrootSite]:
    """nginx serving the accounts' webroots below a base directory of its own (FILE_AUTO;
    skipped here, failing in CI, without nginx: tests/support/nginx.py)."""
    site = WebrootSite(tmp_path_factory.mktemp("nginx"), tmp_path_factory.mktemp("webroots"), free_port()).start()
    try:
        yield site
    finally:
        site.stop()


@pytest.fixture(scope="session")
def file_settings(settings: Settings, webroot_site: WebrootSite) -> Settings:
    return dataclasses.replace(settings, webroots_dir=webroot_site.base, http_validation_port=webroot_site.port,
                               db_name=f"{settings.db_name}_fileauto")  # its own, as knot_settings


@pytest.fixture(scope="session")
def file_api(file_settings: Settings, database_uri: str) -> Iterator[ApiServer]:
    """An API process with CERTS_WEBROOTS_DIR set, whose file checks reach the nginx above."""
    yield from _api_without_sweeper(file_settings, database_uri)


@pytest.fixture(scope="session")
async def file_services(file_settings: Settings, database_uri: str, file_api) -> AsyncIterator[Services]:
    async for built in _services_of(file_settings, database_uri):
        yield built


@pytest.fixture(scope="session")
async def file_http(file_api: ApiServer) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _http_to(file_api):
        yield client


@pytest.fixture(scope="session")
async def knot_staff_tokens(knot_services: Services) -> dict[str, str]:
    return await _staff_tokens_of(knot_services)


@pytest.fixture(scope="session")
async def file_staff_tokens(file_services: Services) -> dict[str, str]:
    return await _staff_tokens_of(file_services)


@pytest.fixture(scope="session")
async def http(api: ApiServer) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _http_to(api):
        yield client


async def new_token(services: Services, account: str | None, role: str = "owner", *, days: float = 1) -> str:
    """A fresh API token: an account token (owner, viewer) or, for reviewer and operator, a
    staff token with no account (R26; `account` is then ignored)."""
    r = Role(role)
    now = services.clock.now()
    token, _ = await services.tokens.create(
        None if r.is_staff else account, r, now=now, expires_at=now + timedelta(days=days)
    )
    return token


class GraphQLClient:
    def __init__(
        self, http: httpx.AsyncClient, token: str | None, account: str = "", staff: dict[str, str] | None = None
    ) -> None:
        self.http = http
        self.token = token
        self.account = account
        self.staff = staff or {}

    def as_staff(self, role: str) -> GraphQLClient:
        """A client with the session's staff token of `role` (reviewer or operator)."""
        return GraphQLClient(self.http, self.staff[role], "", self.staff)

    async def raw(self, query: str, variables: dict | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return await self.http.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)

    async def __call__(self, query: str, variables: dict | None = None) -> dict:
        """Executes and returns `data`; fails the test on top-level errors."""
        response = await self.raw(query, variables)
        assert response.status_code == 200, response.text
        body = response.json()
        assert not body.get("errors"), body["errors"]
        return body["data"]


@pytest.fixture
def new_account():
    def make(prefix: str = "acct") -> str:
        return f"{prefix}-{uuid.uuid4().hex[:10]}"

    return make


@pytest.fixture(scope="session")
async def staff_tokens(services: Services) -> dict[str, str]:
    """One staff token per staff role for the session (the service provider's people, R26)."""
    return await _staff_tokens_of(services)


@pytest.fixture
async def client_for(services: Services, http: httpx.AsyncClient, staff_tokens):
    """client_for(account, 'owner') -> a GraphQL client with a fresh token of that role;
    client_for(anything, 'reviewer' | 'operator') -> a fresh staff token (no account)."""

    async def make(account: str, role: str = "owner") -> GraphQLClient:
        token = await new_token(services, account, role)
        return GraphQLClient(http, token, "" if Role(role).is_staff else account, staff_tokens)

    return make


@pytest.fixture
async def owner(client_for, new_account) -> GraphQLClient:
    return await client_for(new_account("owner"), "owner")
