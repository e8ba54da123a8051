"""/readyz follows the database: 503 while it is down, 200 again once it is back, with no
restart of the API server; /healthz (liveness) never depends on it."""

from __future__ import annotations

import asyncio
import os
import time
import uuid

import httpx
import pytest

from adapters.embedded import EmbeddedServer
from certreissue.bootstrap import build_services
from certreissue.settings import Settings
from domain.model import Role
from tests.conftest import ApiServer, free_port, new_token
from tests.support.embedded import new_embedded

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("MONGODB_URI")),
    reason="MONGODB_URI points at a real MongoDB, which this test cannot stop and restart",
)

DOWN_WITHIN_SECONDS = 10
BACK_WITHIN_SECONDS = 20


async def poll_status(client: httpx.AsyncClient, path: str, want: int, within: float) -> list[int]:
    """GETs `path` until it answers `want`; returns every status seen (fails on timeout)."""
    seen: list[int] = []
    deadline = time.monotonic() + within
    while True:
        try:
            status = (await client.get(path)).status_code
        except httpx.HTTPError as exc:  # the server itself must keep answering
            raise AssertionError(f"{path} did not answer: {exc!r}") from exc
        seen.append(status)
        if status == want:
            return seen
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not turn {want} within {within} s; saw {seen}")
        await asyncio.sleep(0.2)


async def test_readiness_follows_the_database_down_and_back_up_without_a_restart(tmp_path):
    port = free_port()
    db_dir = tmp_path / "embedded-db"
    settings = Settings(
        db_name=f"certreissue_ready_{uuid.uuid4().hex[:8]}",
        data_dir=tmp_path / "api-data",
        graphiql=True,
        db_timeout_ms=1000,
    )
    first = new_embedded(db_dir, port=port)
    second: EmbeddedServer | None = None
    api: ApiServer | None = None
    services = None
    try:
        await asyncio.to_thread(first.start)
        api = await asyncio.to_thread(ApiServer(settings, first.uri).start)
        services = build_services(settings, first.uri)
        token = await new_token(services, f"ready-{uuid.uuid4().hex[:8]}")
        auth = {"Authorization": f"Bearer {token}"}
        query = {"query": "{ certificates { totalCount } }"}

        async with httpx.AsyncClient(base_url=api.url, timeout=15) as client:
            assert (await client.get("/readyz")).status_code == 200
            assert (await client.get("/healthz")).status_code == 200
            assert (await client.post("/graphql", json=query, headers=auth)).status_code == 200

            await asyncio.to_thread(first.stop)
            seen = await poll_status(client, "/readyz", 503, DOWN_WITHIN_SECONDS)
            assert set(seen) <= {200, 503}
            assert (await client.get("/readyz")).status_code == 503
            assert (await client.get("/healthz")).status_code == 200

            # Meanwhile an API call is refused as unavailable: not a masked 500, not a 401.
            # (503 when the token must be looked up; 200 with the error when the process
            # still remembers the token and the resolver finds the database down.)
            outage = await client.post("/graphql", json=query, headers=auth)
            assert outage.status_code in (200, 503), outage.text
            assert outage.json()["errors"][0]["extensions"]["code"] == "DATABASE_UNAVAILABLE"

            second = new_embedded(db_dir, port=port)
            await asyncio.to_thread(second.start)
            seen = await poll_status(client, "/readyz", 200, BACK_WITHIN_SECONDS)
            assert set(seen) <= {200, 503}
            assert (await client.get("/healthz")).status_code == 200

            # Same data dir: the token made before the outage still works.
            back = await client.post("/graphql", json=query, headers=auth)
            assert back.status_code == 200, back.text
            assert back.json() == {"data": {"certificates": {"totalCount": 0}}}
    finally:
        if services is not None:
            await services.close()
        if api is not None:
            await asyncio.to_thread(api.stop)
        for database in (second, first):
            if database is not None:
                await asyncio.to_thread(database.stop)
