"""Opaque cursors for keyset pagination: the base64 of the last item's sort key (its ID)."""

from __future__ import annotations

import base64
import binascii
import re

from domain.errors import InvalidInput

_KEY = re.compile(r"([a-z]{2,4}_)[0-9a-f]{24}")


def encode_cursor(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, *, field: list[str], prefix: str) -> str:
    """The sort key inside `cursor`, which must be one of this list's (its ID `prefix`)."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise InvalidInput("after is not a cursor this API returned", field=field) from exc
    match = _KEY.fullmatch(key)
    if not match or match.group(1) != prefix:
        raise InvalidInput("after is not a cursor this API returned", field=field)
    return key
