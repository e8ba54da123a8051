"""certificate.expiring: at the account's thresholds (30, 14, 7 and 1 days by default) before
the current version's notAfter, once per version (serial) and threshold, only the most
urgent threshold crossed (no burst after an outage), once however many processes sweep.

The threshold logic runs against a service with a clock the test moves, on a database of its
own (its leases and deliveries live in its future); the delivery itself through the session's
API server and a receiver that verifies the signature."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from datetime import datetime, timedelta

import pytest

from certreissue.bootstrap import build_services
from domain.certificates import UploadCertificate
from domain.model import Caller, Role
from tests import certs
from tests.integration.reissue_api import unique_zone, upload_cert
from tests.integration.test_webhooks import DELIVERIES, all_deliveries, create_endpoint, event_ids, verified
from tests.support.webhook_receiver import WebhookReceiver
from tests.support.clock import MovableClock

THRESHOLDS = "{ expiryNotificationThresholds }"
SET = """
mutation($input: SetExpiryNotificationThresholdsInput!) {
  setExpiryNotificationThresholds(input: $input) { thresholds userErrors { code message field } }
}
"""




@pytest.fixture
async def own_world(settings, database_uri):
    """Two services (two processes, say) on a database of their own, sharing a clock."""
    clock = MovableClock()
    isolated = dataclasses.replace(settings, db_name=f"expiry_{uuid.uuid4().hex[:8]}")
    first = build_services(isolated, database_uri, clock=clock)
    second = build_services(isolated, database_uri, clock=clock)
    await first.start()
    try:
        yield clock, first, second
    finally:
        await first.database.db.client.drop_database(isolated.db_name)
        await first.close()
        await second.close()


async def _upload(services, caller: Caller, days_left: float) -> tuple:
    now = services.clock.now()
    issued = certs.issue(f"www.{unique_zone()}", not_before=now - timedelta(days=10), days=int(10 + days_left))
    cert = await services.certificates.upload(caller, UploadCertificate(issued.chain_pem, issued.key_pem()))
    return cert, issued


async def _expiring(services, account: str) -> list[tuple[str, int]]:
    docs = await services.database.db.webhook_deliveries.find({"account": account}).to_list()
    return sorted((d["eventId"], json.loads(d["body"])["data"]["thresholdDays"]) for d in docs)


async def test_each_threshold_is_sent_once_per_version_and_only_the_most_urgent_after_an_outage(own_world):
    clock, services, _ = own_world
    caller = Caller("expiry-acct", Role.OWNER)
    await services.webhooks.create_endpoint(caller, "http://127.0.0.1:9/hooks", ["certificate.expiring"])
    cert, _ = await _upload(services, caller, 40)
    serial = cert.current.serial_number.lower()

    assert await services.webhooks.expiry_sweep() == 0  # 40 days left: nothing crossed
    clock.advance(timedelta(days=11))  # 29 days left: the 30-day notice
    await services.webhooks.expiry_sweep()
    clock.advance(timedelta(minutes=1))
    await services.webhooks.expiry_sweep()  # again: nothing new
    assert await _expiring(services, "expiry-acct") == [(f"msg_exp_{cert.id}_{serial}_30d", 30)]

    clock.advance(timedelta(days=26))  # "down" past 14 and 7: 3 days left
    await services.webhooks.expiry_sweep()
    assert [t for _, t in await _expiring(services, "expiry-acct")] == [30, 7], "7 only, not 14 as well"

    clock.advance(timedelta(days=2, hours=12))  # half a day left
    await services.webhooks.expiry_sweep()
    assert [t for _, t in await _expiring(services, "expiry-acct")] == [1, 30, 7]


async def test_two_sweeping_processes_never_send_twice(own_world):
    clock, first, second = own_world
    caller = Caller("expiry-two", Role.OWNER)
    await first.webhooks.create_endpoint(caller, "http://127.0.0.1:9/hooks", ["certificate.expiring"])
    await _upload(first, caller, 5)
    results = await asyncio.gather(first.webhooks.expiry_sweep(), second.webhooks.expiry_sweep())
    assert results.count(None) == 1 and 1 in results, "one process holds the sweep's lease, the other waits"
    clock.advance(timedelta(minutes=1))  # the lease has lapsed: both sweep, the IDs are the same
    await asyncio.gather(first.webhooks.expiry_sweep(), second.webhooks.expiry_sweep())
    assert [t for _, t in await _expiring(first, "expiry-two")] == [7]


async def test_thresholds_are_the_owners_to_set_and_validated(own_world, owner):
    assert (await owner(THRESHOLDS))["expiryNotificationThresholds"] == [30, 14, 7, 1]
    payload = (await owner(SET, {"input": {"thresholds": [3, 10, 10]}}))["setExpiryNotificationThresholds"]
    assert payload == {"thresholds": [10, 3], "userErrors": []}
    assert (await owner(THRESHOLDS))["expiryNotificationThresholds"] == [10, 3]
    for bad, field in (([0], ["input", "thresholds", "0"]), ([1, 366], ["input", "thresholds", "1"]),
                       (list(range(1, 12)), ["input", "thresholds"]), ([], ["input", "thresholds"])):
        refused = (await owner(SET, {"input": {"thresholds": bad}}))["setExpiryNotificationThresholds"]
        assert refused["thresholds"] is None
        assert [(e["code"], e["field"]) for e in refused["userErrors"]] == [("INVALID_INPUT", field)]
    assert (await owner(THRESHOLDS))["expiryNotificationThresholds"] == [10, 3]

    clock, services, _ = own_world
    caller = Caller("expiry-own", Role.OWNER)
    await services.webhooks.set_expiry_thresholds(caller, [3])
    await services.webhooks.create_endpoint(caller, "http://127.0.0.1:9/hooks", ["certificate.expiring"])
    await _upload(services, caller, 5)
    await services.webhooks.expiry_sweep()
    assert await _expiring(services, "expiry-own") == [], "the account's thresholds, not the defaults"
    clock.advance(timedelta(days=2, hours=1))
    await services.webhooks.expiry_sweep()
    assert [t for _, t in await _expiring(services, "expiry-own")] == [3]


async def test_a_receiver_gets_a_signed_expiry_notice_with_the_certificate_and_days_left(owner):
    with WebhookReceiver() as receiver:
        endpoint, secret = await create_endpoint(owner, receiver.url, ["certificate.expiring"])
        cert, issued = await upload_cert(owner, f"soon.{unique_zone()}", brand="SECTIGO", level="DV",
                                         issued_days_ago=360, days=365)
        got = await receiver.wait_for(lambda got: len(got) >= 1)
        (body,) = verified(got, secret)
        assert body["type"] == "certificate.expiring"
        assert body["data"]["certificateId"] == cert["id"]
        assert body["data"]["domain"] == cert["domain"]
        assert body["data"]["serialNumber"].lower() == cert["serialNumber"].lower()
        assert body["data"]["thresholdDays"] == 7 and body["data"]["daysLeft"] == 4
        assert datetime.fromisoformat(body["data"]["notAfter"]) == datetime.fromisoformat(cert["notAfter"])
        assert event_ids(got) == [f"msg_exp_{cert['id']}_{cert['serialNumber'].lower()}_7d"]
        deliveries = await all_deliveries(owner, endpointId=endpoint["id"])
        assert [d["eventType"] for d in deliveries] == ["certificate.expiring"]


async def test_every_expiring_certificate_is_reached_however_many_the_account_has(own_world):
    _, services, _ = own_world
    caller = Caller("expiry-many", Role.OWNER)
    await services.webhooks.create_endpoint(caller, "http://127.0.0.1:9/hooks", ["certificate.expiring"])
    for days_left in (5, 5, 3, 20):
        await _upload(services, caller, days_left)
    await services.webhooks.expiry_sweep(limit=1)  # read one certificate at a time
    assert sorted(t for _, t in await _expiring(services, "expiry-many")) == [7, 7, 7, 30]


async def test_finished_deliveries_are_purged_after_30_days_and_pending_ones_kept(own_world):
    clock, services, _ = own_world
    caller = Caller("purge-acct", Role.OWNER)
    await services.webhooks.create_endpoint(caller, "http://127.0.0.1:9/hooks", ["certificate.expiring"])
    for days_left in (5, 3, 20):
        await _upload(services, caller, days_left)
    await services.webhooks.expiry_sweep()
    deliveries = services.database.db.webhook_deliveries
    ids = sorted(d["_id"] for d in await deliveries.find({"account": "purge-acct"}).to_list())
    await deliveries.update_one({"_id": ids[0]}, {"$set": {"status": "DELIVERED"}})
    await deliveries.update_one({"_id": ids[1]}, {"$set": {"status": "FAILED"}})
    clock.advance(timedelta(days=29))
    assert await services.webhooks.purge() == 0
    clock.advance(timedelta(days=1, seconds=1))
    assert await services.webhooks.purge() == 2
    assert [d["_id"] for d in await deliveries.find({"account": "purge-acct"}).to_list()] == [ids[2]]
