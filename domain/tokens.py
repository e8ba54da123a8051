"""API tokens (R26): account tokens (`owner`, `viewer`) and staff tokens (`reviewer`,
`operator`), their lifetimes and what makes one usable. Pure rules; the store is a port."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.errors import InvalidInput
from domain.model import ACCOUNT_ROLES, STAFF_ROLES, Role
from domain.text import has_control_characters, shown

DEFAULT_LIFETIME = timedelta(days=90)
MAX_LIFETIME = timedelta(days=3650)
MIN_LIFETIME = timedelta(minutes=1)
MAX_ACCOUNT_NAME = 100
_LIFETIME = re.compile(r"^\s*(\d{1,7})\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True)
class TokenRecord:
    """What is kept of a token: never the token itself (only a keyed hash of it)."""

    token_id: str
    account: str | None  # None: a staff token
    role: Role
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    @property
    def kind(self) -> str:
        return "staff" if self.account is None else "account"

    def usable_at(self, now: datetime) -> bool:
        """A revoked or expired token stops working (R26)."""
        return self.revoked_at is None and now < self.expires_at


def check_token_request(*, account: str | None, staff: bool, role: Role) -> str | None:
    """R26: a staff role only on a staff token, an account role only on an account token;
    a customer can never hold a staff role. Returns the account name, normalised."""
    if staff and account is not None:
        raise InvalidInput("a staff token belongs to no account: give --staff or --account, not both")
    if not staff and account is None:
        raise InvalidInput("say whose token it is: --account NAME (owner, viewer) or --staff (reviewer, operator)")
    if staff and role not in STAFF_ROLES:
        raise InvalidInput(f"a staff token has the role reviewer or operator, not {role.value} (R26)")
    if not staff and role not in ACCOUNT_ROLES:
        raise InvalidInput(
            f"an account token has the role owner or viewer, not {role.value}: "
            "reviewers and operators are the service's staff (--staff), never a customer (R26)"
        )
    return None if account is None else check_account_name(account)


def check_account_name(account: str) -> str:
    """An account's name: 1-100 printable characters, surrounding spaces dropped."""
    name = account.strip()
    if not name or len(name) > MAX_ACCOUNT_NAME or has_control_characters(name):
        raise InvalidInput(f"the account name must be 1-{MAX_ACCOUNT_NAME} printable characters")
    return name


def parse_duration(text: str) -> timedelta:
    """`72h`, `30m`, `10s`, `3d`, `2w`: a number and its unit, as token lifetimes are written."""
    match = _LIFETIME.match(text or "")
    if not match:
        raise InvalidInput(f"{shown(text)} is not a duration: use a number and s, m, h, d or w (e.g. 72h)")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def parse_lifetime(text: str) -> timedelta:
    """`90d`, `12h`, `30m`, `3600s`, `2w`: between one minute and ten years."""
    match = _LIFETIME.match(text or "")
    if not match:
        raise InvalidInput(f"{shown(text)} is not a lifetime: use a number and s, m, h, d or w (e.g. 90d)")
    lifetime = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    if not MIN_LIFETIME <= lifetime <= MAX_LIFETIME:
        raise InvalidInput(f"{shown(text)}: a token lives between 1 minute and 3650 days")
    return lifetime
