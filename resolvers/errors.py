"""The one place where domain errors become `userErrors` (contract conventions)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from domain.errors import DomainError

T = TypeVar("T")


async def capture(awaitable: Awaitable[T]) -> tuple[T | None, list[DomainError]]:
    """Runs a use case; an expected failure comes back as a list of errors, anything else
    propagates (and is masked at the GraphQL boundary)."""
    try:
        return await awaitable, []
    except DomainError as error:
        return None, [error]
