"""The contract's `DateTime`, in one format everywhere (domain.times)."""

from __future__ import annotations

import strawberry

from domain.times import format_time, parse_time

DateTime = strawberry.scalar(
    name="DateTime",
    description="RFC 3339 date-time. Answers are in UTC with milliseconds and Z; input takes any offset.",
    serialize=format_time,
    parse_value=parse_time,
)
