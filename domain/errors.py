"""The domain's error tree. Every code is one of the contract's `ErrorCode`s.

    DomainError            expected failure, becomes a `userErrors` entry
    ├── NotFound           NOT_FOUND (also for another account's objects, R26)
    ├── Forbidden          FORBIDDEN (a role is missing, R26)
    └── InvalidInput       INVALID_INPUT and every rule-specific code

The resolvers turn a DomainError into `userErrors` in one place
(`resolvers.errors`); anything else is an internal fault and is masked.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum


class ErrorCode(str, Enum):
    """The contract's `ErrorCode` enum, kept outside the GraphQL layer."""

    NOT_FOUND = "NOT_FOUND"
    FORBIDDEN = "FORBIDDEN"
    INVALID_INPUT = "INVALID_INPUT"
    CERTIFICATE_NOT_ISSUED = "CERTIFICATE_NOT_ISSUED"
    EXPIRES_WITHIN_30_DAYS = "EXPIRES_WITHIN_30_DAYS"
    FREE_REISSUE_LIMIT_REACHED = "FREE_REISSUE_LIMIT_REACHED"
    REISSUE_IN_PROGRESS = "REISSUE_IN_PROGRESS"
    PRIMARY_DOMAIN_LOCKED = "PRIMARY_DOMAIN_LOCKED"
    INVALID_CSR = "INVALID_CSR"
    CSR_DOMAIN_MISMATCH = "CSR_DOMAIN_MISMATCH"
    WEAK_KEY = "WEAK_KEY"
    UNSUPPORTED_ALGORITHM = "UNSUPPORTED_ALGORITHM"
    OPTION_NOT_ALLOWED = "OPTION_NOT_ALLOWED"
    DOMAIN_NOT_ON_CERTIFICATE = "DOMAIN_NOT_ON_CERTIFICATE"
    ORIGINAL_CSR_UNAVAILABLE = "ORIGINAL_CSR_UNAVAILABLE"
    INVALID_STATE = "INVALID_STATE"
    INVALID_CERTIFICATE = "INVALID_CERTIFICATE"
    KEY_MISMATCH = "KEY_MISMATCH"
    RATE_LIMITED = "RATE_LIMITED"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    CA_UNAVAILABLE = "CA_UNAVAILABLE"  # the CA did not answer in time: nothing was stored, retry
    CA_REJECTED = "CA_REJECTED"  # the CA refused (rejectedIdentifier, badCSR, ...): the message says why


class DomainError(Exception):
    """An expected failure: a code from the contract, a message for people, the field at fault."""

    code: ErrorCode = ErrorCode.INVALID_INPUT

    def __init__(
        self,
        message: str,
        *,
        code: ErrorCode | None = None,
        field: Sequence[str] | None = None,
    ) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.field = list(field) if field is not None else None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code.value}, {self.message!r}, field={self.field!r})"


class NotFound(DomainError):
    """The object does not exist for this caller (R26: never a hint that it exists)."""

    code = ErrorCode.NOT_FOUND


class Forbidden(DomainError):
    """The caller's token lacks the role the operation needs (R26)."""

    code = ErrorCode.FORBIDDEN


class InvalidInput(DomainError):
    """The input breaks a rule; `code` names which."""

    code = ErrorCode.INVALID_INPUT


class Unauthenticated(Exception):
    """No token, or one that is not known. Refused before any resolver runs (R26)."""
