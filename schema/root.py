"""Query and Mutation roots, and the schema with its extensions."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.exceptions import InvalidOperationTypeError

from domain.errors import DomainError
from schema.extensions import CostLimits, MaskInternalErrors
from schema.get_operation import GetOperation
from schema.suggestions import HideSuggestions
from resolvers import auto_validation as auto_validation_resolvers
from resolvers import certificates as certificate_resolvers
from resolvers import reissues as reissue_resolvers
from resolvers import subscriptions as subscription_resolvers
from resolvers import webhooks as webhook_resolvers
from schema import webhook_types as hooks
from resolvers.context import Context, Tuning
from schema.expansion import ExpandedFieldsLimit, RepeatedFieldsLimit, ValidationRules, stands_aside_for_huge_documents
from schema.scalars import DateTime
from schema.selection import selected_fields
from schema.inputs import (
    CertificateFilter,
    CreateDownloadInput,
    ReissueFilter,
    RequestReissueInput,
    SetOrderFactsInput,
    UploadCertificateInput,
)
from schema.auto_validation_types import (
    ConfigureDnsProviderInput,
    ConfigureWebrootInput,
    DnsProvider,
    DnsProviderPayload,
    RemoveDnsProviderPayload,
    RemoveWebrootPayload,
    Webroot,
    WebrootPayload,
)
from schema.reissue_types import Reissue, ReissueConnection
from schema.types import (
    Certificate,
    CertificateConnection,
    DownloadFormat,
    Node,
    ReissueEligibility,
    UserError,
    Waiver,
    user_errors,
)


@strawberry.type
class UploadCertificatePayload:
    certificate: Certificate | None
    user_errors: list[UserError]


@strawberry.type
class RequestReissuePayload:
    reissue: Reissue | None
    private_key_pem: str | None = strawberry.field(
        description="ONLINE only: the generated private key, PKCS#8 PEM, encrypted when a password was given. "
        "Returned once."
    )
    user_errors: list[UserError]


@strawberry.type
class ReissuePayload:
    reissue: Reissue | None
    user_errors: list[UserError]

    @classmethod
    def of(cls, result) -> ReissuePayload:
        reissue, errors = result
        return cls(reissue=Reissue.from_domain(reissue) if reissue else None, user_errors=user_errors(errors))


@strawberry.type
class ReissuePreview:
    eligibility: ReissueEligibility
    user_errors: list[UserError] = strawberry.field(
        description="What requestReissue would reject in this input; empty when it would be accepted."
    )
    domain_validation_required: bool
    manual_review_required: bool
    not_after_chosen_by_ca: bool = strawberry.field(
        description="True when the CA decides the notAfter (an ACME CA): the certificate gets the CA's, which "
        "may differ from notAfter (R5 within R30)."
    )
    waivers: list[Waiver]
    waivers_unavailable_reason: str | None = strawberry.field(
        description="Why no waiver applies although the timing would allow one (R28); null otherwise."
    )
    not_after: datetime = strawberry.field(
        description="The notAfter a reissue submitted now gets (R5, R30); the time of the answer when the "
        "certificate is not found."
    )
    not_after_capped: bool = strawberry.field(
        description="True when R30 shortens the validity below the current notAfter."
    )


@strawberry.type(description="A one-time URL: it works once, within 5 minutes (then 410).")
class Download:
    url: str = strawberry.field(description="GET it (no token needed: the URL is the secret); a zip.")
    expires_at: datetime
    format: DownloadFormat
    file_name: str


@strawberry.type
class CreateDownloadPayload:
    download: Download | None
    user_errors: list[UserError]


@strawberry.type
class CertificatePayload:
    certificate: Certificate | None
    user_errors: list[UserError]


# Fields of a page's nodes that need reissue data, and which data (resolvers.certificates).
_NODE_RELATIONS = {"status": "actives", "activeReissue": "actives", "reissueEligibility": "eligibility"}


def _page_relations(info: strawberry.Info) -> frozenset[str]:
    """Which reissue data `certificates { edges { node { ... } } }` selects: a page that
    does not ask costs no query for it."""
    return frozenset(_NODE_RELATIONS[n] for n in selected_fields(info, ("edges", "node")) if n in _NODE_RELATIONS)


@strawberry.type
class Query:
    @strawberry.field
    async def node(self, info: strawberry.Info[Context], id: strawberry.ID) -> Node | None:
        key = str(id)
        if key.startswith("crt_"):
            return await Query.certificate(self, info, id)
        if key.startswith("rei_"):
            return await Query.reissue(self, info, id)
        return None

    @strawberry.field
    async def certificate(self, info: strawberry.Info[Context], id: strawberry.ID) -> Certificate | None:
        found = await certificate_resolvers.certificate(info.context, str(id))
        return Certificate.from_domain(found, info.context.now) if found else None

    @strawberry.field(description="first is capped at 100.")
    async def certificates(
        self,
        info: strawberry.Info[Context],
        first: int | None = 20,
        after: str | None = None,
        filter: CertificateFilter | None = None,
    ) -> CertificateConnection:
        page = await certificate_resolvers.certificates(
            info.context,
            first=20 if first is None else first,
            after=after,
            filter=(filter or CertificateFilter()).to_domain(),
            related=_page_relations(info),
            with_total="totalCount" in selected_fields(info, ()),
        )
        return CertificateConnection.from_page(page, info.context.now)

    @strawberry.field
    async def reissue(self, info: strawberry.Info[Context], id: strawberry.ID) -> Reissue | None:
        found = await reissue_resolvers.reissue(info.context, str(id))
        return Reissue.from_domain(found) if found else None

    @strawberry.field
    async def reissues(
        self,
        info: strawberry.Info[Context],
        first: int | None = 20,
        after: str | None = None,
        filter: ReissueFilter | None = None,
    ) -> ReissueConnection:
        f = filter or ReissueFilter()
        page = await reissue_resolvers.reissues(
            info.context,
            first=20 if first is None else first,
            after=after,
            status=f.status,
            certificate_id=str(f.certificate_id) if f.certificate_id is not None else None,
            with_total="totalCount" in selected_fields(info, ()),
        )
        return ReissueConnection.from_page(page)

    @strawberry.field(description="Dry run of requestReissue (R12): no locks, no writes.")
    async def preview_reissue(self, info: strawberry.Info[Context], input: RequestReissueInput) -> ReissuePreview:
        preview, errors = await reissue_resolvers.preview(info.context, input.to_domain())
        if preview is None:
            # The certificate itself is not there (or not the caller's): nothing to preview.
            from domain.reissues import ReissueFlow

            return ReissuePreview(
                eligibility=ReissueEligibility(eligible=False, reasons=user_errors(errors), flow=ReissueFlow.PAID_DV),
                user_errors=user_errors(errors),
                domain_validation_required=False,
                manual_review_required=False,
                waivers=[],
                waivers_unavailable_reason=None,
                not_after=info.context.now,
                not_after_capped=False,
                not_after_chosen_by_ca=info.context.services.reissues.ca_chooses_not_after,
            )
        steps = preview.steps
        return ReissuePreview(
            eligibility=ReissueEligibility.from_domain(preview.eligibility),
            user_errors=user_errors(preview.errors),
            domain_validation_required=steps.domain_validation_required if steps else False,
            manual_review_required=steps.manual_review_required if steps else False,
            waivers=list(steps.waivers) if steps else [],
            waivers_unavailable_reason=steps.waivers_unavailable_reason if steps else None,
            not_after=preview.validity.not_after,
            not_after_capped=preview.validity.capped,
            not_after_chosen_by_ca=info.context.services.reissues.ca_chooses_not_after,
        )

    @strawberry.field(
        description="Staff only (R26): reissues in every account waiting for the caller's role, oldest first "
        "(reviewer: PENDING_MANUAL_REVIEW; operator: PENDING_CA_VERIFICATION)."
    )
    async def review_queue(
        self, info: strawberry.Info[Context], first: int | None = 20, after: str | None = None
    ) -> ReissueConnection:
        page = await reissue_resolvers.review_queue(
            info.context, first=20 if first is None else first, after=after,
            with_total="totalCount" in selected_fields(info, ()),
        )
        return ReissueConnection.from_page(page)

    @strawberry.field(description="Every event type an endpoint may subscribe to; reissue.* is all reissue.* ones.")
    def webhook_event_types(self) -> list[str]:
        from domain.webhooks import SUBSCRIBABLE

        return list(SUBSCRIBABLE)

    @strawberry.field(description="The account's webhook endpoints, newest first (owner or viewer); first is "
                      "capped at 100.")
    async def webhook_endpoints(
        self, info: strawberry.Info[Context], first: int | None = 20, after: str | None = None
    ) -> hooks.WebhookEndpointConnection:
        page = await webhook_resolvers.endpoints(info.context, first=20 if first is None else first, after=after)
        return hooks.WebhookEndpointConnection.from_page(page)

    @strawberry.field(description="The account's webhook deliveries, newest event first; first is capped at 100.")
    async def webhook_deliveries(
        self, info: strawberry.Info[Context], first: int | None = 20, after: str | None = None,
        filter: hooks.WebhookDeliveryFilter | None = None,
    ) -> hooks.WebhookDeliveryConnection:
        f = filter or hooks.WebhookDeliveryFilter()
        page = await webhook_resolvers.deliveries(
            info.context, endpoint_id=str(f.endpoint_id) if f.endpoint_id is not None else None, status=f.status,
            first=20 if first is None else first, after=after, with_total="totalCount" in selected_fields(info, ()),
        )
        return hooks.WebhookDeliveryConnection.from_page(page)

    @strawberry.field(description="Days before a certificate's notAfter when certificate.expiring is sent.")
    async def expiry_notification_thresholds(self, info: strawberry.Info[Context]) -> list[int]:
        return list(await webhook_resolvers.expiry_thresholds(info.context))
    @strawberry.field(description="The account's DNS providers for DNS_AUTO (R20; owner or viewer, R26); "
                      "secrets are never returned.")
    async def dns_providers(self, info: strawberry.Info[Context]) -> list[DnsProvider]:
        return [DnsProvider.from_domain(p) for p in await auto_validation_resolvers.dns_providers(info.context)]

    @strawberry.field(description="The account's webroots for FILE_AUTO (R20; owner or viewer, R26).")
    async def webroots(self, info: strawberry.Info[Context]) -> list[Webroot]:
        return [Webroot.from_domain(w) for w in await auto_validation_resolvers.webroots(info.context)]


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def upload_certificate(
        self, info: strawberry.Info[Context], input: UploadCertificateInput
    ) -> UploadCertificatePayload:
        cert, errors = await certificate_resolvers.upload_certificate(info.context, input.to_domain())
        return UploadCertificatePayload(
            certificate=Certificate.from_domain(cert, info.context.now) if cert else None,
            user_errors=user_errors(errors),
        )

    @strawberry.mutation
    async def request_reissue(self, info: strawberry.Info[Context], input: RequestReissueInput) -> RequestReissuePayload:
        result, errors = await reissue_resolvers.request_reissue(info.context, input.to_domain())
        return RequestReissuePayload(
            reissue=Reissue.from_domain(result.reissue) if result else None,
            private_key_pem=result.private_key_pem if result else None,
            user_errors=user_errors(errors),
        )

    @strawberry.mutation(
        description="A one-time URL to a zip for a server (R26: owner; a viewer gets PEM, which holds no key; "
        "staff none)."
    )
    async def create_download(self, info: strawberry.Info[Context], input: CreateDownloadInput) -> CreateDownloadPayload:
        found, errors = await certificate_resolvers.create_download(info.context, input.to_domain())
        return CreateDownloadPayload(
            download=Download(
                url=f"{info.context.base_url}/downloads/{found.token}", expires_at=found.expires_at,
                format=found.format, file_name=found.file_name,
            ) if found else None,
            user_errors=user_errors(errors),
        )

    @strawberry.mutation(description="operator role (R29).")
    async def set_order_facts(self, info: strawberry.Info[Context], input: SetOrderFactsInput) -> CertificatePayload:
        cert, errors = await certificate_resolvers.set_order_facts(info.context, input.to_domain())
        return CertificatePayload(
            certificate=Certificate.from_domain(cert, info.context.now) if cert else None,
            user_errors=user_errors(errors),
        )

    @strawberry.mutation(description="Validate now (R21).")
    async def check_domain_validation(self, info: strawberry.Info[Context], reissue_id: strawberry.ID) -> ReissuePayload:
        return ReissuePayload.of(await reissue_resolvers.check_domain_validation(info.context, str(reissue_id)))

    @strawberry.mutation(description="reviewer role (R22).")
    async def approve_reissue(
        self, info: strawberry.Info[Context], reissue_id: strawberry.ID, comment: str | None = None
    ) -> ReissuePayload:
        return ReissuePayload.of(await reissue_resolvers.approve(info.context, str(reissue_id), comment))

    @strawberry.mutation(description="reviewer role (R22).")
    async def reject_reissue(
        self, info: strawberry.Info[Context], reissue_id: strawberry.ID, reason: str
    ) -> ReissuePayload:
        return ReissuePayload.of(await reissue_resolvers.reject(info.context, str(reissue_id), reason))

    @strawberry.mutation(description="operator role (R14).")
    async def confirm_ca_verification(self, info: strawberry.Info[Context], reissue_id: strawberry.ID) -> ReissuePayload:
        return ReissuePayload.of(await reissue_resolvers.confirm_ca_verification(info.context, str(reissue_id)))

    @strawberry.mutation
    async def cancel_reissue(self, info: strawberry.Info[Context], reissue_id: strawberry.ID) -> ReissuePayload:
        return ReissuePayload.of(await reissue_resolvers.cancel(info.context, str(reissue_id)))

    @strawberry.mutation(description="owner role (R26): the zone's primary server and TSIG key for DNS_AUTO (R20); "
                         "the same zone again replaces it. Saved only after a probe proves the server serves the "
                         "zone as the world sees it.")
    async def configure_dns_provider(
        self, info: strawberry.Info[Context], input: ConfigureDnsProviderInput
    ) -> DnsProviderPayload:
        found, errors = await auto_validation_resolvers.configure_dns_provider(info.context, input.to_domain())
        return DnsProviderPayload(dns_provider=DnsProvider.from_domain(found) if found else None,
                                  user_errors=user_errors(errors))

    @strawberry.mutation(description="owner role (R26). Records already placed are still removed when their "
                         "reissues end.")
    async def remove_dns_provider(self, info: strawberry.Info[Context], id: strawberry.ID) -> RemoveDnsProviderPayload:
        removed, errors = await auto_validation_resolvers.remove_dns_provider(info.context, str(id))
        return RemoveDnsProviderPayload(removed_id=strawberry.ID(removed) if removed else None,
                                        user_errors=user_errors(errors))

    @strawberry.mutation(description="owner role (R26): where FILE_AUTO writes the challenge file for one domain "
                         "(R20), below the service's webroot base directory; the same domain again replaces it.")
    async def configure_webroot(self, info: strawberry.Info[Context], input: ConfigureWebrootInput) -> WebrootPayload:
        found, errors = await auto_validation_resolvers.configure_webroot(info.context, input.domain, input.directory)
        return WebrootPayload(webroot=Webroot.from_domain(found) if found else None, user_errors=user_errors(errors))

    @strawberry.mutation(description="owner role (R26). Files already written are still removed when their "
                         "reissues end.")
    async def remove_webroot(self, info: strawberry.Info[Context], id: strawberry.ID) -> RemoveWebrootPayload:
        removed, errors = await auto_validation_resolvers.remove_webroot(info.context, str(id))
        return RemoveWebrootPayload(removed_id=strawberry.ID(removed) if removed else None,
                                    user_errors=user_errors(errors))

    @strawberry.mutation(description="At most once per 24 h per reissue (R22); RATE_LIMITED otherwise.")
    async def remind_reviewer(self, info: strawberry.Info[Context], reissue_id: strawberry.ID) -> ReissuePayload:
        return ReissuePayload.of(await reissue_resolvers.remind(info.context, str(reissue_id)))

    @strawberry.mutation(description="owner role. The secret is in this answer only.")
    async def create_webhook_endpoint(
        self, info: strawberry.Info[Context], input: hooks.CreateWebhookEndpointInput
    ) -> hooks.WebhookEndpointSecretPayload:
        found, errors = await webhook_resolvers.create_endpoint(info.context, input.url, input.events)
        endpoint, secret = found if found else (None, None)
        return hooks.WebhookEndpointSecretPayload(
            webhook_endpoint=hooks.WebhookEndpoint.from_domain(endpoint) if endpoint else None, secret=secret,
            user_errors=user_errors(errors),
        )

    @strawberry.mutation(description="owner role. A new secret, in this answer only; the old one signs too for "
                         "24 hours.")
    async def rotate_webhook_secret(
        self, info: strawberry.Info[Context], input: hooks.WebhookEndpointIdInput
    ) -> hooks.WebhookEndpointSecretPayload:
        found, errors = await webhook_resolvers.rotate_secret(info.context, str(input.endpoint_id))
        endpoint, secret = found if found else (None, None)
        return hooks.WebhookEndpointSecretPayload(
            webhook_endpoint=hooks.WebhookEndpoint.from_domain(endpoint) if endpoint else None, secret=secret,
            user_errors=user_errors(errors),
        )

    @strawberry.mutation(description="owner role. Its pending deliveries are not sent.")
    async def delete_webhook_endpoint(
        self, info: strawberry.Info[Context], input: hooks.WebhookEndpointIdInput
    ) -> hooks.DeleteWebhookEndpointPayload:
        found, errors = await webhook_resolvers.delete_endpoint(info.context, str(input.endpoint_id))
        return hooks.DeleteWebhookEndpointPayload(
            deleted_endpoint_id=strawberry.ID(found.id) if found else None, user_errors=user_errors(errors)
        )

    @strawberry.mutation(description="owner role. Sends a delivery again (FAILED, DELIVERED, or PENDING without "
                         "waiting): PENDING, due now, retried for the retry window from now; the same webhook-id "
                         "and body, its attempts kept. INVALID_STATE if its endpoint was deleted.")
    async def redeliver_webhook(
        self, info: strawberry.Info[Context], input: hooks.RedeliverWebhookInput
    ) -> hooks.WebhookDeliveryPayload:
        found, errors = await webhook_resolvers.redeliver(info.context, str(input.delivery_id))
        return hooks.WebhookDeliveryPayload(
            delivery=hooks.WebhookDelivery.from_domain(found) if found else None, user_errors=user_errors(errors)
        )

    @strawberry.mutation(description="owner role.")
    async def set_expiry_notification_thresholds(
        self, info: strawberry.Info[Context], input: hooks.SetExpiryNotificationThresholdsInput
    ) -> hooks.ExpiryNotificationThresholdsPayload:
        found, errors = await webhook_resolvers.set_expiry_thresholds(info.context, input.thresholds)
        return hooks.ExpiryNotificationThresholdsPayload(
            thresholds=list(found) if found is not None else None, user_errors=user_errors(errors)
        )


@strawberry.type(
    description="Live state, over a WebSocket on /graphql (the graphql-transport-ws protocol; the token in "
    'connection_init\'s payload as {"Authorization": "Bearer <token>"}). Each message is the whole selection, '
    "read as the query of the same object would read it (R26)."
)
class Subscription:
    @strawberry.subscription(
        description="The reissue as it is now, then again each time any API process changes it: its status and "
        "events (R25), its domain validation (a check, R21), its certificate. A change that leaves the selection "
        "as it was sends nothing. It stays open, after the reissue ends too, until the client completes it. "
        "A reissue that does not exist, or is another account's, is NOT_FOUND (an error message, no data); staff "
        "may watch any one by its ID (R26)."
    )
    async def reissue_updated(self, info: strawberry.Info[Context], reissue_id: strawberry.ID) -> AsyncIterator[Reissue]:
        updates = await subscription_resolvers.reissue_updates(info.context, str(reissue_id))
        return updates.map(Reissue.from_domain)

    @strawberry.subscription(
        description="The certificate as it is now, then again each time it changes: a new version (R23), its "
        "status (REISSUING while a reissue is in progress, R4), order facts (R29), or its eligibility, which a "
        "reissue of another certificate under the same primary domain changes (R3). A change that leaves the "
        "selection as it was sends nothing; the passing of time (EXPIRED, R1's 30 days) is not a change. "
        "NOT_FOUND for one that does not exist or is another account's; staff by its ID (R26)."
    )
    async def certificate_updated(self, info: strawberry.Info[Context], id: strawberry.ID) -> AsyncIterator[Certificate]:
        updates = await subscription_resolvers.certificate_updates(info.context, str(id))
        return updates.map(lambda found: Certificate.from_domain(found, info.context.now))


log = logging.getLogger("certreissue.graphql")


class CertReissueSchema(strawberry.Schema):
    """Logs errors without their text: a GraphQL error message can quote the request's
    variables or source (a key password, R9), so only the path and kind are logged, and a
    real fault keeps its traceback."""

    def process_errors(self, errors, execution_context=None) -> None:
        for error in errors:
            original = error.original_error
            where = ".".join(str(p) for p in error.path) if error.path else "request"
            # (InvalidOperationTypeError: a query or mutation sent over the WebSocket, a request error)
            if original is None or isinstance(original, (GraphQLError, DomainError, InvalidOperationTypeError)):
                log.info("graphql error at %s (%s)", where, type(original or error).__name__)
            else:
                log.error("resolver failed at %s", where, exc_info=original)


@dataclass(frozen=True)
class Limits:
    """What one request may ask (hostile GraphQL)."""

    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 3000


def build_schema(
    *,
    introspection: bool = True,
    limits: Limits = Limits(),
    unavailable: Callable[[BaseException], bool] = lambda error: False,
    tuning: Tuning = Tuning(),
) -> strawberry.Schema:
    """`introspection=False` also drops every "Did you mean ...?" from error messages;
    `unavailable` tells which exceptions mean the database is down."""
    # Each limiter builds a new validation-rule class when constructed; built once here and
    # reused, the rules stay the same object per request, so ValidationCache can hit (a new
    # limiter per request made every validation a cache miss).
    limit_rules = [
        ExpandedFieldsLimit,
        RepeatedFieldsLimit,
        *(stands_aside_for_huge_documents(r) for r in (
            *QueryDepthLimiter(max_depth=limits.max_depth).validation_rules,
            *MaxAliasesLimiter(max_alias_count=limits.max_aliases).validation_rules,
        )),
    ]
    extensions: list = [
        lambda: MaskInternalErrors(unavailable),
        ValidationRules(limit_rules),  # also: graphql-core's overlap check stands aside for refused repetitions
        lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
        # on_execute only: after the cached parse and validation, with the request's variables.
        CostLimits,
        # on_parse: operationName names one operation, or the document has only one.
        GetOperation,
    ]
    if tuning.document_caches:
        extensions[3:3] = [lambda: ParserCache(maxsize=256), lambda: ValidationCache(maxsize=256)]
    if not introspection:
        extensions.append(DisableIntrospection)
        extensions.insert(0, HideSuggestions)  # first in, last out: it sees the final messages
    return CertReissueSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[Certificate, Reissue],
        extensions=extensions,
        config=StrawberryConfig(disable_field_suggestions=not introspection, scalar_map={datetime: DateTime}),
    )
