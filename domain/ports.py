"""The ports the domain services call. Adapters implement them (adapters/), and
`certreissue.bootstrap` wires one implementation of each."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from datetime import datetime

from domain.model import Caller, Certificate, CertificateFilter, Page, Role


class Clock(ABC):
    @abstractmethod
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""


class KeySealer(ABC):
    """Encrypts private keys at rest with the service master key."""

    @abstractmethod
    def seal(self, plaintext: bytes, *, context: str) -> bytes: ...

    @abstractmethod
    def open(self, sealed: bytes, *, context: str) -> bytes: ...


class CertificateRepository(ABC):
    @abstractmethod
    def new_id(self) -> str:
        """A fresh certificate ID; IDs sort in creation order (the pagination key)."""

    @abstractmethod
    async def add(self, certificate: Certificate) -> None:
        """Stores a new certificate. Raises DuplicateCertificate when the account has it."""

    @abstractmethod
    async def get(self, account: str, certificate_id: str) -> Certificate | None: ...

    @abstractmethod
    async def get_many(self, account: str, ids: Sequence[str]) -> dict[str, Certificate]: ...

    @abstractmethod
    async def list(
        self,
        account: str,
        filter: CertificateFilter,
        *,
        first: int,
        after: str | None,
        now: datetime,
    ) -> Page: ...


class DuplicateCertificate(Exception):
    def __init__(self, existing_id: str | None) -> None:
        super().__init__(existing_id)
        self.existing_id = existing_id


class TokenStore(ABC):
    @abstractmethod
    async def create(self, account: str, roles: Iterable[Role]) -> str:
        """Creates a token and returns it; only its keyed hash is stored."""

    @abstractmethod
    async def authenticate(self, token: str) -> Caller | None: ...
