"""GraphQL types of webhooks and expiry notifications (README "Webhooks")."""

from __future__ import annotations

from datetime import datetime

import strawberry

from domain import webhooks
from domain.model import Page
from domain.pagination import encode_cursor
from schema.types import PageInfo, UserError

WebhookDeliveryStatus = strawberry.enum(
    webhooks.DeliveryStatus, name="WebhookDeliveryStatus",
    description="PENDING: due now or at nextAttemptAt; DELIVERED: the endpoint answered 2xx; FAILED: given up "
    "(no 2xx within the retry window, or the endpoint was deleted).",
)


@strawberry.type(description="Where an account's events are POSTed, signed by the Standard Webhooks scheme.")
class WebhookEndpoint:
    id: strawberry.ID
    url: str
    events: list[str] = strawberry.field(description="Event types (webhookEventTypes), or reissue.* for all "
                                         "reissue events.")
    created_at: datetime
    secret_rotated_at: datetime | None = strawberry.field(
        description="The last rotateWebhookSecret; the secret before it still signs for 24 hours after it."
    )

    @classmethod
    def from_domain(cls, e: webhooks.Endpoint) -> WebhookEndpoint:
        return cls(id=strawberry.ID(e.id), url=e.url, events=list(e.events), created_at=e.created_at,
                   secret_rotated_at=e.secret_rotated_at)


@strawberry.type
class WebhookEndpointEdge:
    cursor: str
    node: WebhookEndpoint


@strawberry.type
class WebhookEndpointConnection:
    edges: list[WebhookEndpointEdge]
    page_info: PageInfo
    total_count: int

    @classmethod
    def from_page(cls, page: Page) -> WebhookEndpointConnection:
        edges = [WebhookEndpointEdge(cursor=encode_cursor(e.id), node=WebhookEndpoint.from_domain(e))
                 for e in page.items]
        return cls(edges=edges, total_count=page.total_count or 0,
                   page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=edges[-1].cursor if edges else None))


@strawberry.type(description="One POST of a delivery.")
class WebhookAttempt:
    at: datetime
    status_code: int | None = strawberry.field(description="null: no HTTP answer (see error).")
    latency_ms: float
    error: str | None
    response_excerpt: str | None = strawberry.field(description="The start of the answer's body (256 bytes at most).")

    @classmethod
    def from_domain(cls, a: webhooks.Attempt) -> WebhookAttempt:
        return cls(at=a.at, status_code=a.status_code, latency_ms=a.latency_ms, error=a.error,
                   response_excerpt=a.response_excerpt)


@strawberry.type(description="One event for one endpoint: the same webhook-id and body on every attempt.")
class WebhookDelivery:
    id: strawberry.ID
    endpoint_id: strawberry.ID
    event_id: str = strawberry.field(description="The webhook-id header: receivers deduplicate on it.")
    event_type: str
    payload: str = strawberry.field(description="The body POSTed, byte for byte.")
    status: WebhookDeliveryStatus
    created_at: datetime
    next_attempt_at: datetime | None = strawberry.field(description="null once DELIVERED or FAILED.")
    attempt_count: int
    last_status_code: int | None
    last_latency_ms: float | None
    attempts: list[WebhookAttempt]
    retry_from: datetime | None = strawberry.field(
        description="The last redeliverWebhook: the retry window runs from it (null: from the first attempt)."
    )

    @classmethod
    def from_domain(cls, d: webhooks.Delivery) -> WebhookDelivery:
        last = d.attempts[-1] if d.attempts else None
        return cls(
            id=strawberry.ID(d.id), endpoint_id=strawberry.ID(d.endpoint_id), event_id=d.event_id,
            event_type=d.event_type, payload=d.body, status=d.status, created_at=d.created_at,
            next_attempt_at=d.next_attempt_at if d.status == webhooks.DeliveryStatus.PENDING else None,
            attempt_count=len(d.attempts), last_status_code=last.status_code if last else None,
            last_latency_ms=last.latency_ms if last else None,
            attempts=[WebhookAttempt.from_domain(a) for a in d.attempts], retry_from=d.retry_from,
        )


@strawberry.type
class WebhookDeliveryEdge:
    cursor: str
    node: WebhookDelivery


@strawberry.type
class WebhookDeliveryConnection:
    edges: list[WebhookDeliveryEdge]
    page_info: PageInfo
    total_count: int

    @classmethod
    def from_page(cls, page: Page) -> WebhookDeliveryConnection:
        edges = [WebhookDeliveryEdge(cursor=encode_cursor(d.id), node=WebhookDelivery.from_domain(d))
                 for d in page.items]
        return cls(edges=edges, total_count=page.total_count or 0,
                   page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=edges[-1].cursor if edges else None))


@strawberry.input
class WebhookDeliveryFilter:
    endpoint_id: strawberry.ID | None = None
    status: WebhookDeliveryStatus | None = None


@strawberry.input
class CreateWebhookEndpointInput:
    url: str = strawberry.field(description="http:// or https://, reaching a public address; redirects are not "
                                "followed.")
    events: list[str] = strawberry.field(description="Event types from webhookEventTypes, or reissue.*.")


@strawberry.input
class WebhookEndpointIdInput:
    endpoint_id: strawberry.ID


@strawberry.input
class RedeliverWebhookInput:
    delivery_id: strawberry.ID


@strawberry.input
class SetExpiryNotificationThresholdsInput:
    thresholds: list[int] = strawberry.field(description="Days before notAfter, 1-365, at most 10.")


@strawberry.type
class WebhookEndpointSecretPayload:
    webhook_endpoint: WebhookEndpoint | None
    secret: str | None = strawberry.field(
        description="The signing secret (whsec_...), shown here once and never again."
    )
    user_errors: list[UserError]


@strawberry.type
class WebhookDeliveryPayload:
    delivery: WebhookDelivery | None
    user_errors: list[UserError]


@strawberry.type
class DeleteWebhookEndpointPayload:
    deleted_endpoint_id: strawberry.ID | None
    user_errors: list[UserError]


@strawberry.type
class ExpiryNotificationThresholdsPayload:
    thresholds: list[int] | None
    user_errors: list[UserError]
