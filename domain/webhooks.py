"""Webhooks, the pure part: event types and their matching, the endpoint URL's shape, the
payloads (fixed at creation, so every retry is byte-identical), event and delivery IDs
(deterministic, so a relay or a sweep that runs twice makes nothing twice), the retry
schedule, and which expiry threshold is due. No I/O here."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from urllib.parse import urlsplit

from domain.errors import InvalidInput
from domain.reissues import Reissue, ReissueStatus

ENDPOINT_ID_PREFIX = "whe_"
DELIVERY_ID_PREFIX = "whd_"
REISSUE_CREATED = "reissue.created"
REISSUE_ANY = "reissue.*"
CERTIFICATE_EXPIRING = "certificate.expiring"
# One type per status, derived from the enum: reissue.pending_domain_validation, ... reissue.expired.
REISSUE_STATUS_TYPES = {status: f"reissue.{status.value.lower()}" for status in ReissueStatus}
EVENT_TYPES: tuple[str, ...] = (REISSUE_CREATED, *REISSUE_STATUS_TYPES.values(), CERTIFICATE_EXPIRING)
SUBSCRIBABLE: tuple[str, ...] = (*EVENT_TYPES, REISSUE_ANY)
MAX_URL_LENGTH = 2048
MAX_ENDPOINTS_PER_ACCOUNT = 20
DEFAULT_EXPIRY_THRESHOLDS: tuple[int, ...] = (30, 14, 7, 1)
MAX_EXPIRY_THRESHOLDS = 10
SECRET_OVERLAP = timedelta(hours=24)  # after a rotation the old secret signs too, this long


class DeliveryStatus(str, Enum):
    PENDING = "PENDING"  # due now or at nextAttemptAt
    DELIVERED = "DELIVERED"  # a 2xx answer
    FAILED = "FAILED"  # given up: no 2xx within the retry window, or the endpoint was deleted


# -- event types ------------------------------------------------------------------------


def check_event_types(types: Sequence[str], field_path: Sequence[str] = ("input", "events")) -> tuple[str, ...]:
    """The subscribed types, deduplicated in order; an unknown or empty list is refused."""
    if not types:
        raise InvalidInput("events must name at least one event type (webhookEventTypes lists them)",
                           field=list(field_path))
    chosen: list[str] = []
    for i, raw in enumerate(types):
        name = raw.strip() if isinstance(raw, str) else ""
        if name not in SUBSCRIBABLE:
            shown = raw[:60] if isinstance(raw, str) else "?"
            raise InvalidInput(f"{shown!r} is not an event type: use one of {', '.join(SUBSCRIBABLE)}",
                               field=[*field_path, str(i)])
        if name not in chosen:
            chosen.append(name)
    return tuple(chosen)


def subscribed(events: Iterable[str], event_type: str, also: str | None = None) -> bool:
    """`also`: the status type a reissue.created event stands for too (the status the
    reissue started in), so that an endpoint subscribed to reissue.issued learns of a
    reissue issued at once (R19) without a second event."""
    events = tuple(events)
    if event_type.startswith("reissue.") and REISSUE_ANY in events:
        return True
    return event_type in events or (also is not None and also in events)


def reissue_event_type(reissue: Reissue, index: int) -> str:
    """The first event of a reissue is its creation (its data says the status it started
    in); every later one is named after the status it moved to (R25)."""
    if index == 0:
        return REISSUE_CREATED
    return REISSUE_STATUS_TYPES[reissue.events[index].to_status]


# -- IDs -------------------------------------------------------------------------------


def reissue_event_id(reissue_id: str, index: int) -> str:
    return f"msg_{reissue_id}_{index}"


def expiry_event_id(certificate_id: str, serial: str, threshold: int) -> str:
    return f"msg_exp_{certificate_id}_{serial.lower()}_{threshold}d"


def delivery_id(endpoint_id: str, event_id: str, at: datetime) -> str:
    """Deterministic: the same event to the same endpoint is one delivery however often it
    is relayed. Time-prefixed (the event's second) so the newest sort first."""
    seconds = max(0, min(int(at.timestamp()), 0xFFFFFFFF))
    digest = hashlib.sha256(f"{endpoint_id}\x00{event_id}".encode()).hexdigest()[:16]
    return f"{DELIVERY_ID_PREFIX}{seconds:08x}{digest}"


# -- payloads --------------------------------------------------------------------------


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _body(event_type: str, at: datetime, data: dict) -> str:
    """Standard Webhooks' recommended shape: {type, timestamp, data}; compact JSON."""
    return json.dumps({"type": event_type, "timestamp": _iso(at), "data": data}, separators=(",", ":"),
                      ensure_ascii=False, sort_keys=True)


@dataclass(frozen=True)
class WebhookEvent:
    id: str
    type: str
    account: str
    at: datetime
    body: str
    also: str | None = None  # reissue.created: the type of the status it started in


def reissue_events(reissue: Reissue) -> list[WebhookEvent]:
    """One webhook event per event of the reissue's history (R25), in order."""
    found = []
    for index, event in enumerate(reissue.events):
        data = {
            "reissueId": reissue.id,
            "certificateId": reissue.certificate_id,
            "domain": reissue.domain,
            "flow": reissue.flow.value,
            "status": event.to_status.value,
            "previousStatus": event.from_status.value if event.from_status else None,
            "actor": event.actor,
            "note": event.note,
            "at": _iso(event.at),
        }
        kind = reissue_event_type(reissue, index)
        found.append(WebhookEvent(reissue_event_id(reissue.id, index), kind, reissue.account, event.at,
                                  _body(kind, event.at, data),
                                  also=REISSUE_STATUS_TYPES[event.to_status] if index == 0 else None))
    return found


def expiry_event(
    account: str, certificate_id: str, domain: str, serial: str, not_after: datetime, threshold: int, now: datetime
) -> WebhookEvent:
    """certificate.expiring for one version (serial) and one threshold. Its ID, and its time
    (which the delivery ID carries), are the threshold's crossing, whenever a sweep notices
    it: two sweeps make the same deliveries. The body says the days really left then."""
    crossed = not_after - timedelta(days=threshold)
    data = {
        "certificateId": certificate_id,
        "domain": domain,
        "serialNumber": serial,
        "notAfter": _iso(not_after),
        "thresholdDays": threshold,
        "daysLeft": max(0, (not_after - now) // timedelta(days=1)),
    }
    return WebhookEvent(expiry_event_id(certificate_id, serial, threshold), CERTIFICATE_EXPIRING, account, crossed,
                        _body(CERTIFICATE_EXPIRING, now, data))


# -- expiry thresholds -----------------------------------------------------------------


def check_thresholds(values: Sequence[int], field_path: Sequence[str] = ("input", "thresholds")) -> tuple[int, ...]:
    if not values:
        raise InvalidInput("thresholds must hold at least one number of days", field=list(field_path))
    if len(values) > MAX_EXPIRY_THRESHOLDS:
        raise InvalidInput(f"at most {MAX_EXPIRY_THRESHOLDS} thresholds", field=list(field_path))
    for i, v in enumerate(values):
        if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= 365:
            raise InvalidInput("each threshold is a whole number of days from 1 to 365", field=[*field_path, str(i)])
    return tuple(sorted(set(values), reverse=True))


def due_threshold(not_after: datetime, now: datetime, thresholds: Iterable[int]) -> int | None:
    """The most urgent threshold already crossed (now >= notAfter - days), or None. Only that
    one is sent: a service that was down past several sends one notice, not a burst; and the
    ones above it are never due again (time only moves on)."""
    if now >= not_after:
        return None  # expired: no longer "expiring"
    crossed = [t for t in thresholds if now >= not_after - timedelta(days=t)]
    return min(crossed) if crossed else None


# -- the endpoint URL ----------------------------------------------------------------------

_UNSAFE_IN_URL = re.compile(r"[\x00-\x20\x7f\\]")
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOST_NAME = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}\.?")


@dataclass(frozen=True)
class EndpointUrl:
    scheme: str  # http or https
    host: str  # an IP address (IPv6 without brackets) or an A-label host name
    port: int
    target: str  # path and query

    @property
    def is_address(self) -> bool:
        try:
            ipaddress.ip_address(self.host)
            return True
        except ValueError:
            return False


def parse_endpoint_url(url: str, field_path: Sequence[str] = ("input", "url")) -> EndpointUrl:
    """http or https, a host, no userinfo, no fragment, nothing two parsers could read two
    ways (whitespace, control characters, backslashes), at most MAX_URL_LENGTH characters."""
    def refuse(why: str) -> InvalidInput:
        return InvalidInput(f"url {why}", field=list(field_path))

    if not isinstance(url, str) or not url:
        raise refuse("is required")
    if len(url) > MAX_URL_LENGTH:
        raise refuse(f"is longer than {MAX_URL_LENGTH} characters")
    if _UNSAFE_IN_URL.search(url):
        raise refuse("holds whitespace, a control character or a backslash")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise refuse("is not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise refuse("must start with http:// or https://")
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise refuse("must not hold a user name or password")
    if parts.fragment or url.endswith("#"):
        raise refuse("must not hold a fragment")
    host = parts.hostname or ""
    if not host:
        raise refuse("has no host")
    try:
        host = str(ipaddress.ip_address(host))
    except ValueError:
        try:
            host = host.encode("idna").decode("ascii").lower()
        except UnicodeError:
            raise refuse("has a host name that is not valid") from None
        if len(host) > 253 or not _HOST_NAME.fullmatch(host):
            raise refuse("has a host name that is not valid")
    if port == 0:
        raise refuse("has port 0")
    path = parts.path or "/"
    return EndpointUrl(parts.scheme, host, port or (443 if parts.scheme == "https" else 80),
                       f"{path}?{parts.query}" if parts.query else path)


# -- retries ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=6)
    window: timedelta = timedelta(days=3)  # from the first attempt (or a redelivery); then given up


def next_attempt(policy: RetryPolicy, failures: int, first_attempt: datetime, now: datetime,
                 jitter: float) -> datetime | None:
    """After `failures` failed attempts (at least 1): when to try again, or None to give up.
    Exponential (base * 2^(failures-1), at most `cap`), with "equal jitter": a delay
    between half and all of that (`jitter` in [0, 1)), so receivers that failed together are
    not retried together. The last try is at the end of the window."""
    deadline = first_attempt + policy.window
    if now >= deadline:
        return None
    exponent = min(max(failures, 1) - 1, 40)
    delay = min(policy.cap, policy.base * (2 ** exponent))
    delay = delay / 2 + delay / 2 * min(max(jitter, 0.0), 1.0)
    return min(now + delay, deadline)


def retry_window(attempts: Sequence[Attempt], retry_from: datetime | None,
                 failed_at: datetime) -> tuple[datetime, int]:
    """For an attempt that failed at `failed_at` after `attempts`: where the retry window
    starts, and the failures within it, that one included (next_attempt's `first_attempt`
    and `failures`). The window runs from the first attempt, or from the last redelivery
    (`retry_from`, redeliverWebhook) if there was one: a fresh window, the backoff started
    over, the attempts before it kept but not counted."""
    start = attempts[0].at if attempts else failed_at
    if retry_from is not None and retry_from > start:
        start = retry_from
    return start, 1 + sum(1 for a in attempts if a.at >= start)


@dataclass(frozen=True)
class Attempt:
    at: datetime
    status_code: int | None
    latency_ms: float
    error: str | None = None
    response_excerpt: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class Endpoint:
    id: str
    account: str
    url: str
    events: tuple[str, ...]
    created_at: datetime
    secret_rotated_at: datetime | None = None


@dataclass(frozen=True)
class Delivery:
    id: str
    endpoint_id: str
    account: str
    event_id: str
    event_type: str
    body: str
    created_at: datetime
    status: DeliveryStatus
    next_attempt_at: datetime | None
    attempts: tuple[Attempt, ...] = field(default_factory=tuple)
    retry_from: datetime | None = None  # the last redelivery: the retry window runs from it

