"""Free text the applicant types (reasons, organization names, review notes)."""

from __future__ import annotations

import unicodedata

# Bidirectional overrides and isolates can make text display as something else.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def has_control_characters(text: str) -> bool:
    """True for C0/C1 controls (newlines too), lone surrogates and bidi overrides; ordinary
    Unicode text (other spaces, emoji sequences with joiners, RTL marks) is fine."""
    return any(
        unicodedata.category(ch) in ("Cc", "Cs") or ch in _BIDI_CONTROLS for ch in text
    )


MAX_SHOWN = 80


def shown(value: object, limit: int = MAX_SHOWN) -> str:
    """`repr(value)` for a message, cut to about `limit` characters: an error names what it
    refused without echoing a 100 KB input back."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 5] + "...'" + f" ({len(str(value))} characters)"
