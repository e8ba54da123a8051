"""Webhooks through the real HTTP API and the embedded database: endpoints (R26), the outbox
(every status change, R25, delivered at least once, each event ID once per attempt, even
across a killed process), signatures by the Standard Webhooks scheme (and a rotation's
overlap), retries, and the address rules of file validation (R21) for endpoint URLs."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import signal
import uuid
from collections import Counter
from datetime import timedelta

import httpx
import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from tests.conftest import ApiServer, GraphQLClient, new_token
from tests.integration.reissue_api import CANCEL, act, request, unique_zone, upload_cert
from tests.support.serve import ServeProcess
from tests.support.webhook_receiver import WebhookReceiver

CREATE = """
mutation Create($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) {
    webhookEndpoint { id url events createdAt secretRotatedAt }
    secret
    userErrors { code message field }
  }
}
"""
ROTATE = """
mutation Rotate($id: ID!) {
  rotateWebhookSecret(input: {endpointId: $id}) {
    webhookEndpoint { id secretRotatedAt } secret userErrors { code message field }
  }
}
"""
DELETE = """
mutation Delete($id: ID!) {
  deleteWebhookEndpoint(input: {endpointId: $id}) { deletedEndpointId userErrors { code message field } }
}
"""
ENDPOINTS = """
query Endpoints($after: String) {
  webhookEndpoints(first: 100, after: $after) {
    totalCount edges { cursor node { id url events } } pageInfo { hasNextPage endCursor }
  }
}
"""
DELIVERIES = """
query Deliveries($filter: WebhookDeliveryFilter, $after: String, $first: Int) {
  webhookDeliveries(first: $first, after: $after, filter: $filter) {
    totalCount
    edges { node {
      id endpointId eventId eventType status attemptCount lastStatusCode lastLatencyMs nextAttemptAt payload
      attempts { at statusCode latencyMs error responseExcerpt }
    } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
TYPES = "{ webhookEventTypes }"


async def create_endpoint(client: GraphQLClient, url: str, events: list[str]) -> tuple[dict, str]:
    payload = (await client(CREATE, {"input": {"url": url, "events": events}}))["createWebhookEndpoint"]
    assert payload["userErrors"] == [], payload["userErrors"]
    assert payload["secret"].startswith("whsec_")
    return payload["webhookEndpoint"], payload["secret"]


def event_ids(received) -> list[str]:
    return [r.headers["webhook-id"] for r in received]


def verified(received, secret: str) -> list[dict]:
    """Every request verified with the standardwebhooks package (raises otherwise)."""
    hook = Webhook(secret)
    return [hook.verify(r.body, r.headers) for r in received]


async def paid_dv(client: GraphQLClient) -> dict:
    cert, _ = await upload_cert(client, f"shop.{unique_zone()}", brand="SECTIGO", level="DV")
    return cert


async def pending_reissue(client: GraphQLClient) -> dict:
    """A reissue in PENDING_DOMAIN_VALIDATION (a new key: validation needed, R15, R17)."""
    cert = await paid_dv(client)
    payload = await request(client, certificateId=cert["id"], csrSource="ONLINE", reason="key compromised")
    assert payload["userErrors"] == [], payload["userErrors"]
    return payload["reissue"]


async def all_deliveries(client: GraphQLClient, **filter) -> list[dict]:
    found, after = [], None
    while True:
        page = (await client(DELIVERIES, {"filter": filter or None, "after": after, "first": 100}))["webhookDeliveries"]
        found += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


async def wait_deliveries(client: GraphQLClient, predicate, within: float = 60.0, **filter) -> list[dict]:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        found = await all_deliveries(client, **filter)
        if predicate(found):
            return found
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"deliveries never matched: {found}")
        await asyncio.sleep(0.1)


# -- endpoints ---------------------------------------------------------------------------


async def test_the_event_types_are_listed_one_per_reissue_status_and_the_patterns(owner):
    types = (await owner(TYPES))["webhookEventTypes"]
    assert set(types) == {
        "reissue.created", "reissue.pending_domain_validation", "reissue.pending_manual_review",
        "reissue.pending_ca_verification", "reissue.issued", "reissue.rejected", "reissue.cancelled",
        "reissue.expired", "reissue.*", "certificate.expiring",
    }


async def test_an_unknown_event_type_is_a_user_error_naming_the_field(owner):
    payload = (await owner(CREATE, {"input": {"url": "http://127.0.0.1:9/x", "events": ["reissue.issued",
                                                                                      "reissue.exploded"]}}))
    errors = payload["createWebhookEndpoint"]["userErrors"]
    assert [(e["code"], e["field"]) for e in errors] == [("INVALID_INPUT", ["input", "events", "1"])]
    assert payload["createWebhookEndpoint"]["secret"] is None
    assert (await owner(ENDPOINTS))["webhookEndpoints"]["totalCount"] == 0


@pytest.mark.parametrize("url", [
    "ftp://127.0.0.1/x", "http://user:pw@127.0.0.1/x", "http:///x", "http://127.0.0.1/x#frag",
    "http://127.0.0.1/" + "a" * 2100, "http://exa mple.com/", "javascript:alert(1)",
])
async def test_a_url_that_is_not_plain_http_or_https_is_a_user_error_naming_the_url(owner, url):
    payload = (await owner(CREATE, {"input": {"url": url, "events": ["reissue.*"]}}))["createWebhookEndpoint"]
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [("INVALID_INPUT", ["input", "url"])]
    assert payload["webhookEndpoint"] is None and payload["secret"] is None


@pytest.fixture(scope="module")
def strict_api(settings, database_uri):
    """A second API process on the same database that does not allow private addresses (the
    default, CERTS_HTTP_VALIDATION_ALLOW_PRIVATE off): R21's rules for endpoint URLs. It
    delivers nothing (the other tests' receivers are on loopback, which it would refuse)."""
    strict = dataclasses.replace(settings, http_validation_allow_private=False, webhook_delivery=False)
    server = ApiServer(strict, database_uri).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080/hooks", "https://10.1.2.3/hooks", "http://[::1]/hooks", "http://[::ffff:127.0.0.1]/",
    "http://169.254.169.254/latest/meta-data/", "http://[64:ff9b::a00:1]/", "http://0.0.0.0/",
])
async def test_a_private_or_loopback_url_is_refused_without_the_allow_setting(strict_api, services, new_account, url):
    account = new_account("hooks-strict")
    async with httpx.AsyncClient(base_url=strict_api.url, timeout=30) as http:
        client = GraphQLClient(http, await new_token(services, account), account)
        payload = (await client(CREATE, {"input": {"url": url, "events": ["reissue.*"]}}))["createWebhookEndpoint"]
        assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [("INVALID_INPUT", ["input", "url"])]
        assert "not a public address" in payload["userErrors"][0]["message"]
        assert (await client(ENDPOINTS))["webhookEndpoints"]["totalCount"] == 0


async def test_another_account_cannot_see_delete_or_rotate_an_endpoint_or_its_deliveries(client_for, new_account):
    owner = await client_for(new_account("hooks-a"), "owner")
    other = await client_for(new_account("hooks-b"), "owner")
    with WebhookReceiver() as receiver:
        endpoint, _ = await create_endpoint(owner, receiver.url, ["reissue.*"])
        await pending_reissue(owner)
        await receiver.wait_for(lambda got: len(got) >= 1)
        assert (await other(ENDPOINTS))["webhookEndpoints"]["totalCount"] == 0
        assert await all_deliveries(other) == []
        assert await all_deliveries(other, endpointId=endpoint["id"]) == []
        for document in (DELETE, ROTATE):
            data = await other(document, {"id": endpoint["id"]})
            (payload,) = data.values()
            assert [e["code"] for e in payload["userErrors"]] == ["NOT_FOUND"]
        assert (await owner(ENDPOINTS))["webhookEndpoints"]["totalCount"] == 1
        assert len(await all_deliveries(owner, endpointId=endpoint["id"])) == 1


async def test_the_secret_is_shown_once_and_never_returned_by_a_query(owner):
    endpoint, secret = await create_endpoint(owner, "http://127.0.0.1:9/hooks", ["reissue.issued"])
    listed = await owner.raw(ENDPOINTS)
    assert secret not in listed.text and secret.removeprefix("whsec_") not in listed.text
    assert [e["node"]["id"] for e in listed.json()["data"]["webhookEndpoints"]["edges"]] == [endpoint["id"]]


async def test_a_deleted_endpoint_is_gone_and_a_second_delete_is_not_found(owner):
    endpoint, _ = await create_endpoint(owner, "http://127.0.0.1:9/hooks", ["reissue.*"])
    first = (await owner(DELETE, {"id": endpoint["id"]}))["deleteWebhookEndpoint"]
    assert first == {"deletedEndpointId": endpoint["id"], "userErrors": []}
    again = (await owner(DELETE, {"id": endpoint["id"]}))["deleteWebhookEndpoint"]
    assert [e["code"] for e in again["userErrors"]] == ["NOT_FOUND"]
    assert (await owner(ENDPOINTS))["webhookEndpoints"]["totalCount"] == 0


async def test_forty_concurrent_creations_make_exactly_twenty_endpoints_and_a_delete_frees_one(owner):
    async def create() -> dict:
        return (await owner(CREATE, {"input": {"url": "http://127.0.0.1:9/hooks", "events": ["reissue.*"]}}))[
            "createWebhookEndpoint"]

    results = await asyncio.gather(*(create() for _ in range(40)))
    created = [r for r in results if r["userErrors"] == []]
    refused = [r for r in results if r["userErrors"] != []]
    assert len(created) == 20
    assert all(r["webhookEndpoint"] is None for r in refused)
    assert {(e["code"], e["message"], tuple(e["field"])) for r in refused for e in r["userErrors"]} == {
        ("INVALID_INPUT", "an account has at most 20 webhook endpoints", ("input", "url"))}
    assert (await owner(ENDPOINTS))["webhookEndpoints"]["totalCount"] == 20
    assert (await create())["userErrors"] != []
    deleted = (await owner(DELETE, {"id": created[7]["webhookEndpoint"]["id"]}))["deleteWebhookEndpoint"]
    assert deleted["userErrors"] == []
    again = await create()
    assert again["userErrors"] == [] and again["webhookEndpoint"]["id"]
    assert (await create())["userErrors"] != []
    assert (await owner(ENDPOINTS))["webhookEndpoints"]["totalCount"] == 20


# -- delivery ----------------------------------------------------------------------------


async def test_a_receiver_sees_every_status_change_of_a_reissue_once_per_event_id_signed(owner):
    with WebhookReceiver() as receiver:
        endpoint, secret = await create_endpoint(owner, receiver.url, ["reissue.*"])
        reissue = await pending_reissue(owner)
        cancelled = await act(owner, CANCEL, reissue["id"])
        assert cancelled["reissue"]["status"] == "CANCELLED"
        expected = {f"msg_{reissue['id']}_0", f"msg_{reissue['id']}_1"}
        got = await receiver.wait_for(lambda got: expected <= set(event_ids(got)))
        bodies = verified(got, secret)
        assert sorted(event_ids(got)) == sorted(expected), "each event ID exactly once"
        by_type = {b["type"]: b["data"] for b in bodies}
        assert by_type["reissue.created"]["status"] == "PENDING_DOMAIN_VALIDATION"
        assert by_type["reissue.cancelled"] == {**by_type["reissue.cancelled"], "reissueId": reissue["id"],
                                                "status": "CANCELLED", "previousStatus": "PENDING_DOMAIN_VALIDATION"}
        deliveries = await wait_deliveries(owner, lambda d: all(x["status"] == "DELIVERED" for x in d) and len(d) == 2,
                                           endpointId=endpoint["id"])
        assert {d["eventId"] for d in deliveries} == expected
        assert all(d["attemptCount"] == 1 and d["lastStatusCode"] == 200 and d["nextAttemptAt"] is None
                   for d in deliveries)


async def test_an_endpoint_for_reissue_issued_hears_of_a_reissue_issued_at_once(owner):
    # R19: a reissue with the original CSR is waived (SAME_CSR) and issued in its request: its
    # one event is reissue.created with status ISSUED, which the endpoint must get all the same.
    with WebhookReceiver() as receiver:
        _, secret = await create_endpoint(owner, receiver.url, ["reissue.issued"])
        cert = await paid_dv(owner)
        payload = await request(owner, certificateId=cert["id"], reason="r")
        assert payload["reissue"]["status"] == "ISSUED", payload
        got = await receiver.wait_for(lambda got: len(got) >= 1)
        (body,) = verified(got, secret)
        assert event_ids(got) == [f"msg_{payload['reissue']['id']}_0"]
        assert (body["type"], body["data"]["status"]) == ("reissue.created", "ISSUED")


async def test_only_subscribed_types_are_sent_and_only_events_after_the_endpoint_was_created(owner):
    reissue = await pending_reissue(owner)  # its creation happened before any endpoint
    with WebhookReceiver() as receiver:
        await create_endpoint(owner, receiver.url, ["reissue.cancelled"])
        await act(owner, CANCEL, reissue["id"])
        got = await receiver.wait_for(lambda got: len(got) >= 1)
        await asyncio.sleep(1)  # room for a wrong second delivery to arrive (it must not)
        assert event_ids(receiver.snapshot()) == [f"msg_{reissue['id']}_1"]
        assert json.loads(got[0].body)["type"] == "reissue.cancelled"


async def test_a_receiver_that_fails_then_recovers_gets_the_event_later_with_attempts_recorded(owner):
    with WebhookReceiver() as receiver:
        receiver.statuses = [500, 503]
        endpoint, secret = await create_endpoint(owner, receiver.url, ["reissue.created"])
        reissue = await pending_reissue(owner)
        got = await receiver.wait_for(lambda got: len(got) >= 3)
        assert set(event_ids(got)) == {f"msg_{reissue['id']}_0"}, "the same webhook-id on every retry"
        assert len({r.body for r in got}) == 1, "retries are byte-identical"
        verified(got, secret)
        (delivery,) = await wait_deliveries(owner, lambda d: d and d[0]["status"] == "DELIVERED",
                                            endpointId=endpoint["id"])
        assert [a["statusCode"] for a in delivery["attempts"]] == [500, 503, 200], delivery["attempts"]
        assert delivery["attemptCount"] == 3 and delivery["lastStatusCode"] == 200
        assert delivery["attempts"][0]["error"] == "HTTP 500"
        assert all(a["latencyMs"] >= 0 for a in delivery["attempts"])
        assert delivery["payload"].encode() == got[0].body


async def test_an_unreachable_receiver_is_retried_with_the_error_recorded(owner):
    with WebhookReceiver() as receiver:
        closed = receiver.url  # taken, then closed: connections are refused
    endpoint, _ = await create_endpoint(owner, closed, ["reissue.created"])
    other, _ = await create_endpoint(owner, closed + "/other", ["reissue.created"])
    await pending_reissue(owner)
    (delivery,) = await wait_deliveries(owner, lambda d: d and d[0]["attemptCount"] >= 2, endpointId=endpoint["id"])
    assert delivery["endpointId"] == endpoint["id"]
    assert {d["endpointId"] for d in await all_deliveries(owner)} == {endpoint["id"], other["id"]}
    assert delivery["status"] == "PENDING" and delivery["nextAttemptAt"] is not None
    assert all(a["statusCode"] is None and a["error"].startswith("connection failed") for a in delivery["attempts"])
    filtered = await all_deliveries(owner, endpointId=endpoint["id"], status="DELIVERED")
    assert filtered == []


async def test_rotation_signs_with_the_new_and_the_old_secret_during_the_overlap(owner):
    with WebhookReceiver() as receiver:
        endpoint, old = await create_endpoint(owner, receiver.url, ["reissue.created"])
        rotated = (await owner(ROTATE, {"id": endpoint["id"]}))["rotateWebhookSecret"]
        assert rotated["userErrors"] == [] and rotated["webhookEndpoint"]["secretRotatedAt"]
        new = rotated["secret"]
        assert new.startswith("whsec_") and new != old
        await pending_reissue(owner)
        (got,) = await receiver.wait_for(lambda got: len(got) >= 1)
        assert len(got.headers["webhook-signature"].split(" ")) == 2
        verified([got], new)
        verified([got], old)


async def test_a_second_rotation_retires_the_first_secret_at_once_and_signs_with_two_secrets_only(owner):
    """A leaked secret is retired by rotating twice: only the secret a rotation replaces
    keeps signing through the overlap; one that was retiring already is dropped."""
    with WebhookReceiver() as receiver:
        endpoint, first = await create_endpoint(owner, receiver.url, ["reissue.created"])
        secrets = [first]
        for _ in range(2):
            rotated = (await owner(ROTATE, {"id": endpoint["id"]}))["rotateWebhookSecret"]
            assert rotated["userErrors"] == []
            secrets.append(rotated["secret"])
        await pending_reissue(owner)
        (got,) = await receiver.wait_for(lambda got: len(got) >= 1)
        assert len(got.headers["webhook-signature"].split(" ")) == 2
        verified([got], secrets[2])
        verified([got], secrets[1])
        with pytest.raises(WebhookVerificationError):
            verified([got], secrets[0])


async def test_racing_rotations_each_replace_the_one_before_so_a_leaked_secret_stops_signing(
    settings, database_uri, owner
):
    """Rotating again retires a leaked secret even when rotations race. Eight rotations read
    the endpoint together (each waits until all have read: the worst interleaving, on the
    real database) and then write: each must replace the secret the one before it made, so
    the leaked one signs no more and exactly two of those handed out sign."""
    from certreissue.bootstrap import build_services
    from domain.model import Caller, Role

    services = build_services(settings, database_uri)
    store, together, readers = services.webhooks._store, asyncio.Event(), []  # noqa: SLF001
    read = store.endpoint

    async def read_together(endpoint_id, account):
        found = await read(endpoint_id, account)
        if len(readers) < 8:
            readers.append(endpoint_id)
            if len(readers) == 8:
                together.set()
            await together.wait()
        return found

    store.endpoint = read_together
    try:
        with WebhookReceiver() as receiver:
            endpoint, leaked = await create_endpoint(owner, receiver.url, ["reissue.created"])
            caller = Caller(owner.account, Role.OWNER)
            rotated = await asyncio.gather(*(services.webhooks.rotate_secret(caller, endpoint["id"]) for _ in range(8)))
            handed = [secret for _, secret in rotated]
            await pending_reissue(owner)
            (got,) = await receiver.wait_for(lambda got: len(got) >= 1)
            signing = []
            for secret in [leaked, *handed]:
                try:
                    verified([got], secret)
                    signing.append(secret)
                except WebhookVerificationError:
                    pass
            assert leaked not in signing and len(signing) == 2, "a lost rotation kept an older secret signing"
    finally:
        await services.close()


async def test_a_process_killed_after_the_change_leaves_the_event_to_another_process(settings, database_uri, services,
                                                                                    new_account, tmp_path, api):
    """A process with delivery turned off (CERTS_WEBHOOK_DELIVERY=false) makes the change and
    is killed (SIGKILL); the session's process delivers the event, once."""
    account = new_account("hooks-kill")
    token = await new_token(services, account)
    victim = ServeProcess(settings, database_uri, tmp_path, env={"CERTS_WEBHOOK_DELIVERY": "false",
                                                                 "CERTS_HTTP_VALIDATION_ALLOW_PRIVATE": "true"})
    try:
        await victim.wait_ready()
        with WebhookReceiver() as receiver:
            async with httpx.AsyncClient(base_url=victim.url, timeout=30) as http:
                client = GraphQLClient(http, token, account)
                _, secret = await create_endpoint(client, receiver.url, ["reissue.*"])
                reissue = await pending_reissue(client)
                victim.process.send_signal(signal.SIGKILL)
                victim.process.wait(10)
            got = await receiver.wait_for(lambda got: len(got) >= 1)
            await asyncio.sleep(1)
            assert event_ids(receiver.snapshot()) == [f"msg_{reissue['id']}_0"]
            assert verified(got, secret)[0]["data"]["reissueId"] == reissue["id"]
    finally:
        victim.stop()


async def test_two_processes_delivering_post_each_event_id_once(settings, database_uri, services, new_account, api):
    second = ApiServer(settings, database_uri).start()
    try:
        account = new_account("hooks-two")
        token = await new_token(services, account)
        with WebhookReceiver() as receiver:
            async with httpx.AsyncClient(base_url=api.url, timeout=30) as first_http, \
                    httpx.AsyncClient(base_url=second.url, timeout=30) as second_http:
                a, b = GraphQLClient(first_http, token, account), GraphQLClient(second_http, token, account)
                _, secret = await create_endpoint(a, receiver.url, ["reissue.*"])
                reissues = await asyncio.gather(*(pending_reissue(c) for c in (a, b) * 4))
                await asyncio.gather(*(act(c, CANCEL, r["id"]) for c, r in zip((b, a) * 4, reissues)))
            expected = {f"msg_{r['id']}_{i}" for r in reissues for i in (0, 1)}
            await receiver.wait_for(lambda got: expected <= set(event_ids(got)))
            await asyncio.sleep(1)
            got = receiver.snapshot()
            assert Counter(event_ids(got)) == Counter(expected), "one POST per event ID (all answered 200)"
            verified(got, secret)
    finally:
        second.stop()


async def test_a_process_acting_on_a_stale_read_does_not_post_an_attempt_already_made(settings, database_uri):
    """Where a claim is a find and then a write (FerretDB), a second process can hold a copy
    of a delivery read before the first recorded its attempt and freed the attempt's slot:
    it must see the attempt made and not post it again."""
    from certreissue.bootstrap import build_services
    from domain.model import Caller, Role
    from domain.webhooks import Delivery, DeliveryStatus

    own = dataclasses.replace(settings, db_name=f"stale_{uuid.uuid4().hex[:8]}")
    services = build_services(own, database_uri)
    await services.start()
    try:
        with WebhookReceiver() as receiver:
            endpoint, _ = await services.webhooks.create_endpoint(Caller("stale", Role.OWNER), receiver.url,
                                                                  ["reissue.*"])
            now = services.clock.now()
            await services.webhooks._store.add_delivery(Delivery(  # noqa: SLF001
                id="whd_stale", endpoint_id=endpoint.id, account="stale", event_id="msg_stale_0",
                event_type="reissue.created", body="{}", created_at=now, status=DeliveryStatus.PENDING,
                next_attempt_at=now))
            stale = await services.webhooks._store.delivery("whd_stale", "stale")  # noqa: SLF001
            assert await services.webhooks.deliver_due() == 1
            await services.webhooks._attempt(stale)  # noqa: SLF001 - the second process, on its old copy
            await asyncio.sleep(0.5)
            assert event_ids(receiver.snapshot()) == ["msg_stale_0"]
    finally:
        await services.database.client.drop_database(own.db_name)
        await services.close()


class Crash(BaseException):
    """A process's death (no `except Exception` survives it, as no code survives SIGKILL)."""


async def test_a_process_dying_right_after_the_commit_point_loses_no_event(settings, database_uri, services, owner):
    """The change is committed by its transition slot (adapters/mongo_reissues.py) and the
    process dies before the reissue document is written. The sweep of another process applies
    the slot's document, which carries the outbox flag with the event, and the event goes out."""
    from certreissue.bootstrap import build_services
    from domain.model import Caller, Role

    with WebhookReceiver() as receiver:
        _, secret = await create_endpoint(owner, receiver.url, ["reissue.cancelled"])
        reissue = await pending_reissue(owner)
        doomed = build_services(settings, database_uri)

        async def die(doc, seq):
            raise Crash("killed between the commit point and the write of the reissue document")

        doomed.reissue_repository._apply = die  # noqa: SLF001
        try:
            with pytest.raises(Crash):
                await doomed.reissues.cancel(Caller(owner.account, Role.OWNER), reissue["id"])
        finally:
            await doomed.close()
        assert (await services.reissue_repository.get(reissue["id"])).status.value == "PENDING_DOMAIN_VALIDATION"
        await services.reissues.sweep()  # any process's sweep (R24)
        got = await receiver.wait_for(lambda got: len(got) >= 1)
        await asyncio.sleep(1)
        assert event_ids(receiver.snapshot()) == [f"msg_{reissue['id']}_1"]
        assert verified(got, secret)[0]["data"]["status"] == "CANCELLED"


async def test_a_flag_cleared_over_a_newer_change_is_set_again_by_the_relay(database_uri):
    """The relay clears the outbox flag only for the version it relayed. Where the database's
    conditional update is a find and then a write (FerretDB), a change that lands in between
    can lose its flag: the relay reads the document back and sets the flag again. (On a
    database of its own: no API process relays these documents meanwhile.)"""
    from adapters.mongo import Database
    from adapters.webhooks import MongoWebhookStore

    database = Database(database_uri, f"outbox_{uuid.uuid4().hex[:8]}")
    try:
        store, reissues = MongoWebhookStore(database), database.db.reissues
        # What the race leaves: version 3 written, its flag cleared by the relay of version 2.
        await reissues.insert_one({"_id": "rei_race", "seq": 3, "outboxPending": False})
        await store.relayed("rei_race", 2)
        assert (await reissues.find_one({"_id": "rei_race"}))["outboxPending"] is True
        await store.relayed("rei_race", 3)  # the relay of the current version clears it for good
        assert (await reissues.find_one({"_id": "rei_race"}))["outboxPending"] is False
    finally:
        await database.client.drop_database(database.db.name)
        await database.client.close()


# -- redelivery --------------------------------------------------------------------------

REDELIVER = """
mutation Redeliver($id: ID!) {
  redeliverWebhook(input: {deliveryId: $id}) {
    delivery { id eventId status nextAttemptAt attemptCount payload attempts { statusCode } }
    userErrors { code message field }
  }
}
"""


@pytest.fixture(scope="module")
def short_retry_api(settings, database_uri):
    """An API on a database of its own (no other process delivers its deliveries) whose
    retry window is 2 s (CERTS_WEBHOOK_RETRY_FOR): a failing receiver's delivery is FAILED
    within seconds."""
    short = dataclasses.replace(settings, db_name=f"{settings.db_name}_redeliver",
                                webhook_retry_for=timedelta(seconds=2))
    server = ApiServer(short, database_uri).start()
    try:
        yield short, server
    finally:
        server.stop()


@pytest.fixture
async def short_clients(short_retry_api, database_uri, new_account):
    """role -> a client of the short-retry API: "owner" and "viewer" of one account, "other"
    (the owner of another account); tokens minted on that API's own database."""
    from certreissue.bootstrap import build_services

    short, server = short_retry_api
    services = build_services(short, database_uri)
    account, other = new_account("redeliver"), new_account("redeliver-other")
    try:
        tokens = {"owner": await new_token(services, account, "owner"),
                  "viewer": await new_token(services, account, "viewer"),
                  "other": await new_token(services, other, "owner")}
    finally:
        await services.close()
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        yield {role: GraphQLClient(http, token, other if role == "other" else account)
               for role, token in tokens.items()}


async def failed_delivery(client: GraphQLClient, receiver: WebhookReceiver) -> tuple[dict, str, dict]:
    """A delivery to `receiver` (answering 500) retried until it is FAILED: (endpoint, secret, delivery)."""
    receiver.default_status = 500
    endpoint, secret = await create_endpoint(client, receiver.url, ["reissue.created"])
    await pending_reissue(client)
    (delivery,) = await wait_deliveries(client, lambda d: d and d[0]["status"] == "FAILED", endpointId=endpoint["id"])
    return endpoint, secret, delivery


async def test_a_failed_delivery_redelivered_after_the_receiver_recovers_is_delivered_with_the_same_id_and_body(
        short_clients):
    owner = short_clients["owner"]
    with WebhookReceiver() as receiver:
        endpoint, secret, failed = await failed_delivery(owner, receiver)
        before = len(receiver.snapshot())
        assert before >= 2 and all(a["statusCode"] == 500 for a in failed["attempts"])
        # Recovered, but for one more 503: the redelivery's own retry window (from now, not
        # from the first attempt, long past) retries it.
        receiver.statuses, receiver.default_status = [503], 200
        payload = (await owner(REDELIVER, {"id": failed["id"]}))["redeliverWebhook"]
        assert payload["userErrors"] == []
        assert payload["delivery"]["id"] == failed["id"] and payload["delivery"]["status"] == "PENDING"
        assert payload["delivery"]["nextAttemptAt"] is not None
        (delivered,) = await wait_deliveries(owner, lambda d: d and d[0]["status"] == "DELIVERED",
                                             endpointId=endpoint["id"])
        got = receiver.snapshot()
        assert len(got) == before + 2
        assert set(event_ids(got)) == {failed["eventId"]}, "the same webhook-id"
        assert {r.body for r in got} == {failed["payload"].encode()}, "the byte-identical body"
        verified(got, secret)
        assert [a["statusCode"] for a in delivered["attempts"]] == [a["statusCode"] for a in failed["attempts"]] + [
            503, 200], "the attempt history is kept"
        assert delivered["attemptCount"] == len(failed["attempts"]) + 2 and delivered["nextAttemptAt"] is None


async def test_a_delivered_delivery_can_be_redelivered_and_is_posted_again(short_clients):
    owner = short_clients["owner"]
    with WebhookReceiver() as receiver:
        endpoint, _ = await create_endpoint(owner, receiver.url, ["reissue.created"])
        await pending_reissue(owner)
        (delivered,) = await wait_deliveries(owner, lambda d: d and d[0]["status"] == "DELIVERED",
                                             endpointId=endpoint["id"])
        payload = (await owner(REDELIVER, {"id": delivered["id"]}))["redeliverWebhook"]
        assert payload["userErrors"] == [] and payload["delivery"]["status"] == "PENDING"
        got = await receiver.wait_for(lambda got: len(got) >= 2)
        assert event_ids(got) == [delivered["eventId"]] * 2 and got[0].body == got[1].body
        await wait_deliveries(owner, lambda d: d and d[0]["attemptCount"] == 2 and d[0]["status"] == "DELIVERED",
                              endpointId=endpoint["id"])


async def test_another_accounts_delivery_is_not_found_like_one_that_does_not_exist(short_clients):
    owner, other = short_clients["owner"], short_clients["other"]
    with WebhookReceiver() as receiver:
        _, _, failed = await failed_delivery(owner, receiver)
        theirs = (await other(REDELIVER, {"id": failed["id"]}))["redeliverWebhook"]
        missing = (await other(REDELIVER, {"id": "whd_0000000000000000deadbeefdeadbeef"}))["redeliverWebhook"]
        for payload in (theirs, missing):
            assert payload["delivery"] is None
            assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [("NOT_FOUND", ["input", "deliveryId"])]
        assert theirs["userErrors"][0]["message"] == missing["userErrors"][0]["message"]
        (still,) = await all_deliveries(owner)
        assert still["status"] == "FAILED" and still["attemptCount"] == failed["attemptCount"]


async def test_a_viewer_cannot_redeliver(short_clients):
    owner, viewer = short_clients["owner"], short_clients["viewer"]
    with WebhookReceiver() as receiver:
        _, _, failed = await failed_delivery(owner, receiver)
        payload = (await viewer(REDELIVER, {"id": failed["id"]}))["redeliverWebhook"]
        assert payload["delivery"] is None and [e["code"] for e in payload["userErrors"]] == ["FORBIDDEN"]
        (still,) = await all_deliveries(owner)
        assert still["status"] == "FAILED"


async def test_a_delivery_whose_endpoint_was_deleted_is_not_redelivered(short_clients):
    owner = short_clients["owner"]
    with WebhookReceiver() as receiver:
        endpoint, _, failed = await failed_delivery(owner, receiver)
        assert (await owner(DELETE, {"id": endpoint["id"]}))["deleteWebhookEndpoint"]["userErrors"] == []
        payload = (await owner(REDELIVER, {"id": failed["id"]}))["redeliverWebhook"]
        assert payload["delivery"] is None
        assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [("INVALID_STATE", ["input", "deliveryId"])]
