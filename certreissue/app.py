"""The HTTP application: Starlette with /graphql (Strawberry), /healthz and /readyz.

Every /graphql request but the GraphiQL page itself must carry `Authorization: Bearer
<token>`; a missing or unknown token is refused here, before any resolver runs (R26).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from pymongo.errors import PyMongoError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from strawberry.asgi import GraphQL
from cross_web import HTTPException

from certreissue.bootstrap import Services, build_services
from certreissue.settings import Settings
from domain.model import Caller
from resolvers.context import Context
from schema import build_schema

log = logging.getLogger("certreissue")
READY_TIMEOUT_SECONDS = 2.0
ANONYMOUS = Caller(account="", roles=frozenset())


def _graphql_error(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(
        {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]},
        status_code=status,
        headers=headers,
    )


class CertReissueGraphQL(GraphQL):
    """Strawberry's ASGI view with the caller resolved into a typed context."""

    def __init__(self, services_ref: dict, **kwargs) -> None:
        super().__init__(**kwargs)
        self._services_ref = services_ref

    async def handle_request(self, request: Request) -> Response:
        try:
            return await self.run(request)
        except HTTPException as exc:
            return PlainTextResponse(exc.reason, status_code=exc.status_code)

    async def get_context(self, request, response) -> Context:
        # The GraphiQL page is rendered without a caller; no operation runs without one.
        caller = request.scope.get("state", {}).get("caller") or ANONYMOUS
        return Context(services=self._services_ref["services"], caller=caller)


def _wants_graphiql(request: Request) -> bool:
    return (
        request.method == "GET"
        and "text/html" in request.headers.get("accept", "")
        and "query" not in request.query_params
    )


SWEEP_INTERVAL_SECONDS = 15.0


async def _sweep_forever(services: Services) -> None:
    """R24: expires overdue reissues and finishes what dead processes left half-done."""
    while True:
        try:
            counts = await services.reissues.sweep()
            if any(counts.values()):
                log.info("sweep: %s", counts)
        except PyMongoError:
            log.warning("sweep skipped: database unavailable")
        except Exception:  # noqa: BLE001 - the sweeper must outlive one bad document
            log.exception("sweep failed")
        await asyncio.sleep(SWEEP_INTERVAL_SECONDS)


def create_app(settings: Settings, mongodb_uri: str) -> Starlette:
    """The ASGI app for one database URI (the embedded one is started by the CLI)."""
    services_ref: dict = {}
    graphql_app = CertReissueGraphQL(
        services_ref,
        schema=build_schema(introspection=settings.graphiql),
        graphql_ide="graphiql" if settings.graphiql else None,
        allow_queries_via_get=True,
    )

    async def graphql_endpoint(request: Request) -> Response:
        if settings.graphiql and _wants_graphiql(request):
            return await graphql_app.handle_request(request)  # the IDE page needs no token
        services: Services = services_ref["services"]
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _graphql_error(
                401,
                "UNAUTHENTICATED",
                "missing API token: send the header `Authorization: Bearer <token>` "
                "(create one with `certreissue token create`)",
                {"WWW-Authenticate": "Bearer"},
            )
        try:
            caller = await services.tokens.authenticate(token.strip())
        except PyMongoError:
            log.warning("database unavailable while authenticating")
            return _graphql_error(503, "DATABASE_UNAVAILABLE", "the database is unavailable; try again shortly")
        if caller is None:
            return _graphql_error(
                401, "UNAUTHENTICATED", "invalid API token", {"WWW-Authenticate": 'Bearer error="invalid_token"'}
            )
        request.scope.setdefault("state", {})["caller"] = caller
        return await graphql_app.handle_request(request)

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
        sweeper = asyncio.create_task(_sweep_forever(services))
        try:
            yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            await services.close()

    return Starlette(
        routes=[
            Route("/graphql", graphql_endpoint, methods=["GET", "POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
