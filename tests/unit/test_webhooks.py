"""The pure part of webhooks (domain/webhooks.py), and the sender's address check at
delivery time (adapters/webhooks.py, no database)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from adapters.webhooks import HttpWebhookSender
from domain.errors import InvalidInput
from domain.reissues import ReissueStatus
from domain.webhooks import (
    EVENT_TYPES,
    Attempt,
    RetryPolicy,
    check_event_types,
    check_thresholds,
    delivery_id,
    due_threshold,
    expiry_event,
    next_attempt,
    retry_window,
    parse_endpoint_url,
    subscribed,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_there_is_one_event_type_per_reissue_status_besides_created_and_expiring():
    assert set(EVENT_TYPES) == {"reissue.created", "certificate.expiring"} | {
        f"reissue.{s.value.lower()}" for s in ReissueStatus
    }


def test_event_types_are_checked_deduplicated_and_an_unknown_one_names_its_index():
    assert check_event_types(["reissue.issued", " reissue.issued", "reissue.*"]) == ("reissue.issued", "reissue.*")
    with pytest.raises(InvalidInput) as caught:
        check_event_types(["reissue.issued", "reissue.*", "REISSUE.ISSUED"])
    assert caught.value.field == ["input", "events", "2"]
    with pytest.raises(InvalidInput) as caught:
        check_event_types([])
    assert caught.value.field == ["input", "events"]


def test_the_pattern_matches_every_reissue_type_and_no_other():
    assert subscribed(("reissue.*",), "reissue.expired")
    assert not subscribed(("reissue.*",), "certificate.expiring")
    assert subscribed(("certificate.expiring",), "certificate.expiring")
    assert not subscribed(("reissue.issued",), "reissue.rejected")


def test_a_creation_reaches_endpoints_subscribed_to_the_status_it_started_in():
    # R19: a reissue issued at once has one event (created, status ISSUED); an endpoint that
    # asked for reissue.issued must hear of that certificate all the same.
    assert subscribed(("reissue.issued",), "reissue.created", also="reissue.issued")
    assert not subscribed(("reissue.issued",), "reissue.created", also="reissue.pending_domain_validation")
    assert not subscribed(("certificate.expiring",), "reissue.created", also="reissue.issued")


@pytest.mark.parametrize(("url", "host", "port", "target"), [
    ("https://hooks.example.com/in?x=1", "hooks.example.com", 443, "/in?x=1"),
    ("http://EXAMPLE.com:8080", "example.com", 8080, "/"),
    ("http://[2001:db8::1]/h", "2001:db8::1", 80, "/h"),
    ("https://bücher.example/", "xn--bcher-kva.example", 443, "/"),
])
def test_an_http_or_https_url_is_read_into_host_port_and_target(url, host, port, target):
    parsed = parse_endpoint_url(url)
    assert (parsed.host, parsed.port, parsed.target) == (host, port, target)


@pytest.mark.parametrize("url", [
    "", "ftp://example.com/", "http://u@example.com/", "http://u:p@example.com/", "http://example.com/#x",
    "http://example.com\\@evil.com/", "http://exa mple.com/", "http://example.com:0/", "http://example.com:99999/",
    "http://" + "a" * 64 + ".com/", "http://example.com/" + "x" * 2048, "//example.com/", "http://[::1/",
])
def test_a_url_that_is_not_plain_http_or_https_is_refused_naming_the_url_field(url):
    with pytest.raises(InvalidInput) as caught:
        parse_endpoint_url(url)
    assert caught.value.field == ["input", "url"]


def test_the_backoff_grows_exponentially_with_jitter_up_to_its_cap():
    policy = RetryPolicy(base=timedelta(seconds=10), cap=timedelta(seconds=100), window=timedelta(days=3))
    delays = [next_attempt(policy, n, NOW, NOW, 0.999999) - NOW for n in range(1, 7)]
    assert [round(d.total_seconds()) for d in delays] == [10, 20, 40, 80, 100, 100]
    lowest = next_attempt(policy, 3, NOW, NOW, 0.0) - NOW
    assert lowest == timedelta(seconds=20), "equal jitter: at least half the delay"


def test_retries_stop_at_the_end_of_the_window_from_the_first_attempt():
    policy = RetryPolicy(base=timedelta(hours=4), cap=timedelta(hours=4), window=timedelta(days=3))
    near_end = NOW + timedelta(days=3) - timedelta(minutes=1)
    assert next_attempt(policy, 20, NOW, near_end, 0.5) == NOW + timedelta(days=3), "a last try at the end"
    assert next_attempt(policy, 21, NOW, NOW + timedelta(days=3), 0.5) is None


def test_the_retry_window_runs_from_the_first_attempt_and_counts_every_failure():
    attempts = (Attempt(NOW, 500, 1.0), Attempt(NOW + timedelta(minutes=1), 500, 1.0))
    assert retry_window((), None, NOW) == (NOW, 1), "the first attempt opens the window"
    assert retry_window(attempts, None, NOW + timedelta(minutes=5)) == (NOW, 3)


def test_a_redelivery_opens_a_fresh_retry_window_with_the_backoff_started_over():
    redelivered = NOW + timedelta(days=4)  # FAILED long ago (the window was 3 days)
    attempts = (Attempt(NOW, 500, 1.0), Attempt(NOW + timedelta(days=3), 500, 1.0))
    failed_at = redelivered + timedelta(seconds=1)
    start, failures = retry_window(attempts, redelivered, failed_at)
    assert (start, failures) == (redelivered, 1), "only the attempts since the redelivery count"
    policy = RetryPolicy(base=timedelta(seconds=10), cap=timedelta(hours=6), window=timedelta(days=3))
    assert round((next_attempt(policy, failures, start, failed_at, 0.999999) - failed_at).total_seconds()) == 10
    again = (*attempts, Attempt(failed_at, 500, 1.0))
    assert retry_window(again, redelivered, failed_at + timedelta(seconds=10)) == (redelivered, 2)


def test_a_delivery_id_is_deterministic_per_endpoint_and_event_and_sorts_by_time():
    a = delivery_id("whe_1", "msg_x_0", NOW)
    assert a == delivery_id("whe_1", "msg_x_0", NOW)
    assert a != delivery_id("whe_2", "msg_x_0", NOW)
    assert delivery_id("whe_1", "msg_y_0", NOW + timedelta(seconds=1)) > a
    assert len(a) == 4 + 24


@pytest.mark.parametrize(("days_left", "due"), [(40, None), (30, 30), (20, 30), (14, 14), (8, 14), (3, 7),
                                                (0.5, 1), (0, None)])
def test_the_most_urgent_crossed_threshold_is_due(days_left, due):
    not_after = NOW + timedelta(days=days_left)
    assert due_threshold(not_after, NOW, (30, 14, 7, 1)) == due


def test_a_service_down_past_several_thresholds_sends_only_the_most_urgent():
    not_after = NOW + timedelta(days=2)
    assert due_threshold(not_after, NOW, (30, 14, 7, 1)) == 7  # not 30, 14 and 7


def test_thresholds_are_1_to_365_days_at_most_ten():
    assert check_thresholds([1, 30, 7, 30]) == (30, 7, 1)
    for bad, index in (([0], "0"), ([7, 366], "1"), ([True], "0")):
        with pytest.raises(InvalidInput) as caught:
            check_thresholds(bad)
        assert caught.value.field == ["input", "thresholds", index]
    with pytest.raises(InvalidInput):
        check_thresholds(list(range(1, 12)))
    with pytest.raises(InvalidInput):
        check_thresholds([])


def test_an_expiry_event_is_the_same_event_whenever_a_sweep_notices_it():
    not_after = NOW + timedelta(days=5)
    first = expiry_event("acct", "crt_1", "a.example", "0A1B", not_after, 7, NOW)
    later = expiry_event("acct", "crt_1", "a.example", "0A1B", not_after, 7, NOW + timedelta(hours=3))
    assert (first.id, first.at) == (later.id, later.at)
    data = json.loads(first.body)["data"]
    assert data == {"certificateId": "crt_1", "domain": "a.example", "serialNumber": "0A1B",
                    "notAfter": "2026-06-06T12:00:00Z", "thresholdDays": 7, "daysLeft": 5}


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.1", "::1", "::ffff:192.168.0.1", "169.254.169.254"])
async def test_the_sender_refuses_a_private_address_at_delivery_time_without_posting(address):
    sender = HttpWebhookSender(allow_private=False, timeout=2)
    literal = f"[{address}]" if ":" in address else address
    attempt = await sender.post(parse_endpoint_url(f"http://{literal}:9/x"), message_id="msg_1", body="{}",
                                secrets=["whsec_" + "A" * 44], timestamp=NOW)
    assert attempt.status_code is None and attempt.error.startswith("refused:")
    assert "not a public address" in attempt.error


async def test_a_name_is_refused_when_any_of_its_addresses_is_private_and_checked_again_at_each_delivery(dns_server):
    """DNS rebinding: the name is resolved at each delivery and every address checked; the
    connection goes to a checked address, never to a second answer."""
    sender = HttpWebhookSender((f"127.0.0.1:{dns_server.port}",), allow_private=False, timeout=2)
    name = "hooks.rebind-test.example"
    url = parse_endpoint_url(f"https://{name}/in")
    try:
        dns_server.resolver.set(name, "A", ["93.184.216.34", "127.0.0.1"])
        assert "127.0.0.1, which is not a public address" in await sender.check(url)
        dns_server.resolver.set(name, "A", ["93.184.216.34"])
        assert await sender.check(url) is None  # registration would pass
        dns_server.resolver.set(name, "A", ["10.0.0.7"])  # ... then the name moves inside
        attempt = await sender.post(url, message_id="msg_1", body="{}", secrets=["whsec_" + "A" * 44], timestamp=NOW)
        assert attempt.status_code is None and "10.0.0.7, which is not a public address" in attempt.error
    finally:
        dns_server.resolver.clear(name)
