"""Subscriptions over WebSocket (graphql-transport-ws on /graphql), through the real HTTP
stack and real `certreissue serve` processes on the embedded database: the first message is
the state at subscribe time, then one per change made by any API process; authorised
exactly like queries (R26); the transport's limits hold against a hostile client."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import os
import re
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from pymongo import monitoring
from websockets.exceptions import InvalidStatus

from adapters.embedded import free_port
from adapters.mongo import Database
from adapters.mongo_changes import MongoChangeFeed
from certreissue.bootstrap import build_services
from domain.model import Role
from domain.ports import certificate_topic, domain_topic, reissue_topic
from tests.conftest import ApiServer, GraphQLClient, new_token
from tests.integration.reissue_api import APPROVE, CANCEL, CHECK, request, unique_zone, upload_cert
from tests.support.embedded import new_embedded
from tests.support.graphql_ws import GraphQLWebSocket, ws_url
from tests.support.serve import ServeProcess

WATCH_REISSUE = """
subscription WatchReissue($id: ID!) {
  reissueUpdated(reissueId: $id) { id status events { from to } certificate { id status } }
}"""
GET_REISSUE = "query Get($id: ID!) { reissue(id: $id) { id status events { from to } certificate { id status } } }"
WATCH_CERTIFICATE = """
subscription WatchCertificate($id: ID!) {
  certificateUpdated(id: $id) {
    id status reissueCount activeReissue { id status } reissueEligibility { eligible reasons { code } }
  }
}"""
PENDING = dict(csrSource="ONLINE", keyAlgorithm="ECC", reason="watch")  # needs domain validation: stays pending


@pytest.fixture(scope="module")
async def second_process(settings, database_uri, tmp_path_factory):
    """Another API process on the same database (its own change stream)."""
    serve = ServeProcess(settings, database_uri, tmp_path_factory.mktemp("second"))
    try:
        yield await serve.wait_ready()
    finally:
        serve.stop()


@pytest.fixture(scope="module")
async def polling_process(settings, database_uri, tmp_path_factory):
    """An API process whose change feed polls (as on FerretDB, which has no change streams)."""
    serve = ServeProcess(
        settings, database_uri, tmp_path_factory.mktemp("polling"), env={"CERTS_CHANGE_FEED": "poll"}
    )
    try:
        yield await serve.wait_ready()
    finally:
        serve.stop()


@pytest.fixture(scope="module")
async def strict_process(settings, database_uri, tmp_path_factory):
    """An API process with small WebSocket limits, introspection off and one allowed origin."""
    serve = ServeProcess(
        settings, database_uri, tmp_path_factory.mktemp("strict"),
        env={
            "CERTS_WS_MAX_SUBSCRIPTIONS": "2",
            "CERTS_WS_INIT_TIMEOUT_SECONDS": "1",
            "CERTS_WS_MAX_MESSAGE_BYTES": "4096",
            "CERTS_WS_MAX_CONNECTIONS_PER_TOKEN": "2",
            "CERTS_WS_MAX_CONNECTIONS": "6",
            "CERTS_WS_MAX_SUBSCRIPTION_COST_PER_ACCOUNT": "50",
            "CERTS_CORS_ORIGINS": "https://console.example.com",
            "CERTS_GRAPHIQL": "false",
        },
    )
    try:
        yield await serve.wait_ready()
    finally:
        serve.stop()


def via(http_url: str, client: GraphQLClient) -> GraphQLClient:
    """The same token against another API process."""
    return GraphQLClient(httpx.AsyncClient(base_url=http_url, timeout=30), client.token, client.account, client.staff)


def is_cancelled(data: dict) -> bool:
    return data["reissueUpdated"]["status"] == "CANCELLED"


async def until(ws: GraphQLWebSocket, id: str, wanted) -> dict:
    """The data of the first of `id`'s next messages that is `wanted`. A message is read by
    several queries, as over HTTP; one made while a mutation commits may show part of it
    (a reissue still pending with its certificate no longer in reissue): the next one shows
    all of it."""
    while True:
        data = await ws.next_data(id)
        if wanted(data):
            return data


async def pending_reissue(owner: GraphQLClient) -> tuple[dict, dict]:
    cert, _ = await upload_cert(owner, f"www.{unique_zone()}")
    result = await request(owner, certificateId=cert["id"], **PENDING)
    assert result["userErrors"] == [], result
    return cert, result["reissue"]


# -- delivery -----------------------------------------------------------------------------


async def test_r26_owner_gets_the_current_state_then_a_change_made_by_a_second_process(api, owner, second_process):
    cert, reissue = await pending_reissue(owner)
    queried = (await owner(GET_REISSUE, {"id": reissue["id"]}))["reissue"]
    async with GraphQLWebSocket.open(api.url, owner.token) as ws:
        await ws.subscribe("r", WATCH_REISSUE, {"id": reissue["id"]})
        await ws.subscribe("c", WATCH_CERTIFICATE, {"id": cert["id"]})
        # The first message is the state now: what the query answers.
        assert (await ws.next_data("r"))["reissueUpdated"] == queried
        first = (await ws.next_data("c"))["certificateUpdated"]
        assert first["status"] == "REISSUING" and first["activeReissue"] == {"id": reissue["id"], "status": "PENDING_DOMAIN_VALIDATION"}
        assert [r["code"] for r in first["reissueEligibility"]["reasons"]] == ["REISSUE_IN_PROGRESS"]

        other = via(second_process.url, owner)
        try:
            cancelled = (await other(CANCEL, {"id": reissue["id"]}))["cancelReissue"]
        finally:
            await other.http.aclose()
        assert cancelled["userErrors"] == []

        changed = (await until(ws, "r", is_cancelled))["reissueUpdated"]
        assert changed["status"] == "CANCELLED"
        assert changed["events"][-1] == {"from": "PENDING_DOMAIN_VALIDATION", "to": "CANCELLED"}
        assert changed["certificate"] == {"id": cert["id"], "status": "ISSUED"}
        after = (await until(ws, "c", lambda d: d["certificateUpdated"]["activeReissue"] is None))["certificateUpdated"]
        assert after["status"] == "ISSUED"
        assert after["reissueEligibility"] == {"eligible": True, "reasons": []}


async def test_r3_a_certificate_hears_of_a_reissue_of_another_certificate_under_its_primary_domain(api, owner):
    zone = unique_zone()
    shop, _ = await upload_cert(owner, f"shop.{zone}")
    www, _ = await upload_cert(owner, f"www.{zone}")
    async with GraphQLWebSocket.open(api.url, owner.token) as ws:
        await ws.subscribe("c", WATCH_CERTIFICATE, {"id": www["id"]})
        assert (await ws.next_data("c"))["certificateUpdated"]["reissueEligibility"]["eligible"] is True
        result = await request(owner, certificateId=shop["id"], **PENDING)
        assert result["userErrors"] == []
        locked = (await until(ws, "c", lambda d: not d["certificateUpdated"]["reissueEligibility"]["eligible"]))
        assert locked["certificateUpdated"]["status"] == "ISSUED"  # www itself is not in reissue
        assert [r["code"] for r in locked["certificateUpdated"]["reissueEligibility"]["reasons"]] == ["PRIMARY_DOMAIN_LOCKED"]


async def test_r26_a_viewer_may_subscribe(api, owner, client_for):
    cert, reissue = await pending_reissue(owner)
    viewer = await client_for(owner.account, "viewer")
    async with GraphQLWebSocket.open(api.url, viewer.token) as ws:
        await ws.subscribe("r", WATCH_REISSUE, {"id": reissue["id"]})
        assert (await ws.next_data("r"))["reissueUpdated"]["status"] == "PENDING_DOMAIN_VALIDATION"
        await owner(CANCEL, {"id": reissue["id"]})
        await until(ws, "r", is_cancelled)


async def test_r26_staff_subscribe_by_id_and_see_their_own_decision(api, owner, client_for):
    cert, _ = await upload_cert(owner, f"corp.{unique_zone()}", brand="WOTRUS", level="OV", org="Old Name Ltd")
    reissue = (await request(owner, certificateId=cert["id"], reason="rename", organizationName="New Name Ltd"))["reissue"]
    assert reissue["status"] == "PENDING_MANUAL_REVIEW"
    reviewer = await client_for("", "reviewer")
    async with GraphQLWebSocket.open(api.url, reviewer.token) as ws:
        await ws.subscribe("r", WATCH_REISSUE, {"id": reissue["id"]})
        await ws.subscribe("c", WATCH_CERTIFICATE, {"id": cert["id"]})
        assert (await ws.next_data("r"))["reissueUpdated"]["status"] == "PENDING_MANUAL_REVIEW"
        assert (await ws.next_data("c"))["certificateUpdated"]["status"] == "REISSUING"
        approved = (await reviewer(APPROVE, {"id": reissue["id"], "comment": "ok"}))["approveReissue"]
        assert approved["userErrors"] == []
        await until(ws, "r", lambda d: d["reissueUpdated"]["status"] == "ISSUED")
        # Issuance is two writes (the reissue, then the new version on the certificate, R23):
        # a message may show the first alone; the last shows both.
        issued = await until(ws, "c", lambda data: data["certificateUpdated"]["reissueCount"] == 1)
        assert issued["certificateUpdated"]["status"] == "ISSUED"


async def test_the_poll_fallback_delivers_a_change_made_by_another_process(polling_process, owner):
    """CERTS_CHANGE_FEED=poll (what FerretDB gets): the process asks for its watched IDs
    instead of reading a change stream; the change is made through another process."""
    cert, reissue = await pending_reissue(owner)
    async with GraphQLWebSocket.open(polling_process.url, owner.token) as ws:
        await ws.subscribe("r", WATCH_REISSUE, {"id": reissue["id"]})
        await ws.subscribe("c", WATCH_CERTIFICATE, {"id": cert["id"]})
        assert (await ws.next_data("r"))["reissueUpdated"]["status"] == "PENDING_DOMAIN_VALIDATION"
        assert (await ws.next_data("c"))["certificateUpdated"]["status"] == "REISSUING"
        await owner(CANCEL, {"id": reissue["id"]})
        await until(ws, "r", is_cancelled)
        await until(ws, "c", lambda d: d["certificateUpdated"]["status"] == "ISSUED")


class Finds(monitoring.CommandListener):
    def __init__(self) -> None:
        self.collections: list[str] = []

    def started(self, event) -> None:
        if event.command_name == "find":
            self.collections.append(event.command["find"])

    def succeeded(self, event) -> None:
        pass

    def failed(self, event) -> None:
        pass


async def test_the_poller_asks_for_the_watched_documents_only_with_one_query_per_collection(settings, database_uri, owner):
    """The fallback's query plan, against the embedded database with change streams unused."""
    zone = unique_zone()
    cert, reissue = await pending_reissue(owner)
    neighbour, _ = await upload_cert(owner, f"shop.{zone}")
    other, _ = await upload_cert(owner, f"www.{zone}")
    listener = Finds()
    database = Database(database_uri, settings.db_name, event_listeners=[listener])
    feed = MongoChangeFeed(database, mode="poll")
    topics = [
        reissue_topic(reissue["id"]), certificate_topic(cert["id"]), certificate_topic(other["id"]),
        domain_topic(owner.account, zone),
    ]
    try:
        certificates, reissues, changed = await feed.poll_once(topics, {}, {})
        assert sorted(listener.collections) == ["certificates", "reissues"]  # one query each
        assert set(certificates) == {cert["id"], other["id"]}  # not the unwatched neighbour
        assert set(reissues) == {reissue["id"]}
        # Seen for the first time: its subscribers read once (it may have changed unseen).
        assert changed == {reissue_topic(reissue["id"]), certificate_topic(cert["id"]), certificate_topic(other["id"]),
                           domain_topic(owner.account, cert["primaryDomain"])}

        certificates, reissues, changed = await feed.poll_once(topics, certificates, reissues)
        assert changed == set()

        started = await request(owner, certificateId=neighbour["id"], **PENDING)  # R3: other's eligibility
        certificates, reissues, changed = await feed.poll_once(topics, certificates, reissues)
        assert domain_topic(owner.account, zone) in changed and reissue_topic(started["reissue"]["id"]) in changed
        await owner(CANCEL, {"id": started["reissue"]["id"]})  # leaves the active reissues: a change too
        await owner(CANCEL, {"id": reissue["id"]})
        certificates, reissues, changed = await feed.poll_once(topics, certificates, reissues)
        assert {domain_topic(owner.account, zone), reissue_topic(reissue["id"]), certificate_topic(cert["id"])} <= changed
    finally:
        await database.close()


async def test_auto_opens_a_change_stream_where_the_database_has_them_and_polls_where_not(settings, database_uri):
    """CERTS_CHANGE_FEED=auto: SecantusDB and MongoDB open a change stream; FerretDB 1.24
    refuses one, and the feed polls instead (`make test DB=ferretdb`)."""
    database = Database(database_uri, settings.db_name)
    feed = MongoChangeFeed(database, mode="auto")
    await feed.start()
    watch = feed.watch([reissue_topic("rei_nobody")])  # the feed starts with its first subscriber
    try:
        async with asyncio.timeout(20):
            while feed.source == "none":
                await asyncio.sleep(0.05)
        hello = await database.client.admin.command("hello")
        assert feed.source == ("change-stream" if hello.get("setName") else "poll")
    finally:
        watch.close()
        await feed.close()
        await database.close()


async def test_a_change_that_leaves_the_selection_unchanged_sends_no_message(api, owner):
    cert, reissue = await pending_reissue(owner)
    async with GraphQLWebSocket.open(api.url, owner.token) as ws:
        await ws.subscribe("s", "subscription S($id: ID!) { reissueUpdated(reissueId: $id) { id status } }", {"id": reissue["id"]})
        await ws.next_data("s")
        checked = (await owner(CHECK, {"id": reissue["id"]}))["checkDomainValidation"]
        # The check failed (no record): the reissue document changed, its status did not.
        assert checked["reissue"]["status"] == "PENDING_DOMAIN_VALIDATION"
        assert checked["reissue"]["domainValidation"]["lastError"]
        await owner(CANCEL, {"id": reissue["id"]})
        # The next message is the cancellation, not a copy of the first one.
        assert (await ws.next_data("s"))["reissueUpdated"]["status"] == "CANCELLED"


# -- who may subscribe (R26) --------------------------------------------------------------


async def test_r26_another_accounts_reissue_or_certificate_is_refused_like_a_missing_one(api, owner, client_for, new_account):
    cert, reissue = await pending_reissue(owner)
    stranger = await client_for(new_account("stranger"), "owner")
    async with GraphQLWebSocket.open(api.url, stranger.token) as ws:
        await ws.subscribe("theirs", WATCH_REISSUE, {"id": reissue["id"]})
        await ws.subscribe("missing", WATCH_REISSUE, {"id": "rei_000000000000000000000000"})
        await ws.subscribe("cert", WATCH_CERTIFICATE, {"id": cert["id"]})
        theirs, missing, certificate = (await ws.message("theirs")), (await ws.message("missing")), (await ws.message("cert"))
        for message in (theirs, missing, certificate):
            assert message["type"] == "error", message  # never `next`: no data at all
            assert [e["extensions"]["code"] for e in message["payload"]] == ["NOT_FOUND"]
        # The same answer as for an ID that does not exist, but for the ID itself.
        assert theirs["payload"][0]["message"].replace(reissue["id"], "X") == missing["payload"][0]["message"].replace(
            "rei_000000000000000000000000", "X"
        )
        await owner(CANCEL, {"id": reissue["id"]})
        await ws.ping()
        assert ws.pending("theirs") == [] and ws.pending("cert") == []


@pytest.mark.parametrize(
    "payload",
    [{}, {"Authorization": "Bearer crt1_not-a-token"}, {"Authorization": "Basic abc"}, {"token": "x"}],
    ids=["none", "invalid", "not-bearer", "other-key"],
)
async def test_r26_connection_init_without_a_valid_token_is_closed_4403(api, payload):
    async with GraphQLWebSocket.open(api.url, init=False) as ws:
        await ws.send({"type": "connection_init", "payload": payload})
        closed = await ws.closed()
    assert closed.code == 4403


async def test_r26_the_authorization_key_is_read_case_insensitively(api, owner):
    async with GraphQLWebSocket.open(api.url, payload={"authorization": f"bearer {owner.token}"}) as ws:
        await ws.ping()


async def test_r26_subscribe_before_connection_init_is_closed_4401(api, owner):
    async with GraphQLWebSocket.open(api.url, init=False) as ws:
        await ws.subscribe("r", WATCH_REISSUE, {"id": "rei_x"})
        assert (await ws.closed()).code == 4401


async def test_r26_a_revoked_token_stops_getting_data_and_its_socket_is_closed(api, services, owner):
    """The tests' server remembers a token for 1 s (CERTS_TOKEN_CACHE_SECONDS)."""
    cert, reissue = await pending_reissue(owner)
    now = services.clock.now()
    token, record = await services.tokens.create(owner.account, Role.OWNER, now=now, expires_at=now + timedelta(days=1))
    async with GraphQLWebSocket.open(api.url, token) as ws:
        await ws.subscribe("r", WATCH_REISSUE, {"id": reissue["id"]})
        await ws.next_data("r")
        await services.tokens.revoke(record.token_id, services.clock.now())
        closed = await ws.closed()
        assert closed.code == 4403
        assert ws.pending("r") == []


async def test_r26_an_expired_token_stops_getting_data(api, services, owner):
    cert, reissue = await pending_reissue(owner)
    now = services.clock.now()
    token, _ = await services.tokens.create(owner.account, Role.VIEWER, now=now, expires_at=now + timedelta(seconds=3))
    async with GraphQLWebSocket.open(api.url, token) as ws:
        await ws.subscribe("r", WATCH_REISSUE, {"id": reissue["id"]})
        await ws.next_data("r")
        assert (await ws.closed()).code == 4403


# -- only subscriptions, with the schema's limits ----------------------------------------


async def test_queries_and_mutations_over_the_socket_are_refused(strict_process, owner):
    async with GraphQLWebSocket.open(strict_process.url, owner.token) as ws:
        await ws.subscribe("q", "{ certificates { totalCount } }")
        await ws.subscribe("m", 'mutation { cancelReissue(reissueId: "rei_x") { userErrors { code } } }')
        for id in ("q", "m"):
            message = await ws.message(id)
            assert message["type"] == "error", message
            assert message["payload"][0]["extensions"]["code"] == "OPERATION_NOT_SUPPORTED"
            assert "POST /graphql" in message["payload"][0]["message"]


async def test_a_subscription_sent_by_http_is_a_request_error_pointing_at_the_socket(owner):
    document = 'subscription { reissueUpdated(reissueId: "rei_x") { id } }'
    for response in (
        await owner.raw(document),
        await owner.http.get(
            "/graphql", params={"query": document},
            headers={"Authorization": f"Bearer {owner.token}", "Accept": "application/graphql-response+json"},
        ),
    ):
        body = response.json()
        assert "data" not in body or body["data"] is None, body
        assert body["errors"][0]["extensions"]["code"] == "OPERATION_NOT_SUPPORTED"
        assert "graphql-transport-ws" in body["errors"][0]["message"]
    assert response.status_code == 400  # graphql-response+json: a request error


@pytest.mark.parametrize(
    "document, code",
    [
        (
            "subscription { certificateUpdated(id: \"crt_x\") { reissues(first: 100) { edges { node { certificate {"
            " reissues(first: 100) { edges { node { id } } } } } } } } }",
            "QUERY_TOO_COSTLY",
        ),
        ("subscription { reissueUpdated(reissueId: \"r\") { " + " ".join(f"a{i}: id" for i in range(31)) + " } }", None),
        (
            "subscription { reissueUpdated(reissueId: \"r\") { certificate { activeReissue { certificate { activeReissue {"
            " certificate { activeReissue { certificate { activeReissue { certificate { activeReissue { certificate {"
            " id } } } } } } } } } } } } }",
            None,
        ),
    ],
    ids=["cost", "aliases", "depth"],
)
async def test_the_cost_alias_and_depth_limits_apply_to_subscriptions(api, owner, document, code):
    async with GraphQLWebSocket.open(api.url, owner.token) as ws:
        await ws.subscribe("s", document)
        message = await ws.message("s")
        assert message["type"] == "error", message
        if code:
            assert message["payload"][0]["extensions"]["code"] == code


async def test_trusted_documents_and_apq_apply_to_subscriptions(settings, database_uri, tmp_path, owner):
    """CERTS_TRUSTED_DOCUMENTS: only the listed documents run, by text or by hash, over the
    socket as over HTTP."""
    digest = hashlib.sha256(WATCH_REISSUE.encode()).hexdigest()
    listed = tmp_path / "persisted-documents.json"
    listed.write_text(json.dumps({digest: WATCH_REISSUE}))
    serve = ServeProcess(settings, database_uri, tmp_path, env={"CERTS_TRUSTED_DOCUMENTS": str(listed)})
    try:
        await serve.wait_ready()
        cert, reissue = await pending_reissue(owner)
        async with GraphQLWebSocket.open(serve.url, owner.token) as ws:
            await ws.subscribe("text", WATCH_REISSUE, {"id": reissue["id"]})
            await ws.send({"id": "hash", "type": "subscribe", "payload": {
                "variables": {"id": reissue["id"]},
                "extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}},
            }})
            await ws.subscribe("other", "subscription { reissueUpdated(reissueId: \"x\") { id } }")
            assert (await ws.next_data("text"))["reissueUpdated"]["id"] == reissue["id"]
            assert (await ws.next_data("hash"))["reissueUpdated"]["id"] == reissue["id"]
            refused = await ws.message("other")
            assert refused["type"] == "error"
            assert refused["payload"][0]["extensions"]["code"] == "QUERY_NOT_IN_SAFELIST"
    finally:
        serve.stop()


async def test_subscriptions_per_connection_are_capped(strict_process, owner):
    cert, reissue = await pending_reissue(owner)
    async with GraphQLWebSocket.open(strict_process.url, owner.token) as ws:
        for id in ("a", "b"):
            await ws.subscribe(id, WATCH_REISSUE, {"id": reissue["id"]})
            await ws.next_data(id)
        await ws.subscribe("c", WATCH_REISSUE, {"id": reissue["id"]})
        refused = await ws.message("c")
        assert refused["type"] == "error" and "limit" in refused["payload"][0]["message"].lower()
        await ws.complete("a")
        await ws.ping()
        await ws.subscribe("d", WATCH_REISSUE, {"id": reissue["id"]})
        assert (await ws.next_data("d"))["reissueUpdated"]["id"] == reissue["id"]


async def test_connections_per_token_are_capped_and_freed_when_one_closes(strict_process, owner):
    # One token may not hold every socket of a process: past the cap its next connection_init
    # is refused (1008), and the slot is free again once one of its sockets closes.
    async with GraphQLWebSocket.open(strict_process.url, owner.token) as first:
        async with GraphQLWebSocket.open(strict_process.url, owner.token):
            async with GraphQLWebSocket.open(strict_process.url, init=False) as third:
                await third.send({"type": "connection_init", "payload": {"Authorization": f"Bearer {owner.token}"}})
                refused = await third.closed()
                assert refused.code == 1008 and "CERTS_WS_MAX_CONNECTIONS_PER_TOKEN" in refused.reason
        await first.ping()
        async with GraphQLWebSocket.open(strict_process.url, owner.token) as again:
            await again.ping()


@pytest.mark.parametrize("then", ["not json", {"id": "1", "type": "subscribe", "payload": {"query": "subscription { x }"}}])
async def test_a_socket_closed_for_a_protocol_error_frees_its_slots(strict_process, owner, then):
    # A subscription running when the server closes the socket (4400 for a bad message, 4409
    # for a duplicate id) must not keep the connection's handler alive: its token's slots
    # (and the process's) come back, however often a client does it.
    cert, reissue = await pending_reissue(owner)
    for _ in range(3):  # more than CERTS_WS_MAX_CONNECTIONS_PER_TOKEN
        async with GraphQLWebSocket.open(strict_process.url, owner.token) as ws:
            await ws.subscribe("1", WATCH_REISSUE, {"id": reissue["id"]})
            await ws.ws.send(then if isinstance(then, str) else json.dumps(then))
            assert (await ws.closed()).code in (4400, 4409)
    async with GraphQLWebSocket.open(strict_process.url, owner.token) as again:
        await again.subscribe("s", WATCH_REISSUE, {"id": reissue["id"]})
        assert (await again.next_data("s"))["reissueUpdated"]["id"] == reissue["id"]


@pytest.mark.parametrize("message", ["[1]", "5", '"x"', "null"])
async def test_a_message_that_is_not_a_json_object_closes_4400(strict_process, owner, message):
    async with GraphQLWebSocket.open(strict_process.url, owner.token) as ws:
        await ws.ws.send(message)
        assert (await ws.closed()).code == 4400


async def test_a_process_holds_at_most_its_connection_cap_even_before_init(strict_process):
    # Sockets that never authenticate count too (each for at most the init timeout), so a
    # flood of bare handshakes is refused at the upgrade rather than held.
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(6):
            # (a socket an earlier test closed may still be finishing: wait for its place)
            for attempt in range(50):
                try:
                    await stack.enter_async_context(GraphQLWebSocket.open(strict_process.url, init=False))
                    break
                except InvalidStatus:
                    await asyncio.sleep(0.1)
        with pytest.raises(InvalidStatus) as refused:
            async with GraphQLWebSocket.open(strict_process.url, init=False):
                pass
        assert refused.value.response.status_code == 503
    async with GraphQLWebSocket.open(strict_process.url, init=False) as later:
        assert (await later.closed()).code == 4408  # accepted again once the others left


async def test_an_account_s_subscriptions_share_a_cost_budget_across_its_connections(strict_process, owner, services):
    # What one change costs the process is what its subscribers select: an account may not
    # hold more than CERTS_WS_MAX_SUBSCRIPTION_COST_PER_ACCOUNT of it, whatever tokens and
    # connections it spreads its subscriptions over; a completed one gives its share back.
    cert, reissue = await pending_reissue(owner)
    heavy = "subscription W($id: ID!) { certificateUpdated(id: $id) { id versions { serialNumber } reissueEligibility { reasons { code } } } }"  # 22 units + 10
    other_token = await new_token(services, owner.account, "viewer")
    async with GraphQLWebSocket.open(strict_process.url, owner.token) as first, \
            GraphQLWebSocket.open(strict_process.url, other_token) as second:
        await first.subscribe("a", heavy, {"id": cert["id"]})
        await first.next_data("a")
        await second.subscribe("b", heavy, {"id": cert["id"]})
        refused = await second.message("b")
        assert refused["type"] == "error", refused
        assert refused["payload"][0]["extensions"]["code"] == "SUBSCRIPTION_BUDGET_EXHAUSTED"
        assert "CERTS_WS_MAX_SUBSCRIPTION_COST_PER_ACCOUNT" in refused["payload"][0]["message"]
        await first.complete("a")
        await first.ping()
        await second.subscribe("c", heavy, {"id": cert["id"]})
        assert (await second.next_data("c"))["certificateUpdated"]["id"] == cert["id"]


async def test_even_the_smallest_subscription_holds_a_share_of_the_budget(strict_process, owner, services):
    # `{ id }` selects one object, but every change still costs the process a read: each
    # subscription holds 10 units besides its selection, so 50 units hold 4 of these, not 50.
    cert, _ = await pending_reissue(owner)
    tiny = "subscription W($id: ID!) { certificateUpdated(id: $id) { id } }"
    viewer = await new_token(services, owner.account, "viewer")
    async with contextlib.AsyncExitStack() as stack:
        sockets = [await stack.enter_async_context(GraphQLWebSocket.open(strict_process.url, token))
                   for token in (owner.token, owner.token, viewer)]
        answers = []
        for n in range(5):
            ws = sockets[n % 3]
            await ws.subscribe(f"t{n}", tiny, {"id": cert["id"]})
            message = await ws.message(f"t{n}")
            answers.append(message["type"] if message["type"] == "next" else message["payload"][0]["extensions"]["code"])
    assert answers == ["next"] * 4 + ["SUBSCRIPTION_BUDGET_EXHAUSTED"], answers


@pytest.mark.parametrize("query", ["", "   "])
async def test_an_empty_document_is_a_request_error_not_a_fault(strict_process, owner, query):
    async with GraphQLWebSocket.open(strict_process.url, owner.token) as ws:
        await ws.subscribe("e", query)
        message = await ws.message("e")
    assert message["type"] == "error" and message["payload"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert "empty" in message["payload"][0]["message"]


async def test_a_silent_client_is_closed_after_the_init_timeout(strict_process):
    async with GraphQLWebSocket.open(strict_process.url, init=False) as ws:
        assert (await ws.closed()).code == 4408


async def test_a_message_over_the_size_limit_closes_the_socket(strict_process, owner):
    async with GraphQLWebSocket.open(strict_process.url, owner.token) as ws:
        await ws.subscribe("big", "subscription { reissueUpdated(reissueId: \"" + "x" * 5000 + "\") { id } }")
        assert (await ws.closed()).code == 1009  # message too big


async def test_no_suggestions_over_the_socket_when_introspection_is_off(strict_process, owner):
    async with GraphQLWebSocket.open(strict_process.url, owner.token) as ws:
        await ws.subscribe("s", 'subscription { reissueUpdated(reissueID: "r") { id } }')
        message = await ws.message("s")
    assert message["type"] == "error"
    assert "reissueID" in message["payload"][0]["message"]
    assert "did you mean" not in str(message).lower()


async def test_the_origin_is_checked_against_cors_origins(api, strict_process, owner):
    # Same-origin and listed origins may open a socket; others are refused at the handshake.
    async with GraphQLWebSocket.open(api.url, owner.token, origin=api.url):
        pass
    async with GraphQLWebSocket.open(strict_process.url, owner.token, origin="https://console.example.com"):
        pass
    for url in (api.url, strict_process.url):
        with pytest.raises(InvalidStatus) as refused:
            async with GraphQLWebSocket.open(url, owner.token, origin="https://evil.example"):
                pass
        assert refused.value.response.status_code == 403


@pytest.mark.parametrize(
    "messages, code",
    [
        (["not json"], 4400),
        ([{"type": "shout"}], 4400),
        ([{"type": "connection_init", "payload": {}}], 4429),  # a second one
        ([{"id": "a", "type": "subscribe", "payload": {"query": 7}}], 4400),
    ],
    ids=["not-json", "unknown-type", "second-init", "query-not-a-string"],
)
async def test_protocol_violations_close_the_socket_with_the_protocols_codes(api, owner, messages, code):
    async with GraphQLWebSocket.open(api.url, owner.token) as ws:
        for message in messages:
            await (ws.ws.send(message) if isinstance(message, str) else ws.send(message))
        assert (await ws.closed()).code == code


async def test_a_second_subscribe_with_an_id_still_in_use_closes_the_socket_with_4409(api, owner):
    # The first subscription must still be running when the second arrives: one on a pending
    # reissue stays open (one on an unknown id ends at once and frees its id, which is allowed).
    cert, reissue = await pending_reissue(owner)
    async with GraphQLWebSocket.open(api.url, owner.token) as ws:
        await ws.subscribe("a", WATCH_REISSUE, {"id": reissue["id"]})
        first = await ws.message("a")
        assert first["type"] == "next"
        await ws.subscribe("a", WATCH_REISSUE, {"id": reissue["id"]})
        assert (await ws.closed()).code == 4409


async def test_a_document_that_does_not_parse_is_an_error_message_and_the_connection_lives_on(api, owner):
    cert, reissue = await pending_reissue(owner)
    async with GraphQLWebSocket.open(api.url, owner.token) as ws:
        await ws.subscribe("ok", WATCH_REISSUE, {"id": reissue["id"]})
        await ws.next_data("ok")
        await ws.subscribe("bad", "subscription {")
        await ws.subscribe("long", "subscription { " + "a: id " * 3000 + "}")  # over CERTS_MAX_TOKENS
        for id in ("bad", "long"):
            message = await ws.message(id)
            assert message["type"] == "error" and "Syntax Error" in message["payload"][0]["message"], message
        await owner(CANCEL, {"id": reissue["id"]})
        await until(ws, "ok", is_cancelled)


async def test_the_readme_client_runs_as_written(api, owner):
    """README's "Live status" Python client, run as a user would: it prints the state, then
    the change."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("## Live status (subscriptions)"):]
    script = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    cert, reissue = await pending_reissue(owner)
    client = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, owner.token, reissue["id"], stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "CERTS_WS_URL": ws_url(api.url)},
    )
    try:
        async with asyncio.timeout(30):
            first = json.loads(await client.stdout.readline())
            assert first["data"]["reissueUpdated"]["status"] == "PENDING_DOMAIN_VALIDATION"
            await owner(CANCEL, {"id": reissue["id"]})
            while (line := json.loads(await client.stdout.readline()))["data"]["reissueUpdated"]["status"] != "CANCELLED":
                assert line["data"]["reissueUpdated"]["status"] == "PENDING_DOMAIN_VALIDATION"
    finally:
        client.kill()
        await client.wait()


async def test_another_subprotocol_is_refused(api, owner):
    async with GraphQLWebSocket.open(api.url, init=False, subprotocols=("graphql-ws",)) as ws:
        assert (await ws.closed()).code == 4406


# -- the database goes away and comes back -------------------------------------------------


@pytest.mark.skipif(bool(os.environ.get("MONGODB_URI")), reason="stops and restarts its own embedded database")
async def test_a_database_outage_keeps_the_socket_and_the_subscriber_resyncs_when_it_returns(settings, tmp_path):
    port = free_port()
    database = new_embedded(tmp_path / "db", port=port)
    database.start()
    api_settings = dataclasses.replace(
        settings, db_name=f"subs_{uuid.uuid4().hex[:8]}", data_dir=tmp_path / "data", db_timeout_ms=1000
    )
    server = ApiServer(api_settings, database.uri).start()
    services = build_services(api_settings, database.uri)
    try:
        token = await new_token(services, "outage")
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            owner = GraphQLClient(http, token, "outage")
            cert, reissue = await pending_reissue(owner)
            async with GraphQLWebSocket.open(server.url, token) as ws:
                await ws.subscribe("r", WATCH_REISSUE, {"id": reissue["id"]})
                assert (await ws.next_data("r"))["reissueUpdated"]["status"] == "PENDING_DOMAIN_VALIDATION"

                database.stop()
                await asyncio.sleep(3)  # the change stream and the token check fail meanwhile
                await ws.ping()  # the socket lives on

                database = new_embedded(tmp_path / "db", port=port)
                database.start()
                deadline = time.monotonic() + 30
                while (await http.get("/readyz")).status_code != 200:
                    assert time.monotonic() < deadline, "the service did not see the database come back"
                    await asyncio.sleep(0.2)
                cancelled = await owner(CANCEL, {"id": reissue["id"]})
                assert cancelled["cancelReissue"]["userErrors"] == []
                await until(ws, "r", is_cancelled)
    finally:
        server.stop()
        await services.close()
        database.stop()


async def test_the_serve_processes_logged_no_fault(second_process, polling_process, strict_process):
    """Whatever the tests above did to them (refused, closed, timed out, oversized), no
    traceback: every case is handled, no task died unobserved."""
    for process in (second_process, polling_process, strict_process):
        log = process.log_path.read_text(errors="replace")
        assert "Traceback" not in log and "exception was never retrieved" not in log, log[-3000:]
        errors = [line for line in log.splitlines() if '"level": "error"' in line
                  and "ASGI callable returned without completing handshake" not in line]  # uvicorn's, for a refused upgrade
        assert errors == [], errors[:5]
