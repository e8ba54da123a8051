"""One DateTime format everywhere: RFC 3339, UTC, milliseconds, Z."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import pytest

from domain.times import format_time, parse_time
from schema import build_schema


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2027, 6, 8, 14, 47, 10, tzinfo=UTC), "2027-06-08T14:47:10.000Z"),
        (datetime(2026, 11, 30, 14, 47, 22, 422917, tzinfo=UTC), "2026-11-30T14:47:22.422Z"),
        (datetime(2026, 11, 30, 16, 0, 0, tzinfo=timezone(timedelta(hours=2))), "2026-11-30T14:00:00.000Z"),
        (datetime(2026, 11, 30, 14, 0, 0), "2026-11-30T14:00:00.000Z"),  # naive: the database's UTC
    ],
)
def test_times_are_written_in_utc_with_milliseconds_and_z(moment, text):
    assert format_time(moment) == text


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2027-06-08T14:47:10Z", datetime(2027, 6, 8, 14, 47, 10, tzinfo=UTC)),
        ("2027-06-08T16:47:10.5+02:00", datetime(2027, 6, 8, 14, 47, 10, 500000, tzinfo=UTC)),
    ],
)
def test_any_offset_is_read_as_utc(text, moment):
    assert parse_time(text) == moment


@pytest.mark.parametrize(("text", "says"), [("2027-06-08T14:47:10", "no offset"), ("tomorrow", "not an ISO 8601")])
def test_a_time_without_offset_or_unreadable_is_refused(text, says):
    with pytest.raises(ValueError, match=says):
        parse_time(text)


def test_the_schema_answers_and_reads_datetime_in_that_format():
    schema = build_schema()
    bad = asyncio.run(schema.execute(
        "query($t: DateTime) { certificates(filter: {expiresBefore: $t}) { totalCount } }", variable_values={"t": "2027-01-01"}
    ))
    assert bad.errors and "no offset" in bad.errors[0].message
