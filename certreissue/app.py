"""The HTTP application: Starlette with /graphql (Strawberry), /healthz, /readyz and the web
console at /console; a WebSocket on /graphql carries subscriptions (certreissue/graphql_ws.py).

/graphql speaks GraphQL over HTTP (graphql_http.py: media types, status codes, 405 for a
mutation by GET or another method, 406, 415) and runs persisted documents
(persisted_documents.py). Every /graphql request but the GraphiQL page itself must carry
`Authorization: Bearer <token>`; a missing or unknown token is refused here, before any
resolver runs (R26). Bodies over CERTS_MAX_BODY_BYTES get 413, bodies that are not one
JSON object in UTF-8 nested at most 64 deep get 400 (request_json.py); an operation
running longer than CERTS_EXECUTION_TIMEOUT_SECONDS is answered 504 (the work it did is crash-safe: the
sweep finishes or undoes it). Every response carries X-Request-ID and the security
headers of certreissue/security_headers.py, and every log line the request's ID.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import unquote_to_bytes

from cross_web import HTTPException
from pymongo.errors import PyMongoError
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute, request_response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.asgi import GraphQL

from certreissue import logs
from certreissue.bootstrap import Services, build_services
from certreissue.graphql_http import (
    JSON,
    GraphQLOverHTTP,
    UnsupportedMediaType,
    check_content_type,
    error_response,
    negotiate,
    read_get,
    read_post,
)
from certreissue.persisted_documents import AutomaticPersistedQueries, Documents
from certreissue.cors import ApiCORSMiddleware
from certreissue.console import ConsoleAssets
from certreissue.graphiql import GraphiQLAssets
from certreissue.graphql_ws import SubscriptionsView
from certreissue.request_json import BadRequest
from certreissue.security_headers import SecurityHeadersMiddleware
from certreissue.settings import Settings
from domain.downloads import DownloadGone, DownloadNotFound
from domain.model import Brand, Caller
from resolvers.context import Context, Tuning
from schema import build_schema
from schema.root import Limits

log = logging.getLogger("certreissue")
READY_TIMEOUT_SECONDS = 2.0
SWEEP_INTERVAL_SECONDS = 15.0
SHUTDOWN_WAIT_SECONDS = 5.0  # for the background loops to stop once cancelled
NO_STORE = {"Cache-Control": "no-store"}
ANONYMOUS = Caller(account="", role=None)
CLIENT_CLOSED_REQUEST = 499  # logged (never sent) for a client that left before its answer
HTTP_ERROR_CODES = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}
# A client's X-Request-ID is echoed and logged only in this format; otherwise a new one.
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")


def _graphql_error(status: int, code: str, message: str, headers: dict | None = None, media: str = JSON) -> Response:
    return error_response(status, code, message, media, headers)


def database_is_unavailable(error: BaseException) -> bool:
    """Which exceptions mean the database did not answer (not a bug of ours)."""
    return isinstance(error, PyMongoError)


class CertReissueGraphQL(GraphQL):
    """Strawberry's ASGI view with the caller resolved into a typed context."""

    def __init__(
        self, services_ref: dict, tuning: Tuning = Tuning(), ide: GraphiQLAssets | None = None, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        self._services_ref = services_ref
        self._tuning = tuning
        self._ide = ide

    async def render_graphql_ide(self, request: Request) -> Response:  # noqa: D102
        return self._ide.page_response()  # certreissue/graphiql.py: served here, no CDN

    async def handle_request(self, request: Request) -> Response:  # noqa: D102
        try:
            return await self.run(request)
        except HTTPException as exc:  # Strawberry's refusals, in the same JSON shape as ours
            code = HTTP_ERROR_CODES.get(exc.status_code, "BAD_REQUEST")
            return _graphql_error(exc.status_code, code, exc.reason)

    async def get_context(self, request, response) -> Context:
        # The GraphiQL page is rendered without a caller; no operation runs without one.
        caller = request.scope.get("state", {}).get("caller") or ANONYMOUS
        return Context(services=self._services_ref["services"], caller=caller, tuning=self._tuning, response=response)


# A download URL's token wherever it appears in a path (sent to a wrong path, in any case, it
# is still a live secret).
_DOWNLOAD_TOKEN = re.compile(r"dl1_[A-Za-z0-9_\-]*", re.IGNORECASE)


def logged_path(path: str | None) -> str | None:
    """A download URL's token is a bearer secret: never logged, on any path."""
    if path and path.startswith("/downloads/"):
        return "/downloads/<token>"
    return _DOWNLOAD_TOKEN.sub("<token>", path) if path else path


class RequestIdMiddleware:
    """Gives each request an ID (the client's X-Request-ID when it is in SAFE_REQUEST_ID's
    format, else a new one), puts it in every log line written while it is served, returns
    it, and logs one line per request (no body): "client disconnected" for a client that
    left while its request was read."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        rid = incoming if SAFE_REQUEST_ID.fullmatch(incoming) else secrets.token_hex(8)
        token = logs.request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [(b"x-request-id", rid.encode())]
            await send(message)

        left = False
        try:
            await self.app(scope, receive, send_with_id)
        except ClientDisconnect:
            # The client left while its request was being read: nobody to answer, no fault
            # of ours; the request's line says so instead of a traceback.
            left = True
        finally:
            log.info(
                "client disconnected" if left else "request",
                extra={
                    "method": scope.get("method"),
                    "path": logged_path(scope.get("path")),
                    "status": CLIENT_CLOSED_REQUEST if left else status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
            logs.request_id.reset(token)


class EveryMethod:
    """A request/response endpoint as an ASGI app: Starlette routes every method to an app
    (a plain function endpoint gets GET alone, and others a 405 in plain text)."""

    def __init__(self, endpoint) -> None:
        self._app = request_response(endpoint)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


def _wants_graphiql(request: Request) -> bool:
    return (
        request.method == "GET"
        and "text/html" in request.headers.get("accept", "")
        and "query" not in request.query_params
    )


async def _read_limited_body(request: Request, limit: int, timeout: float, media: str = JSON) -> Response | None:
    """Reads the body (kept in Starlette's cache of it); or the refusal to answer
    instead: 413 past `limit` bytes, 408 when it has not all arrived within `timeout` s
    (a client dripping it may not hold the connection: it is closed after the answer)."""
    def too_large() -> Response:
        return _graphql_error(413, "PAYLOAD_TOO_LARGE", f"the request body is larger than {limit} bytes", media=media)

    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return too_large()
    body = bytearray()
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                body.extend(chunk)
                if len(body) > limit:
                    return too_large()
    except TimeoutError:
        log.info("request body not received within %g s (%d bytes arrived)", timeout, len(body))
        return _graphql_error(
            408,
            "REQUEST_TIMEOUT",
            f"the request body did not arrive within {timeout:g} s; send it at once",
            {"Connection": "close"},
            media,
        )
    request._body = bytes(body)  # noqa: SLF001 - Starlette's own cache of the body
    return None


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _is_valid_unicode(raw: bytes) -> bool:
    """JSON may escape a lone UTF-16 surrogate (\\ud800), which no string can hold; such a
    request is refused here rather than failing deep inside the driver."""
    if not _SURROGATE_ESCAPE.search(raw):
        return True
    try:
        json.dumps(json.loads(raw), ensure_ascii=False).encode("utf-8")
    except (ValueError, UnicodeError):
        return False
    return True


async def _sweep_forever(services: Services) -> None:
    """R24: expires overdue reissues and finishes what dead processes left half-done."""
    async def downloads() -> dict[str, int]:
        return {"downloads_purged": await services.downloads.purge()}

    async def rate_limits() -> dict[str, int]:
        await services.rate_limiter.purge_before(services.clock.now())
        return {}

    # Each part on its own: one that fails (a bad document) does not keep the others from running.
    parts = (("reissues", services.reissues.sweep), ("revocations", services.revocations.sweep),
             ("downloads", downloads), ("rate limits", rate_limits))
    while True:
        counts: dict[str, int] = {}
        for name, part in parts:
            try:
                counts |= await part()
            except PyMongoError:
                log.warning("sweep of %s skipped: database unavailable", name)
            except Exception:  # noqa: BLE001 - the sweeper must outlive one bad document
                log.exception("sweep of %s failed", name)
        if any(counts.values()):
            log.info("sweep: %s", counts)
        await asyncio.sleep(SWEEP_INTERVAL_SECONDS)


async def _webhooks_forever(services: Services) -> None:
    """Webhooks: relays committed changes from the outbox into deliveries, then posts what
    is due (unless CERTS_WEBHOOK_DELIVERY is off), every CERTS_WEBHOOK_POLL_SECONDS; the
    certificate.expiring sweep runs with the reissue sweep's rhythm, in one process at a time."""
    settings, webhooks = services.settings, services.webhooks
    last_expiry, every = 0.0, min(SWEEP_INTERVAL_SECONDS, settings.webhook_poll_seconds * 15)
    while True:
        try:
            await webhooks.relay()
            if settings.webhook_delivery:
                await webhooks.deliver_due()
            if time.monotonic() - last_expiry >= every:
                last_expiry = time.monotonic()
                await webhooks.expiry_sweep(timedelta(seconds=every))
                await webhooks.purge()
        except PyMongoError:
            log.warning("webhooks skipped: database unavailable")
        except Exception:  # noqa: BLE001 - like the sweeper, it must outlive one bad document
            log.exception("webhooks failed")
        await asyncio.sleep(settings.webhook_poll_seconds)


def create_app(settings: Settings, mongodb_uri: str, tuning: Tuning = Tuning(), *, sweep: bool = True) -> ASGIApp:
    """The ASGI app for one database URI (the embedded one is started by the CLI).
    `tuning` is for `make bench` only (each optimisation's before/after); `sweep=False`
    (tests only) leaves the sweep to whoever calls `ReissueService.sweep`."""
    services_ref: dict = {}
    ide = GraphiQLAssets.load(settings.graphiql_assets) if settings.graphiql else None
    web_console = ConsoleAssets.load(settings.console_assets)  # /console: certreissue/console.py
    graphql_app = CertReissueGraphQL(
        services_ref,
        tuning=tuning,
        ide=ide,
        schema=build_schema(
            introspection=settings.graphiql,
            limits=Limits(settings.max_query_depth, settings.max_aliases, settings.max_tokens),
            unavailable=database_is_unavailable,
            tuning=tuning,
        ),
        graphql_ide="graphiql" if settings.graphiql else None,
        allow_queries_via_get=True,
    )
    documents = Documents(
        apq=AutomaticPersistedQueries(settings.apq_max_documents, settings.apq_max_document_bytes)
        if settings.apq_max_documents > 0 else None,
        trusted=settings.trusted_documents,
        adhoc_roles=settings.adhoc_document_roles,
    )
    transport = GraphQLOverHTTP(graphql_app.schema, services_ref, documents, tuning)
    subscriptions = SubscriptionsView(graphql_app.schema, services_ref, documents, settings, tuning)

    async def graphql_endpoint(request: Request) -> Response:
        if settings.graphiql and _wants_graphiql(request):
            return await graphql_app.handle_request(request)  # the IDE page needs no token
        media = negotiate(request.headers.get("accept"))
        if request.method not in ("GET", "POST"):
            return _graphql_error(
                405, "METHOD_NOT_ALLOWED", "/graphql takes GET (queries) and POST", {"Allow": "GET, POST"}, media or JSON
            )
        if media is None:
            return _graphql_error(
                406, "NOT_ACCEPTABLE",
                "the Accept header allows no type this API answers in: accept application/graphql-response+json "
                "or application/json",
            )
        if request.method == "POST":
            try:
                check_content_type(request.headers.get("content-type"))
            except UnsupportedMediaType as exc:
                return _graphql_error(415, "UNSUPPORTED_MEDIA_TYPE", str(exc), media=media)
            refusal = await _read_limited_body(request, settings.max_body_bytes, settings.body_timeout_seconds, media)
            if refusal is not None:
                return refusal
        raw = request._body if request.method == "POST" else unquote_to_bytes(request.url.query)  # noqa: SLF001
        try:
            params = read_post(raw) if request.method == "POST" else read_get(request.scope.get("query_string", b""))
        except BadRequest as exc:
            return _graphql_error(400, "BAD_REQUEST", str(exc), media=media)
        if not _is_valid_unicode(raw):
            return _graphql_error(
                400, "BAD_REQUEST", "the request holds text that is not valid Unicode (a lone surrogate)", media=media
            )
        services: Services = services_ref["services"]
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _graphql_error(
                401,
                "UNAUTHENTICATED",
                "missing API token: send the header `Authorization: Bearer <token>` "
                "(create one with `certreissue token create`)",
                {"WWW-Authenticate": "Bearer"},
                media,
            )
        try:
            caller = await services.tokens.authenticate(token.strip(), services.clock.now())
        except PyMongoError:
            log.warning("database unavailable while authenticating")
            return _graphql_error(503, "DATABASE_UNAVAILABLE", "the database is unavailable; try again shortly", media=media)
        if caller is None:
            return _graphql_error(
                401, "UNAUTHENTICATED", "invalid API token", {"WWW-Authenticate": 'Bearer error="invalid_token"'}, media
            )
        request.scope.setdefault("state", {})["caller"] = caller
        try:
            return await asyncio.wait_for(
                transport.respond(params, caller, media, base_url=settings.public_url or str(request.base_url).rstrip("/")),
                settings.execution_timeout_seconds,
            )
        except TimeoutError:
            log.warning("operation timed out after %.1f s", settings.execution_timeout_seconds)
            return _graphql_error(
                504,
                "TIMEOUT",
                f"the operation took longer than {settings.execution_timeout_seconds:g} s and was stopped; "
                "a mutation may have been applied: read the object again before retrying",
                media=media,
            )

    async def download(request: Request) -> Response:
        """A one-time URL from createDownload: the zip once, then 410 (404 for no such URL)."""
        if request.method != "GET":  # a HEAD (a link checker) must not use the URL up
            return PlainTextResponse("GET this URL once\n", status_code=405, headers={**NO_STORE, "Allow": "GET"})
        services: Services = services_ref["services"]
        try:
            bundle = await services.downloads.fetch(request.path_params["token"])
        except DownloadNotFound:
            return PlainTextResponse("no such download\n", status_code=404, headers=NO_STORE)
        except DownloadGone:
            return PlainTextResponse(
                "this download URL was used or has expired: create another with createDownload\n",
                status_code=410, headers=NO_STORE,
            )
        except PyMongoError:
            log.warning("database unavailable while serving a download")
            return PlainTextResponse("the database is unavailable; try again shortly\n", status_code=503)
        return Response(
            bundle.content,
            media_type="application/zip",
            headers={**NO_STORE, "Content-Disposition": f'attachment; filename="{bundle.file_name}"'},
        )

    async def crl_index(request: Request) -> Response:
        """The built-in CA signs under one intermediate per brand, so it has one CRL each."""
        lines = [f"/ca/crl/{brand.value.lower()}" for brand in Brand]
        return PlainTextResponse("\n".join(lines) + "\n")

    async def crl(request: Request) -> Response:
        services: Services = services_ref["services"]
        try:
            brand = Brand(request.path_params["issuer"].upper())
        except ValueError:
            return PlainTextResponse("no such issuer; GET /ca/crl lists them\n", status_code=404)
        try:
            der = await services.authority.crl(brand, services.clock.now())
        except PyMongoError:
            return PlainTextResponse("the database is unavailable; try again shortly\n", status_code=503)
        return Response(der, media_type="application/pkix-crl", headers={"Cache-Control": "max-age=300"})

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(request: Request) -> Response:
        services: Services = services_ref["services"]
        try:
            ok = await asyncio.wait_for(services.database.ping(), READY_TIMEOUT_SECONDS)
        except TimeoutError:
            ok = False
        if ok:
            return PlainTextResponse("ready")
        return PlainTextResponse("database unavailable", status_code=503)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        services = build_services(settings, mongodb_uri)
        services_ref["services"] = services
        try:
            await services.start()
        except PyMongoError:
            await services.close()
            raise
        await services.changes.start()  # subscriptions' change stream (or polling), one per process
        hooks = asyncio.create_task(_webhooks_forever(services))
        sweeper = asyncio.create_task(_sweep_forever(services) if sweep else asyncio.sleep(0))
        try:
            yield
        finally:
            # Cancelled, and waited for a bounded time: a shutdown never hangs on them.
            for task in (sweeper, hooks):
                task.cancel()
            await asyncio.wait((sweeper, hooks), timeout=SHUTDOWN_WAIT_SECONDS)
            await services.close()

    app = Starlette(
        routes=[
            Route("/graphql", EveryMethod(graphql_endpoint)),  # a method it does not take gets 405 in JSON
            WebSocketRoute("/graphql", subscriptions),  # subscriptions: certreissue/graphql_ws.py
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/downloads/{token}", download, methods=["GET"]),
            Route("/ca/crl", crl_index, methods=["GET"]),
            Route("/ca/crl/{issuer}", crl, methods=["GET"]),
            *(ide.routes() if ide else []),
            *web_console.routes(),
        ],
        lifespan=lifespan,
    )
    return SecurityHeadersMiddleware(RequestIdMiddleware(ApiCORSMiddleware(app, settings.cors_origins)))
