"""R30: a reissued certificate keeps notAfter (R5) only within the issuing CA's validity
and the CA/Browser Forum maximum for its issue date."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.validity import DEFAULT_SCHEDULE, ValiditySchedule, bounded_not_after


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "days"),
    [
        ("2026-03-14T23:59:59", 398),
        ("2026-03-15T00:00:00", 200),
        ("2027-03-14T23:59:59", 200),
        ("2027-03-15T00:00:00", 100),
        ("2029-03-14T12:00:00", 100),
        ("2029-03-15T00:00:00", 47),
        ("2040-01-01T00:00:00", 47),
    ],
)
def test_the_default_schedule_is_the_ca_browser_forum_one(moment, days):
    # R30: 398 days before 2026-03-15, 200 from then, 100 from 2027-03-15, 47 from 2029-03-15
    assert DEFAULT_SCHEDULE.max_days(at(moment)) == days


ISSUER = at("2040-01-01T00:00:00")


def test_the_current_not_after_is_kept_to_the_second_when_it_fits():
    # R5
    now = at("2026-11-30T10:00:00.123456")
    current = at("2027-04-01T08:30:15")
    result = bounded_not_after(current, issuer_not_after=ISSUER, issued_at=now, schedule=DEFAULT_SCHEDULE)
    assert (result.not_after, result.capped) == (current, False)


def test_a_hundred_year_certificate_is_capped_at_the_maximum_for_today():
    # R30: the validity period counts notBefore through notAfter inclusive
    now = at("2026-11-30T10:00:00.5")
    result = bounded_not_after(at("2126-01-01T00:00:00"), issuer_not_after=ISSUER, issued_at=now, schedule=DEFAULT_SCHEDULE)
    assert result.capped is True
    assert result.not_after == at("2026-11-30T10:00:00") + timedelta(days=200) - timedelta(seconds=1)


def test_the_issuing_ca_certificates_not_after_comes_first():
    # R30: never after the issuing CA certificate's notAfter
    now = at("2026-11-30T10:00:00")
    issuer = at("2027-01-01T00:00:00")
    result = bounded_not_after(at("2027-05-01T00:00:00"), issuer_not_after=issuer, issued_at=now, schedule=DEFAULT_SCHEDULE)
    assert (result.not_after, result.capped) == (issuer, True)


def test_a_later_step_of_the_schedule_shortens_a_certificate_issued_after_it():
    current = at("2027-08-01T00:00:00")
    before = bounded_not_after(current, issuer_not_after=ISSUER, issued_at=at("2027-03-14T00:00:00"), schedule=DEFAULT_SCHEDULE)
    after = bounded_not_after(current, issuer_not_after=ISSUER, issued_at=at("2027-03-15T00:00:00"), schedule=DEFAULT_SCHEDULE)
    assert before.capped is False
    assert after.capped is True and after.not_after == at("2027-06-22T23:59:59")


def test_a_configured_schedule_is_read_in_order():
    schedule = ValiditySchedule.parse("90; 2030-01-01=30 ;2031-01-01=10")
    assert [schedule.max_days(at(t)) for t in ("2029-12-31T00:00:00", "2030-06-01T00:00:00", "2031-01-01T00:00:00")] == [90, 30, 10]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty"),
        ("abc", "not a number"),
        ("398;2026-13-01=200", "not a date"),
        ("398;2026-03-15", "YYYY-MM-DD=DAYS"),
        ("398;2027-01-01=100;2026-01-01=50", "not after"),
        ("398;2026-03-15=0", "1-3650"),
    ],
)
def test_a_bad_schedule_says_which_entry_is_wrong(text, says):
    with pytest.raises(ValueError, match=says):
        ValiditySchedule.parse(text)
