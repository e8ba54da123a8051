"""A clock the test moves: it starts at the real time and only moves forward, so an API
server's own sweeper (on the real clock) never finds a lease or lifetime over before this
clock does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.ports import Clock


class MovableClock(Clock):
    def __init__(self) -> None:
        self._now = datetime.now(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, by: timedelta) -> None:
        self._now += by
