"""DataLoaders: a page of certificates with their reissue fields costs a constant number of
database commands, whatever its size (issue 3, item 9; issue 5: at most 3)."""

from __future__ import annotations

import dataclasses
import uuid

import httpx
import pytest
from pymongo import monitoring

from domain.model import Role
from tests.conftest import ApiServer, GraphQLClient
from tests.integration.reissue_api import request, unique_zone, upload_cert

NESTED = """
query Nested($first: Int) {
  certificates(first: $first) {
    totalCount
    edges { node {
      id domain status
      activeReissue { id status events { to } }
      reissueEligibility { eligible flow reasons { code } }
    } }
  }
}
"""


class CommandCounter(monitoring.CommandListener):
    def __init__(self, database: str) -> None:
        self.database = database
        self.enabled = False
        self.commands: list[str] = []

    def started(self, event):
        if self.enabled and event.database_name == self.database:
            self.commands.append(event.command_name)

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


@pytest.fixture(scope="module")
def counted(settings, database_uri, tmp_path_factory):
    """An API server whose database client reports every command to a counter."""
    counter = CommandCounter(settings.db_name)
    monitoring.register(counter)
    server = ApiServer(dataclasses.replace(settings), database_uri).start()
    try:
        yield server, counter
    finally:
        server.stop()


async def commands_for(server, counter, token, first: int) -> int:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        client = GraphQLClient(http, token)
        counts = []
        for _ in range(3):  # the minimum: a background sweep may add commands to one run
            counter.commands.clear()
            counter.enabled = True
            data = await client(NESTED, {"first": first})
            counter.enabled = False
            assert len(data["certificates"]["edges"]) == first
            counts.append(len(counter.commands))
        return min(counts)


async def test_nested_reissue_fields_cost_the_same_commands_for_5_and_50_certificates(counted, services, client_for):
    server, counter = counted
    account = f"trips-{uuid.uuid4().hex[:8]}"
    owner = await client_for(account, "owner")
    zones = [unique_zone() for _ in range(10)]
    ids = []
    for i in range(50):
        cert, _ = await upload_cert(owner, f"h{i}.{zones[i % 10]}")
        ids.append(cert["id"])
    # Some certificates have a reissue in progress, so every nested field has data.
    for cid in ids[-3:]:  # the newest: on the small page too
        assert (await request(owner, certificateId=cid, csrSource="ONLINE", reason="r"))["userErrors"] == []
    token = await services.tokens.create(account, [Role.OWNER])
    small = await commands_for(server, counter, token, 5)
    large = await commands_for(server, counter, token, 50)
    assert small == large
    # count, page, the active reissues under the page's primary domains (the token is
    # known from the first run: the token store caches it).
    assert large <= 3, counter.commands


FRAGMENTED = """
query Fragmented($first: Int) {
  certificates(first: $first) { edges { ...Edge } }
}
fragment Edge on CertificateEdge { node { id ... on Certificate { ...Reissuing } } }
fragment Reissuing on Certificate {
  status
  activeReissue { id status }
  reissueEligibility { eligible flow reasons { code } }
}
"""

SINGLE = """
query One($id: ID!) {
  certificate(id: $id) {
    id status
    activeReissue { id status }
    reissueEligibility { eligible flow reasons { code } }
  }
}
"""

PLAIN = "query Plain($first: Int) { certificates(first: $first) { edges { node { id domain } } } }"
COUNTED = "query Counted($first: Int) { certificates(first: $first) { n: totalCount edges { node { id domain } } } }"


async def min_commands(client, counter, query: str, variables: dict) -> list[str]:
    """The commands of the cheapest of 3 runs (a background sweep may add some to one)."""
    runs = []
    for _ in range(3):
        counter.commands.clear()
        counter.enabled = True
        await client(query, variables)
        counter.enabled = False
        runs.append(list(counter.commands))
    return min(runs, key=len)


async def test_page_fields_loaded_with_the_page_agree_with_single_lookups(counted, services, client_for):
    """R4/R3 on a page: status, activeReissue and reissueEligibility answered from the data
    `certificates` preloads (named and inline fragments included) equal what each
    certificate(id) answers through its DataLoaders, for reissuing, locked and free ones."""
    server, counter = counted
    account = f"trips-{uuid.uuid4().hex[:8]}"
    owner = await client_for(account, "owner")
    zone, other = unique_zone(), unique_zone()
    reissuing, _ = await upload_cert(owner, f"a.{zone}")
    locked, _ = await upload_cert(owner, f"b.{zone}")
    free, _ = await upload_cert(owner, f"c.{other}")
    assert (await request(owner, certificateId=reissuing["id"], csrSource="ONLINE", reason="r"))["userErrors"] == []
    token = await services.tokens.create(account, [Role.OWNER])
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        client = GraphQLClient(http, token)
        page = await client(FRAGMENTED, {"first": 10})
        # The page and the reissues in progress under its primary domains (no totalCount asked).
        assert await min_commands(client, counter, FRAGMENTED, {"first": 10}) == ["find", "find"]
        nodes = {e["node"]["id"]: e["node"] for e in page["certificates"]["edges"]}
        assert set(nodes) == {reissuing["id"], locked["id"], free["id"]}
        for cid, node in nodes.items():
            single = (await client(SINGLE, {"id": cid}))["certificate"]
            assert node == single
    assert nodes[reissuing["id"]]["status"] == "REISSUING"
    assert nodes[reissuing["id"]]["activeReissue"]["status"] == "PENDING_DOMAIN_VALIDATION"
    assert nodes[locked["id"]]["status"] == "ISSUED" and nodes[locked["id"]]["activeReissue"] is None
    assert {r["code"] for r in nodes[locked["id"]]["reissueEligibility"]["reasons"]} == {"PRIMARY_DOMAIN_LOCKED"}
    assert nodes[free["id"]]["reissueEligibility"]["eligible"] is True


async def test_page_reads_only_what_the_query_selects(counted, services, client_for):
    """No reissue read without a reissue field, no count without totalCount (aliased or not)."""
    server, counter = counted
    account = f"trips-{uuid.uuid4().hex[:8]}"
    owner = await client_for(account, "owner")
    await upload_cert(owner, f"a.{unique_zone()}")
    await upload_cert(owner, f"b.{unique_zone()}")
    token = await services.tokens.create(account, [Role.OWNER])
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        client = GraphQLClient(http, token)
        assert await min_commands(client, counter, PLAIN, {"first": 10}) == ["find"]
        assert sorted(await min_commands(client, counter, COUNTED, {"first": 10})) == ["aggregate", "find"]
        assert (await client(COUNTED, {"first": 1}))["certificates"]["n"] == 2
