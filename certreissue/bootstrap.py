"""The one place that wires adapters to the domain's ports."""

from __future__ import annotations

from dataclasses import dataclass

from adapters.clock import SystemClock
from adapters.mongo import Database, MongoCertificateRepository, MongoTokenStore
from adapters.sealing import AesGcmSealer, derive_key, load_or_create_master_key
from certreissue.settings import Settings
from domain.certificates import CertificateService
from domain.ports import Clock, TokenStore


@dataclass
class Services:
    """Everything a request needs, built once per process."""

    settings: Settings
    database: Database
    clock: Clock
    tokens: TokenStore
    certificates: CertificateService

    async def close(self) -> None:
        await self.database.close()


def build_services(settings: Settings, mongodb_uri: str) -> Services:
    master_key = load_or_create_master_key(settings.data_dir, settings.master_key)
    database = Database(mongodb_uri, settings.db_name, timeout_ms=settings.db_timeout_ms)
    clock = SystemClock()
    return Services(
        settings=settings,
        database=database,
        clock=clock,
        tokens=MongoTokenStore(database, derive_key(master_key, "certreissue api-token hashing v1")),
        certificates=CertificateService(
            MongoCertificateRepository(database), AesGcmSealer(master_key), clock
        ),
    )
