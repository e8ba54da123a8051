"""Times as the service writes them: RFC 3339 in UTC, milliseconds and `Z`
(`2027-06-08T14:47:10.000Z`), in the API and on the command line alike."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.text import shown


def format_time(value: datetime) -> str:
    """A naive value is taken as UTC (the database's)."""
    moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(value: str) -> datetime:
    """Any ISO 8601 date-time with an offset (`Z` or `+hh:mm`), as UTC."""
    if not isinstance(value, str):
        raise ValueError("a DateTime is a string, e.g. 2027-06-08T14:47:10Z")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{shown(value)} is not an ISO 8601 date-time, e.g. 2027-06-08T14:47:10Z") from None
    if moment.tzinfo is None:
        raise ValueError(f"{shown(value)} has no offset: add Z (UTC) or +hh:mm")
    return moment.astimezone(UTC)
