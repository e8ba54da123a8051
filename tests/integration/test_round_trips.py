"""DataLoaders: a page of certificates with their reissue fields costs a constant number of
database commands, whatever its size (at most 3)."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

import httpx
import pytest
from pymongo import monitoring

from domain.model import Role
from tests.conftest import ApiServer, GraphQLClient, new_token
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


# PyMongo's command monitoring sees every client of this process, and each API server's
# sweeper runs every 15 s (slowly, on a loaded machine): the cheapest of this many runs,
# spread over a couple of seconds, is the request's own count (3 back-to-back runs all
# fell inside one sweep in a CI run under load).
RUNS = 8
PAUSE = 0.25


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
    # Tokens remembered for the whole test: a token lookup is not the page's own command
    # (the session's server forgets them after 1 s, for the revocation tests).
    server = ApiServer(dataclasses.replace(settings, token_cache_seconds=25), database_uri).start()
    try:
        yield server, counter
    finally:
        server.stop()


async def commands_for(server, counter, token, first: int) -> int:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        client = GraphQLClient(http, token)
        counts = []
        for _ in range(RUNS):  # the minimum: a background sweep may add commands to a run
            counter.commands.clear()
            counter.enabled = True
            data = await client(NESTED, {"first": first})
            counter.enabled = False
            assert len(data["certificates"]["edges"]) == first
            counts.append(len(counter.commands))
            await asyncio.sleep(PAUSE)
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
    token = await new_token(services, account)
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
    """The commands of the cheapest of RUNS runs (a background sweep may add some to a run)."""
    runs = []
    for _ in range(RUNS):
        counter.commands.clear()
        counter.enabled = True
        await client(query, variables)
        counter.enabled = False
        runs.append(list(counter.commands))
        await asyncio.sleep(PAUSE)
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
    token = await new_token(services, account)
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
    token = await new_token(services, account)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        client = GraphQLClient(http, token)
        assert await min_commands(client, counter, PLAIN, {"first": 10}) == ["find"]
        assert sorted(await min_commands(client, counter, COUNTED, {"first": 10})) == ["aggregate", "find"]
        assert (await client(COUNTED, {"first": 1}))["certificates"]["n"] == 2
        # The same for the reissue listing: no count unless totalCount is selected.
        listing = "query L($c: Boolean!) { reissues(first: 5) { totalCount @include(if: $c) edges { node { id } } } }"
        assert await min_commands(client, counter, listing, {"c": False}) == ["find"]
        assert sorted(await min_commands(client, counter, listing, {"c": True})) == ["aggregate", "find"]
        # @include(if: false) / @skip(if: true), literal or variable: not selected, not read.
        skipped = """query S($no: Boolean!) { certificates(first: 10) {
          totalCount @include(if: $no)
          edges { node { id status @skip(if: true) ... on Certificate @include(if: false) { activeReissue { id } } } }
        } }"""
        assert await min_commands(client, counter, skipped, {"no": False}) == ["find"]
        assert sorted(await min_commands(client, counter, skipped, {"no": True})) == ["aggregate", "find"]


NESTED_HISTORY = """
query History($first: Int, $inner: Int, $after: String) {
  certificates(first: $first) { edges { node {
    id
    reissues(first: $inner, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { id status } } }
  } } }
}
"""

TOP_HISTORY = """
query TopHistory($id: ID!, $inner: Int) {
  reissues(first: $inner, filter: {certificateId: $id}) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { id status } }
  }
}
"""

ONE_HISTORY = """
query OneHistory($id: ID!, $inner: Int, $after: String) {
  certificate(id: $id) {
    id
    reissues(first: $inner, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { id status } } }
  }
}
"""


async def test_nested_reissue_histories_cost_the_same_commands_for_3_and_12_certificates(counted, services, client_for):
    """Certificate.reissues under a page goes through one DataLoader: one read for all the
    page's histories, and each history equals what certificate(id) answers alone."""
    from tests.integration.reissue_api import CANCEL, act

    server, counter = counted
    account = f"trips-{uuid.uuid4().hex[:8]}"
    owner = await client_for(account, "owner")
    ids = []
    for i in range(12):
        cert, _ = await upload_cert(owner, f"h{i}.{unique_zone()}")
        ids.append(cert["id"])
    # Histories of 0, 1, 2 and 3 cancelled reissues (the newest certificate has none).
    for n, cid in enumerate(reversed(ids)):
        for _ in range(n % 4):
            made = await request(owner, certificateId=cid, csrSource="ONLINE", reason="r")
            assert made["userErrors"] == []
            assert (await act(owner, CANCEL, made["reissue"]["id"]))["userErrors"] == []
    token = await new_token(services, account)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        client = GraphQLClient(http, token)
        await client(NESTED_HISTORY, {"first": 1, "inner": 2})  # the token, cached from here
        small = await min_commands(client, counter, NESTED_HISTORY, {"first": 3, "inner": 2})
        large = await min_commands(client, counter, NESTED_HISTORY, {"first": 12, "inner": 2})
        assert small == large and len(large) <= 3, (small, large)
        page = await client(NESTED_HISTORY, {"first": 12, "inner": 2})
        totals = []
        for edge in page["certificates"]["edges"]:
            node = edge["node"]
            alone = (await client(ONE_HISTORY, {"id": node["id"], "inner": 2}))["certificate"]
            assert node == alone
            # ... and what the top-level listing (ReissueService.list, no DataLoader) answers.
            top = (await client(TOP_HISTORY, {"id": node["id"], "inner": 2}))["reissues"]
            assert node["reissues"] == top
            totals.append(node["reissues"]["totalCount"])
            history = node["reissues"]
            assert len(history["edges"]) == min(2, history["totalCount"])
            assert history["pageInfo"]["hasNextPage"] == (history["totalCount"] > 2)
            if history["pageInfo"]["hasNextPage"]:  # the rest, after the cursor, nested too
                rest = await client(NESTED_HISTORY, {"first": 12, "inner": 5, "after": history["pageInfo"]["endCursor"]})
                mine = next(e["node"] for e in rest["certificates"]["edges"] if e["node"]["id"] == node["id"])
                assert mine["reissues"]["totalCount"] == history["totalCount"]
                assert len(mine["reissues"]["edges"]) == history["totalCount"] - 2
                seen = [e["node"]["id"] for e in history["edges"] + mine["reissues"]["edges"]]
                assert len(set(seen)) == history["totalCount"]
    assert sorted(totals) == sorted(n % 4 for n in range(12))


async def test_histories_past_the_read_bound_are_completed_per_certificate(services, client_for):
    """When the bounded read is full, the certificates it crowded out are read again from
    where it stopped: every page still equals the single-certificate listing."""
    from domain.model import Caller
    from domain.pagination import encode_cursor
    from tests.integration.reissue_api import CANCEL, act

    account = f"trips-{uuid.uuid4().hex[:8]}"
    owner = await client_for(account, "owner")
    # Made in this order: the first certificate's one reissue is older than the last one's
    # eight, so a read of 8 (first=1, 4 certificates) holds only the eight.
    ids, sizes = [], [1, 0, 0, 8]
    for i, size in enumerate(sizes):
        cert, _ = await upload_cert(owner, f"h{i}.{unique_zone()}")
        ids.append(cert["id"])
        for _ in range(size):
            made = await request(owner, certificateId=cert["id"], csrSource="ONLINE", reason="r")
            assert (await act(owner, CANCEL, made["reissue"]["id"]))["userErrors"] == []
    repository = services.reissues._reissues  # noqa: SLF001 - the adapter under test
    caller = Caller(account=account, role=Role.OWNER)
    newest_of_last = (await services.reissues.list(caller, certificate_id=ids[3], first=3, after=None)).items
    repository.nested_read_bound = 0
    try:
        for first, after in ((1, None), (2, None), (1, encode_cursor(newest_of_last[2].id)), (0, None)):
            pages = await services.reissues.list_by_certificates(caller.account, ids, first=first, after=after)
            for cid, size in zip(ids, sizes):
                alone = await services.reissues.list(caller, certificate_id=cid, first=first, after=after)
                assert [r.id for r in pages[cid].items] == [r.id for r in alone.items], (first, after, cid)
                assert pages[cid].has_next_page == alone.has_next_page
                assert pages[cid].total_count == alone.total_count == size
        first_page = await services.reissues.list_by_certificates(caller.account, ids, first=1, after=None)
        assert [len(first_page[c].items) for c in ids] == [1, 0, 0, 1]  # the crowded-out one is there
        # R26: another account asking for these certificates' histories sees none of them.
        stranger = Caller(account=f"{account}-other", role=Role.OWNER)
        theirs = await services.reissues.list_by_certificates(stranger.account, ids, first=5, after=None)
        assert {(len(p.items), p.total_count) for p in theirs.values()} == {(0, 0)}
    finally:
        del repository.nested_read_bound


async def test_one_bad_nested_argument_fails_only_its_own_field(services, client_for):
    """Two certificates' histories load in one batch; a negative `first` on one of them
    answers an error for that one, and the other keeps its data."""
    account = f"trips-{uuid.uuid4().hex[:8]}"
    owner = await client_for(account, "owner")
    a, _ = await upload_cert(owner, f"a.{unique_zone()}")
    b, _ = await upload_cert(owner, f"b.{unique_zone()}")
    query = """query Two($a: ID!, $b: ID!) {
      x: certificate(id: $a) { reissues(first: 2) { totalCount } }
      y: certificate(id: $b) { reissues(first: -1) { totalCount } }
    }"""
    body = (await owner.raw(query, {"a": a["id"], "b": b["id"]})).json()
    assert body["data"]["x"] == {"reissues": {"totalCount": 0}}
    assert body["data"]["y"] is None
    assert [e["path"] for e in body["errors"]] == [["y", "reissues"]]
    assert "first" in body["errors"][0]["message"]
