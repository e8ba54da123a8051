"""R20: how often the service checks, by itself, a DNS_AUTO / FILE_AUTO reissue that waits."""

from datetime import UTC, datetime, timedelta

from domain.rules import automatic_check_due

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_a_reissue_never_checked_is_checked_now():
    assert automatic_check_due(NOW - timedelta(days=3), None, NOW)


def test_a_fresh_reissue_is_checked_at_every_sweep():
    created = NOW - timedelta(seconds=40)
    assert automatic_check_due(created, NOW - timedelta(seconds=5), NOW)


def test_the_pause_grows_with_the_reissues_age():
    created = NOW - timedelta(hours=1)  # a tenth: 6 minutes
    assert not automatic_check_due(created, NOW - timedelta(minutes=5), NOW)
    assert automatic_check_due(created, NOW - timedelta(minutes=6), NOW)


def test_an_old_reissue_is_still_checked_every_ten_minutes():
    created = NOW - timedelta(days=6)
    assert not automatic_check_due(created, NOW - timedelta(minutes=9), NOW)
    assert automatic_check_due(created, NOW - timedelta(minutes=10), NOW)
