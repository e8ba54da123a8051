"""Settings, read once from the environment (OPERATIONS.md "Environment")."""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from certreissue.persisted_documents import TrustedDocuments
from certreissue.cors import parse_cors_origins
from adapters.embedded import DEFAULT_EMBEDDED_DATABASE, EMBEDDED_DATABASES
from adapters.mongo_changes import CHANGE_FEEDS
from domain.facts import BrandTable
from domain.errors import InvalidInput
from domain.model import Role
from domain.tokens import parse_duration
from domain.validity import DEFAULT_SCHEDULE, ValiditySchedule

MAX_TOKEN_CACHE_SECONDS = 25.0  # R26: a revoked token stops working within 30 s


def _webroots_dir(text: str) -> Path | None:
    """FILE_AUTO's base directory: an existing directory, or unset (FILE_AUTO off)."""
    if not text.strip():
        return None
    path = Path(text.strip())
    if not path.is_dir():
        raise ValueError(f"CERTS_WEBROOTS_DIR must be an existing directory, not {text!r}")
    return path


def _bool(value: str) -> bool:
    v = value.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a boolean: {value!r}")


def _positive(value: str, name: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds < math.inf:
        raise ValueError(f"{name} must be a number of seconds above 0, not {value!r}")
    return seconds


@dataclass(frozen=True)
class Settings:
    mongodb_uri: str | None = None
    embedded_db: str = DEFAULT_EMBEDDED_DATABASE  # without mongodb_uri: which server to start
    db_name: str = "certreissue"
    data_dir: Path = Path("./var")
    dns_nameservers: tuple[str, ...] = ()
    http_validation_port: int = 80
    http_validation_allow_private: bool = False
    # Automatic DNS validation may send updates to loopback and private addresses (local trials).
    dns_provider_allow_private: bool = False
    # FILE_AUTO: the base directory of the accounts' webroots (<base>/<account>/...); unset: off.
    webroots_dir: Path | None = None
    trusted_ca_file: Path | None = None
    ca: str = "builtin"  # R23: which CA issues reissues: builtin, or acme (adapters/acme_authority.py)
    acme_directory: str | None = None
    acme_eab_kid: str | None = None
    acme_eab_hmac: str | None = None
    acme_ca_bundle: Path | None = None  # trust for the ACME directory's TLS; None: the system's
    reissue_lifetime_hours: int = 168
    graphiql: bool = True
    rate_limit_per_minute: int = 120
    master_key: str | None = None
    db_timeout_ms: int = 5000
    max_body_bytes: int = 1024 * 1024
    execution_timeout_seconds: float = 30.0
    keep_alive_seconds: float = 30.0
    header_timeout_seconds: float = 10.0
    body_timeout_seconds: float = 30.0
    max_query_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 3000
    validity_schedule: ValiditySchedule = DEFAULT_SCHEDULE  # R30
    brands: BrandTable = BrandTable()  # R29
    token_cache_seconds: float = 10.0  # R26
    max_query_cost: int = 10_000
    apq_max_documents: int = 1000  # 0: automatic persisted queries off
    apq_max_document_bytes: int = 32 * 1024
    trusted_documents: TrustedDocuments | None = None  # set: only these documents run
    adhoc_document_roles: frozenset[Role] = frozenset()  # may send other documents all the same
    cors_origins: tuple[str, ...] = ()  # certreissue/cors.py: empty, same-origin only
    graphiql_assets: Path | None = None  # certreissue/graphiql.py: None, graphiql/dist of the source tree
    # Subscriptions (certreissue/graphql_ws.py, adapters/mongo_changes.py):
    change_feed: str = "auto"  # auto: a change stream, or polling where the database has none
    change_poll_seconds: float = 1.0
    ws_max_subscriptions: int = 20  # per connection
    ws_init_timeout_seconds: float = 10.0  # connection_init must arrive within it (else 4408)
    ws_max_message_bytes: int = 64 * 1024  # a larger message from the client closes the socket (1009)
    ws_max_connections: int = 1000  # sockets open at once in one process, authenticated or not (else 503)
    ws_max_connections_per_token: int = 10  # authenticated sockets of one token in one process (else 1008)
    # What one account's open subscriptions may select, in cost units (schema/cost.py), per process.
    ws_max_subscription_cost_per_account: int = 2000
    console_assets: Path | None = None  # certreissue/console.py: None, console/dist of the source tree
    revoke_superseded_after: timedelta | None = timedelta(hours=72)  # None: never (domain.revocations)
    public_url: str | None = None  # the service's URL as clients reach it (download URLs); None: as asked
    # Webhooks (domain/webhooking.py): delivery off leaves deliveries to other processes.
    webhook_delivery: bool = True
    webhook_poll_seconds: float = 1.0
    webhook_timeout_seconds: float = 10.0
    webhook_backoff_base_seconds: float = 30.0
    webhook_backoff_max_seconds: float = 6 * 3600.0
    webhook_retry_for: timedelta = timedelta(days=3)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        nameservers = tuple(s.strip() for s in env.get("CERTS_DNS_NAMESERVERS", "").split(",") if s.strip())
        return cls(
            mongodb_uri=env.get("MONGODB_URI") or None,
            embedded_db=_embedded_db(env.get("CERTS_EMBEDDED_DB") or DEFAULT_EMBEDDED_DATABASE),
            db_name=env.get("CERTS_DB_NAME", "certreissue"),
            data_dir=Path(env.get("CERTS_DATA_DIR", "./var")),
            dns_nameservers=nameservers,
            http_validation_port=int(env.get("CERTS_HTTP_VALIDATION_PORT", "80")),
            http_validation_allow_private=_bool(env.get("CERTS_HTTP_VALIDATION_ALLOW_PRIVATE", "false")),
            dns_provider_allow_private=_bool(env.get("CERTS_DNS_PROVIDER_ALLOW_PRIVATE", "false")),
            webroots_dir=_webroots_dir(env.get("CERTS_WEBROOTS_DIR", "")),
            trusted_ca_file=Path(env["CERTS_TRUSTED_CA_FILE"]) if env.get("CERTS_TRUSTED_CA_FILE") else None,
            **_acme(env),
            reissue_lifetime_hours=int(env.get("CERTS_REISSUE_LIFETIME_HOURS", "168")),
            graphiql=_bool(env.get("CERTS_GRAPHIQL", "true")),
            rate_limit_per_minute=int(env.get("CERTS_RATE_LIMIT_PER_MINUTE", "120")),
            master_key=env.get("CERTS_MASTER_KEY") or None,
            db_timeout_ms=int(env.get("CERTS_DB_TIMEOUT_MS", "5000")),
            max_body_bytes=int(env.get("CERTS_MAX_BODY_BYTES", str(1024 * 1024))),
            execution_timeout_seconds=float(env.get("CERTS_EXECUTION_TIMEOUT_SECONDS", "30")),
            keep_alive_seconds=_positive(env.get("CERTS_KEEP_ALIVE_SECONDS", "30"), "CERTS_KEEP_ALIVE_SECONDS"),
            header_timeout_seconds=_positive(env.get("CERTS_HEADER_TIMEOUT_SECONDS", "10"), "CERTS_HEADER_TIMEOUT_SECONDS"),
            body_timeout_seconds=_positive(env.get("CERTS_BODY_TIMEOUT_SECONDS", "30"), "CERTS_BODY_TIMEOUT_SECONDS"),
            max_query_depth=int(env.get("CERTS_MAX_QUERY_DEPTH", "12")),
            max_aliases=int(env.get("CERTS_MAX_ALIASES", "30")),
            max_tokens=int(env.get("CERTS_MAX_TOKENS", "3000")),
            validity_schedule=_schedule(env.get("CERTS_VALIDITY_SCHEDULE")),
            brands=_brands(env.get("CERTS_BRAND_ISSUERS")),
            token_cache_seconds=_token_cache(env.get("CERTS_TOKEN_CACHE_SECONDS", "10")),
            max_query_cost=int(env.get("CERTS_MAX_QUERY_COST", "10000")),
            apq_max_documents=_at_least(env.get("CERTS_APQ_MAX_DOCUMENTS", "1000"), 0, "CERTS_APQ_MAX_DOCUMENTS"),
            apq_max_document_bytes=_at_least(
                env.get("CERTS_APQ_MAX_DOCUMENT_BYTES", str(32 * 1024)), 1, "CERTS_APQ_MAX_DOCUMENT_BYTES"
            ),
            trusted_documents=_trusted_documents(env.get("CERTS_TRUSTED_DOCUMENTS")),
            adhoc_document_roles=_roles(env.get("CERTS_ADHOC_DOCUMENT_ROLES", "")),
            cors_origins=parse_cors_origins(env.get("CERTS_CORS_ORIGINS")),
            graphiql_assets=Path(env["CERTS_GRAPHIQL_ASSETS"]) if env.get("CERTS_GRAPHIQL_ASSETS") else None,
            change_feed=_change_feed(env.get("CERTS_CHANGE_FEED") or "auto"),
            change_poll_seconds=_positive(env.get("CERTS_CHANGE_POLL_SECONDS", "1"), "CERTS_CHANGE_POLL_SECONDS"),
            ws_max_subscriptions=_at_least(env.get("CERTS_WS_MAX_SUBSCRIPTIONS", "20"), 1, "CERTS_WS_MAX_SUBSCRIPTIONS"),
            ws_init_timeout_seconds=_positive(
                env.get("CERTS_WS_INIT_TIMEOUT_SECONDS", "10"), "CERTS_WS_INIT_TIMEOUT_SECONDS"
            ),
            ws_max_message_bytes=_at_least(
                env.get("CERTS_WS_MAX_MESSAGE_BYTES", str(64 * 1024)), 1024, "CERTS_WS_MAX_MESSAGE_BYTES"
            ),
            ws_max_connections=_at_least(env.get("CERTS_WS_MAX_CONNECTIONS", "1000"), 1, "CERTS_WS_MAX_CONNECTIONS"),
            ws_max_connections_per_token=_at_least(
                env.get("CERTS_WS_MAX_CONNECTIONS_PER_TOKEN", "10"), 1, "CERTS_WS_MAX_CONNECTIONS_PER_TOKEN"
            ),
            ws_max_subscription_cost_per_account=_at_least(
                env.get("CERTS_WS_MAX_SUBSCRIPTION_COST_PER_ACCOUNT", "2000"), 1,
                "CERTS_WS_MAX_SUBSCRIPTION_COST_PER_ACCOUNT",
            ),
            console_assets=Path(env["CERTS_CONSOLE_ASSETS"]) if env.get("CERTS_CONSOLE_ASSETS") else None,
            revoke_superseded_after=_revoke_after(env.get("CERTS_REVOKE_SUPERSEDED_AFTER", "72h")),
            public_url=_public_url(env.get("CERTS_PUBLIC_URL")),
            **_webhooks(env),
        )


def _revoke_after(text: str) -> timedelta | None:
    if text.strip().lower() == "never":
        return None
    try:
        return parse_duration(text)
    except InvalidInput as exc:
        raise ValueError(f"CERTS_REVOKE_SUPERSEDED_AFTER: {exc.message}, or never") from None


def _public_url(text: str | None) -> str | None:
    if not text:
        return None
    url = text.strip().rstrip("/")
    if not (url.startswith("http://") or url.startswith("https://")) or any(c in url for c in "?#\\ "):
        raise ValueError(f"CERTS_PUBLIC_URL must be an http(s) URL without query or fragment, not {text!r}")
    return url


def _embedded_db(text: str) -> str:
    kind = text.strip().lower()
    if kind not in EMBEDDED_DATABASES:
        raise ValueError(f"CERTS_EMBEDDED_DB must be one of {', '.join(EMBEDDED_DATABASES)}, not {text!r}")
    return kind


def _change_feed(text: str) -> str:
    kind = text.strip().lower()
    if kind not in CHANGE_FEEDS:
        raise ValueError(f"CERTS_CHANGE_FEED must be one of {', '.join(CHANGE_FEEDS)}, not {text!r}")
    return kind


def _schedule(text: str | None) -> ValiditySchedule:
    if not text:
        return DEFAULT_SCHEDULE
    try:
        return ValiditySchedule.parse(text)
    except ValueError as exc:
        raise ValueError(f"CERTS_VALIDITY_SCHEDULE: {exc}") from None


def _brands(text: str | None) -> BrandTable:
    if not text:
        return BrandTable()
    try:
        return BrandTable.with_configured(text)
    except ValueError as exc:
        raise ValueError(f"CERTS_BRAND_ISSUERS: {exc}") from None


def _token_cache(text: str) -> float:
    seconds = float(text)
    if not 0 <= seconds <= MAX_TOKEN_CACHE_SECONDS:
        raise ValueError(
            f"CERTS_TOKEN_CACHE_SECONDS must be 0-{MAX_TOKEN_CACHE_SECONDS:g}: a revoked token must stop "
            "working within 30 s"
        )
    return seconds


def _at_least(text: str, minimum: int, name: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise ValueError(f"{name} must be a whole number of at least {minimum}, not {text!r}")
    return value


def _trusted_documents(path: str | None) -> TrustedDocuments | None:
    if not path:
        return None
    try:
        return TrustedDocuments.load(Path(path))
    except ValueError as exc:
        raise ValueError(f"CERTS_TRUSTED_DOCUMENTS: {exc}") from None


def _roles(text: str) -> frozenset[Role]:
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    known = {r.value: r for r in Role}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"CERTS_ADHOC_DOCUMENT_ROLES: {', '.join(unknown)} is not a role ({', '.join(known)})")
    return frozenset(known[n] for n in names)


def _acme(env: dict[str, str]) -> dict:
    ca = (env.get("CERTS_CA") or "builtin").strip().lower()
    if ca not in ("builtin", "acme"):
        raise ValueError(f"CERTS_CA must be builtin or acme, not {env.get('CERTS_CA')!r}")
    directory = (env.get("CERTS_ACME_DIRECTORY") or "").strip() or None
    kid = (env.get("CERTS_ACME_EAB_KID") or "").strip() or None
    hmac = (env.get("CERTS_ACME_EAB_HMAC") or "").strip() or None
    bundle = Path(env["CERTS_ACME_CA_BUNDLE"]) if env.get("CERTS_ACME_CA_BUNDLE") else None
    if ca == "acme" and not (directory and directory.startswith("https://")):
        raise ValueError("CERTS_CA=acme needs CERTS_ACME_DIRECTORY, the https:// URL of the CA's ACME directory")
    if bool(kid) != bool(hmac):
        raise ValueError("CERTS_ACME_EAB_KID and CERTS_ACME_EAB_HMAC go together: set both or neither")
    if hmac and not re.fullmatch(r"[A-Za-z0-9_-]{16,}={0,2}", hmac):
        raise ValueError("CERTS_ACME_EAB_HMAC must be the base64url HMAC key the CA gave")
    if bundle is not None and not bundle.is_file():
        raise ValueError(f"CERTS_ACME_CA_BUNDLE: {bundle} is not a file")
    return {"ca": ca, "acme_directory": directory, "acme_eab_kid": kid, "acme_eab_hmac": hmac,
            "acme_ca_bundle": bundle}


def _webhooks(env: dict[str, str]) -> dict:
    def seconds(name: str, default: str) -> float:
        return _positive(env.get(name, default), name)

    try:
        retry_for = parse_duration(env.get("CERTS_WEBHOOK_RETRY_FOR", "3d"))
    except InvalidInput as exc:
        raise ValueError(f"CERTS_WEBHOOK_RETRY_FOR: {exc.message}") from None
    return {
        "webhook_delivery": _bool(env.get("CERTS_WEBHOOK_DELIVERY", "true")),
        "webhook_poll_seconds": seconds("CERTS_WEBHOOK_POLL_SECONDS", "1"),
        "webhook_timeout_seconds": seconds("CERTS_WEBHOOK_TIMEOUT_SECONDS", "10"),
        "webhook_backoff_base_seconds": seconds("CERTS_WEBHOOK_BACKOFF_BASE_SECONDS", "30"),
        "webhook_backoff_max_seconds": seconds("CERTS_WEBHOOK_BACKOFF_MAX_SECONDS", "21600"),
        "webhook_retry_for": retry_for,
    }
