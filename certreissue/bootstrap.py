"""The one place that wires adapters to the domain's ports."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from pymongo.errors import PyMongoError

from adapters.acme_authority import AcmeAuthority
from adapters.authority import BuiltInAuthority
from adapters.bundles import ZipBundleWriter
from adapters.clock import SystemClock
from adapters.dns_update import Rfc2136Updater
from adapters.mongo_auto_validation import (
    MongoDnsProviderStore,
    MongoPlacedFileStore,
    MongoPlacedRecordStore,
    MongoWebrootStore,
    ensure_auto_validation_indexes,
    ensure_webroot_indexes,
)
from adapters.keys import ThreadKeyFactory
from adapters.mongo import Database, MongoAccountRegistry, MongoCertificateRepository, MongoTokenStore
from adapters.mongo_changes import MongoChangeFeed
from adapters.mongo_downloads import (
    MongoCaRevocations,
    MongoDownloadStore,
    MongoRevocationJobs,
    ensure_download_indexes,
)
from adapters.mongo_ratelimit import MongoRateLimiter, ensure_rate_limit_indexes
from adapters.mongo_reissues import (
    MongoIdempotencyStore,
    MongoLockStore,
    MongoReissueRepository,
    MongoVerificationLog,
    ensure_reissue_indexes,
)
from adapters.sealing import AesGcmSealer, derive_key, load_or_create_master_key
from adapters.validation import LiveDomainChecker
from adapters.webhooks import HttpWebhookSender, MongoWebhookStore, ensure_webhook_indexes
from adapters.webroot_files import LocalWebrootFiles
from certreissue.settings import Settings
from domain.auto_validation import AutoValidation
from domain.certificates import CertificateService
from domain.downloads import DownloadService
from domain.ports import AccountRegistry, ChangeFeed, Clock, DomainChecker, TokenStore
from domain.reissuing import ReissueService
from domain.revocations import RevocationService
from domain.webhooking import WebhookService
from domain.webhooks import RetryPolicy
from domain.webroots import WebrootValidation


@dataclass
class Services:
    """Everything a request needs, built once per process."""

    settings: Settings
    database: Database
    clock: Clock
    tokens: TokenStore
    certificates: CertificateService
    reissues: ReissueService
    reissue_repository: MongoReissueRepository
    locks: MongoLockStore
    authority: BuiltInAuthority  # signs the demo's certificates; trusted for R27
    issuer: BuiltInAuthority | AcmeAuthority  # issues reissues (CERTS_CA): `authority`, or an ACME CA
    rate_limiter: MongoRateLimiter
    accounts: AccountRegistry
    changes: ChangeFeed  # subscriptions; started by the app (certreissue/app.py), not by commands
    downloads: DownloadService
    revocations: RevocationService
    webhooks: WebhookService
    auto_validation: AutoValidation  # DNS providers and the records placed through them (R18, R20)
    webroots: WebrootValidation | None = None  # FILE_AUTO, when CERTS_WEBROOTS_DIR is set (R20)
    # Which exceptions mean the database did not answer (retried, not a bug).
    database_unavailable: Callable[[BaseException], bool] = field(
        default=lambda error: isinstance(error, PyMongoError)
    )

    async def start(self) -> None:
        await self.database.ensure_indexes()
        await ensure_download_indexes(self.database)
        await ensure_reissue_indexes(self.database)
        await ensure_rate_limit_indexes(self.database)
        await ensure_webhook_indexes(self.database)
        await ensure_auto_validation_indexes(self.database)
        await ensure_webroot_indexes(self.database)

    async def close(self) -> None:
        await self.changes.close()
        await self.database.close()


TRUSTED_ROOTS_FILE = "trusted-roots.pem"


def trusted_roots(settings: Settings) -> list:
    """R27's trust store besides the built-in CA: CERTS_TRUSTED_CA_FILE, and
    `<CERTS_DATA_DIR>/trusted-roots.pem` when present."""
    from cryptography import x509

    roots = []
    for path in (settings.trusted_ca_file, settings.data_dir / TRUSTED_ROOTS_FILE):
        if path is not None and path.is_file():
            roots.extend(x509.load_pem_x509_certificates(path.read_bytes()))
    return roots


def build_services(
    settings: Settings,
    mongodb_uri: str,
    *,
    clock: Clock | None = None,
    checker: DomainChecker | None = None,
) -> Services:
    master_key = load_or_create_master_key(settings.data_dir, settings.master_key)
    database = Database(mongodb_uri, settings.db_name, timeout_ms=settings.db_timeout_ms)
    clock = clock or SystemClock()
    sealer = AesGcmSealer(master_key)
    certificate_repository = MongoCertificateRepository(database)
    authority = BuiltInAuthority(settings.data_dir, MongoCaRevocations(database))
    revocation_jobs = MongoRevocationJobs(database)
    certificates = CertificateService(
        certificate_repository, sealer, clock,
        trust_roots=[*authority.roots, *trusted_roots(settings)], brands=settings.brands,
    )
    # R23: the CA that issues reissues (CERTS_CA); the built-in one stays for the demo and R27.
    issuer: BuiltInAuthority | AcmeAuthority = authority
    if settings.ca == "acme":
        assert settings.acme_directory
        issuer = AcmeAuthority(
            settings.acme_directory, database, sealer,
            eab_kid=settings.acme_eab_kid, eab_hmac=settings.acme_eab_hmac, ca_bundle=settings.acme_ca_bundle,
        )
    reissue_repository = MongoReissueRepository(database)
    checker = checker or LiveDomainChecker(
        settings.dns_nameservers, settings.http_validation_port, allow_private=settings.http_validation_allow_private,
    )
    auto_validation = AutoValidation(
        providers=MongoDnsProviderStore(database), records=MongoPlacedRecordStore(database),
        updater=Rfc2136Updater(settings.dns_nameservers, allow_private=settings.dns_provider_allow_private),
        checker=checker, sealer=sealer, clock=clock,
    )
    webroots = None if settings.webroots_dir is None else WebrootValidation(
        webroots=MongoWebrootStore(database), placed=MongoPlacedFileStore(database),
        files=LocalWebrootFiles(settings.webroots_dir), checker=checker, clock=clock,
    )
    locks = MongoLockStore(database)
    reissues = ReissueService(
        certificates=certificates,
        certificate_repository=certificate_repository,
        reissues=reissue_repository,
        locks=locks,
        idempotency=MongoIdempotencyStore(database, derive_key(master_key, "certreissue idempotency v1")),
        verifications=MongoVerificationLog(database),
        authority=issuer,
        keys=ThreadKeyFactory(),
        checker=checker,
        sealer=sealer,
        clock=clock,
        lifetime=timedelta(hours=settings.reissue_lifetime_hours),
        schedule=settings.validity_schedule,
        revocation_jobs=revocation_jobs,
        auto_validation=auto_validation,
        webroots=webroots,
    )
    return Services(
        settings=settings,
        database=database,
        clock=clock,
        tokens=MongoTokenStore(
            database, derive_key(master_key, "certreissue api-token hashing v1"),
            cache_seconds=settings.token_cache_seconds,
        ),
        certificates=certificates,
        reissues=reissues,
        reissue_repository=reissue_repository,
        locks=locks,
        authority=authority,
        issuer=issuer,
        rate_limiter=MongoRateLimiter(database, settings.rate_limit_per_minute),
        accounts=MongoAccountRegistry(database),
        changes=MongoChangeFeed(database, mode=settings.change_feed, poll_seconds=settings.change_poll_seconds),
        downloads=DownloadService(
            certificates=certificates,
            store=MongoDownloadStore(database, derive_key(master_key, "certreissue download-url hashing v1")),
            writer=ZipBundleWriter(),
            sealer=sealer,
            clock=clock,
        ),
        # Each superseded version is revoked through the CA that issued it (its issued_by):
        # the built-in CA, or the ACME CA configured here; a version naming no issuer (an
        # upload) is the built-in CA's to judge (it revokes only what it signed).
        revocations=RevocationService(
            jobs=revocation_jobs, certificates=certificate_repository, authorities=[authority, issuer],
            fallback=authority, clock=clock, delay=settings.revoke_superseded_after,
        ),
        webhooks=WebhookService(
            MongoWebhookStore(database),
            HttpWebhookSender(settings.dns_nameservers, timeout=settings.webhook_timeout_seconds,
                              allow_private=settings.http_validation_allow_private),
            sealer, clock,
            policy=RetryPolicy(timedelta(seconds=settings.webhook_backoff_base_seconds),
                               timedelta(seconds=settings.webhook_backoff_max_seconds), settings.webhook_retry_for),
        ),
        auto_validation=auto_validation,
        webroots=webroots,
    )
