"""The subscribers' side of the change feed, without a database: the hub routes by topic and
each watch coalesces (a slow subscriber holds one wake-up, never a queue); an Updates
iterator reads once per wake-up, retries while the database is away, stops watching when
closed."""

from __future__ import annotations

import asyncio

import pytest

from adapters.mongo_changes import ChangeHub, topics_of_change
from domain.ports import certificate_topic, domain_topic, reissue_topic
from resolvers.subscriptions import Updates


class Unavailable(Exception):
    """Stands for a database that does not answer."""


async def test_a_watch_coalesces_any_number_of_changes_into_one_wake_up():
    hub = ChangeHub()
    watch = hub.watch([reissue_topic("r1")])
    for _ in range(10_000):
        hub.publish([reissue_topic("r1")])
    assert await watch.wait(timeout=0.01) is True
    assert await watch.wait(timeout=0.01) is False  # nothing queued behind it


async def test_the_hub_routes_by_topic_and_forgets_closed_watches():
    hub = ChangeHub()
    a = hub.watch([reissue_topic("r1")])
    b = hub.watch([certificate_topic("c1"), domain_topic("acct", "example.com")])
    hub.publish([reissue_topic("r2"), certificate_topic("c2"), domain_topic("other", "example.com")])
    assert await a.wait(timeout=0.01) is False and await b.wait(timeout=0.01) is False
    hub.publish([domain_topic("acct", "example.com")])
    assert await a.wait(timeout=0.01) is False and await b.wait(timeout=0.01) is True
    assert hub.watched.is_set()  # the feed runs while anyone watches
    a.close()
    b.close()
    b.retopic([reissue_topic("r1")])  # a closed watch stays closed
    assert hub.watchers == 0 and hub.topics() == []
    assert not hub.watched.is_set()


async def test_a_topic_added_wakes_the_watch_and_resync_wakes_everyone():
    hub = ChangeHub()
    watch = hub.watch([certificate_topic("c1")])
    watch.retopic([certificate_topic("c1")])
    assert await watch.wait(timeout=0.01) is False
    watch.retopic([certificate_topic("c1"), domain_topic("acct", "example.com")])
    assert await watch.wait(timeout=0.01) is True  # it may have changed before it was watched
    other = hub.watch([reissue_topic("r9")])
    hub.resync()
    assert await watch.wait(timeout=0.01) is True and await other.wait(timeout=0.01) is True


def test_change_events_name_the_topics_of_their_document():
    reissue = {
        "operationType": "update", "ns": {"db": "d", "coll": "reissues"}, "documentKey": {"_id": "rei_1"},
        "fullDocument": {"certificateId": "crt_1", "account": "acct", "primaryDomain": "example.com"},
    }
    assert topics_of_change(reissue) == [
        reissue_topic("rei_1"), certificate_topic("crt_1"), domain_topic("acct", "example.com")
    ]
    deleted = {"operationType": "delete", "ns": {"coll": "reissues"}, "documentKey": {"_id": "rei_2"}}
    assert topics_of_change(deleted) == [reissue_topic("rei_2")]
    certificate = {"operationType": "update", "ns": {"coll": "certificates"}, "documentKey": {"_id": "crt_1"}}
    assert topics_of_change(certificate) == [certificate_topic("crt_1")]
    assert topics_of_change({"operationType": "insert", "ns": {"coll": "api_tokens"}, "documentKey": {"_id": "x"}}) == []


def updates_of(hub: ChangeHub, states: list, first="v0") -> Updates:
    watch = hub.watch([reissue_topic("r1")])

    async def read():
        state = states.pop(0)
        if isinstance(state, Exception):
            raise state
        return state

    updates = Updates(watch, first, read, lambda value: [reissue_topic("r1")], lambda e: isinstance(e, Unavailable))
    return updates


async def test_updates_give_the_first_state_then_one_read_per_wake_up_and_end_when_gone():
    hub = ChangeHub()
    updates = updates_of(hub, ["v1", None]).map(str.upper)
    assert await anext(updates) == "V0"
    hub.publish([reissue_topic("r1")])
    hub.publish([reissue_topic("r1")])
    assert await anext(updates) == "V1"
    hub.publish([reissue_topic("r1")])
    with pytest.raises(StopAsyncIteration):
        await anext(updates)  # the object can no longer be read
    assert hub.watchers == 0


async def test_updates_retry_while_the_database_is_away():
    hub = ChangeHub()
    updates = updates_of(hub, [Unavailable(), Unavailable(), "v1"])
    await anext(updates)
    hub.publish([reissue_topic("r1")])
    assert await asyncio.wait_for(anext(updates), 10) == "v1"


async def test_a_fault_that_is_not_an_outage_is_raised():
    hub = ChangeHub()
    updates = updates_of(hub, [ValueError("bug")])
    await anext(updates)
    hub.publish([reissue_topic("r1")])
    with pytest.raises(ValueError):
        await anext(updates)


async def test_closing_updates_stops_watching_even_before_the_first_message():
    hub = ChangeHub()
    updates = updates_of(hub, [])
    assert hub.watchers == 1
    await updates.aclose()
    assert hub.watchers == 0
