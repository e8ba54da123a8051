"""R30: how long a reissued certificate may be valid.

R5 keeps the current `notAfter`, to the second, but only within what a public CA may
issue: never after the issuing CA certificate's own `notAfter`, and never longer than the
CA/Browser Forum maximum validity for the issue date. The schedule is configuration
(`CERTS_VALIDITY_SCHEDULE`); the Baseline Requirements (6.3.2) count a validity period
from notBefore through notAfter inclusive, so a 200-day maximum allows notAfter at most
200 days minus one second after notBefore.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

# 398 days before 2026-03-15, 200 from then, 100 from 2027-03-15, 47 from 2029-03-15.
DEFAULT_SCHEDULE_TEXT = "398;2026-03-15=200;2027-03-15=100;2029-03-15=47"
ONE_SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class ValiditySchedule:
    """Maximum validity in days: `initial_days`, then each (from, days) step in order."""

    initial_days: int
    steps: tuple[tuple[datetime, int], ...] = ()

    def max_days(self, issued_at: datetime) -> int:
        days = self.initial_days
        for start, step_days in self.steps:
            if issued_at >= start:
                days = step_days
        return days

    @classmethod
    def parse(cls, text: str) -> ValiditySchedule:
        """`398;2026-03-15=200;...`: the first entry has no date. Raises ValueError naming
        the entry at fault."""
        parts = [p.strip() for p in text.split(";") if p.strip()]
        if not parts:
            raise ValueError("the validity schedule is empty")
        initial = _days(parts[0], parts[0])
        steps: list[tuple[datetime, int]] = []
        for part in parts[1:]:
            when, sep, days = part.partition("=")
            if not sep:
                raise ValueError(f"schedule entry {part!r} is not YYYY-MM-DD=DAYS")
            try:
                start = datetime.combine(date.fromisoformat(when.strip()), datetime.min.time(), UTC)
            except ValueError:
                raise ValueError(f"schedule entry {part!r}: {when.strip()!r} is not a date (YYYY-MM-DD)") from None
            if steps and start <= steps[-1][0]:
                raise ValueError(f"schedule entry {part!r} is not after the one before it")
            steps.append((start, _days(days, part)))
        return cls(initial, tuple(steps))


def _days(text: str, entry: str) -> int:
    try:
        days = int(text.strip())
    except ValueError:
        raise ValueError(f"schedule entry {entry!r}: {text.strip()!r} is not a number of days") from None
    if not 1 <= days <= 3650:
        raise ValueError(f"schedule entry {entry!r}: days must be 1-3650")
    return days


DEFAULT_SCHEDULE = ValiditySchedule.parse(DEFAULT_SCHEDULE_TEXT)


@dataclass(frozen=True)
class BoundedValidity:
    not_after: datetime
    capped: bool  # R30 shortened it below the current notAfter


def bounded_not_after(
    current_not_after: datetime,
    *,
    issuer_not_after: datetime,
    issued_at: datetime,
    schedule: ValiditySchedule,
) -> BoundedValidity:
    """The notAfter a certificate issued at `issued_at` (its notBefore) gets: R5 within R30."""
    not_before = issued_at.replace(microsecond=0)
    longest = not_before + timedelta(days=schedule.max_days(not_before)) - ONE_SECOND
    wanted = current_not_after.replace(microsecond=0)
    not_after = min(wanted, issuer_not_after.replace(microsecond=0), longest)
    return BoundedValidity(not_after, not_after < wanted)
