"""The bench-only ASGI app: the service's own app (certreissue.app.create_app, untouched)
plus bare Starlette "floor" routes in the same process.

Each floor route does the same PyMongo reads as its GraphQL scenario (same queries, same
collections, a client with the service's own options: adapters.mongo.Database) and
answers the same JSON, built by hand from the documents; where the answer depends on the
reissue rules it calls the pure functions of domain.rules, as any hand-written endpoint
of this service would. The reissue cycle's floor calls the domain services directly.
No DataLoader, no schema, no resolvers: what is left between the two is the GraphQL layer.

Both the floor and /graphql pass through the service's RequestIdMiddleware, so the
per-request ID and log line cost the same on both sides.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from pymongo.errors import PyMongoError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from adapters.mongo import certificate_from_doc
from adapters.mongo_reissues import ACTIVE, reissue_from_doc
from certreissue.app import RequestIdMiddleware, create_app
from certreissue.bootstrap import Services, build_services
from certreissue.settings import Settings
from domain import rules
from domain.errors import DomainError, ErrorCode, InvalidInput
from domain.model import Caller, ValidationMethod
from domain.pagination import encode_cursor
from domain.reissues import CsrSource
from domain.times import format_time
from resolvers.context import Tuning

log = logging.getLogger("certreissue.bench")


def _iso(value: datetime | None) -> str | None:
    return format_time(value) if value is not None else None  # the DateTime scalar's format


def _error(e: DomainError) -> dict:
    return {"code": e.code.value, "message": e.message, "field": e.field}


def _error_no_field(e: DomainError) -> dict:
    return {"code": e.code.value, "message": e.message}


def _unauthorized() -> JSONResponse:
    return JSONResponse(
        {"data": None, "errors": [{"message": "invalid API token", "extensions": {"code": "UNAUTHENTICATED"}}]},
        status_code=401,
    )


class Floor:
    """The hand-written endpoints."""

    def __init__(self, services: Services) -> None:
        self.services = services
        db = services.database
        self.certificates = db.certificates
        self.reissues = db.db.reissues
        self.verifications = db.db.domain_verifications

    @staticmethod
    async def _by_ids(collection, account: str, ids: list[str]) -> list[dict]:
        """The same reads as the adapters' get / get_many: one ID is looked up by `_id` alone
        (the only filter FerretDB's SQLite backend pushes down) and its account checked
        here; several IDs with `$in` and the account."""
        unique = list(set(ids))
        if len(unique) == 1:
            doc = await collection.find_one({"_id": unique[0]})
            return [doc] if doc is not None and doc["account"] == account else []
        return await collection.find({"_id": {"$in": unique}, "account": account}).to_list()

    async def _caller(self, request: Request) -> Caller | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        return await self.services.tokens.authenticate(token.strip(), self.services.clock.now())  # one find_one by _id

    async def _domain_actives(self, account: str, primaries: set[str], now: datetime) -> dict[str, list[dict]]:
        """Same read as MongoReissueRepository.active_in_domains: the account's active
        reissues under these primary domains, in one query (overdue ones left out: the
        service expires them on access)."""
        docs = await self.reissues.find(
            {"account": account, "primaryDomain": {"$in": sorted(primaries)}, "status": {"$in": ACTIVE}}
        ).to_list()
        by_domain: dict[str, list[dict]] = {}
        for d in docs:
            if d["expiresAt"] > now:
                by_domain.setdefault(d["primaryDomain"], []).append(d)
        for found in by_domain.values():
            found.sort(key=lambda d: d["createdAt"])
        return by_domain

    @staticmethod
    def _own_and_holder(actives: list[dict], certificate_id: str) -> tuple[dict | None, rules.LockHolder | None]:
        """Same choice as ReissueService.eligibility_many: this certificate's reissue, and
        the oldest other one under the domain as the lock holder."""
        own = next((d for d in actives if d["certificateId"] == certificate_id), None)
        other = next((d for d in actives if d["certificateId"] != certificate_id), None)
        holder = rules.LockHolder(other["_id"], other["certificateId"], other["domain"]) if other else None
        return own, holder

    @staticmethod
    def _status(doc: dict, now: datetime, active: bool) -> str:
        status = doc["status"]
        if status == "ISSUED":
            if doc["notAfter"] <= now:
                return "EXPIRED"
            if active:
                return "REISSUING"
        return status

    # -- certificate(id) ---------------------------------------------------------------

    async def certificate(self, request: Request) -> Response:
        caller = await self._caller(request)
        if caller is None:
            return _unauthorized()
        cid = json.loads(await request.body())["id"]
        docs = await self._by_ids(self.certificates, caller.account, [cid])
        if not docs:
            return JSONResponse({"data": {"certificate": None}})
        d = docs[0]
        now = datetime.now(UTC)
        active = False
        if d["status"] == "ISSUED" and d["notAfter"] > now:
            actives = await self._domain_actives(caller.account, {d["primaryDomain"]}, now)
            active = self._own_and_holder(actives.get(d["primaryDomain"], []), cid)[0] is not None
        current = d["versions"][0]
        return JSONResponse(
            {
                "data": {
                    "certificate": {
                        "id": d["_id"],
                        "domain": d["domain"],
                        "subjectAltNames": list(d.get("subjectAltNames") or ()),
                        "primaryDomain": d["primaryDomain"],
                        "brand": d["brand"],
                        "validationLevel": d["validationLevel"],
                        "isFree": bool(d["isFree"]),
                        "status": self._status(d, now, active),
                        "serialNumber": current["serialNumber"],
                        "notAfter": _iso(current["notAfter"]),
                        "keyAlgorithm": current["keyAlgorithm"],
                        "reissueCount": int(d.get("reissueCount") or 0),
                    }
                }
            }
        )

    # -- certificates(first: 50) with activeReissue and reissueEligibility ---------------

    async def certificates_page(self, request: Request) -> Response:
        caller = await self._caller(request)
        if caller is None:
            return _unauthorized()
        first = min(int(json.loads(await request.body()).get("first", 20)), 100)
        account = caller.account
        total = await self.certificates.count_documents({"account": account})
        docs = await self.certificates.find({"account": account}).sort("_id", -1).limit(first + 1).to_list()
        page = docs[:first]
        now = datetime.now(UTC)
        actives = await self._domain_actives(account, {d["primaryDomain"] for d in page}, now) if page else {}
        edges = []
        for d in page:
            a, holder = self._own_and_holder(actives.get(d["primaryDomain"], []), d["_id"])
            certificate = certificate_from_doc(d)
            errors = rules.eligibility_errors(
                certificate,
                now,
                active_reissue=reissue_from_doc(a) if a else None,
                domain_lock_holder=holder,
            )
            edges.append(
                {
                    "cursor": encode_cursor(d["_id"]),
                    "node": {
                        "id": d["_id"],
                        "domain": d["domain"],
                        "status": self._status(d, now, a is not None),
                        "activeReissue": (
                            {"id": a["_id"], "status": a["status"], "events": [{"to": e["to"]} for e in a["events"]]}
                            if a
                            else None
                        ),
                        "reissueEligibility": {
                            "eligible": not errors,
                            "flow": rules.flow_for(certificate).value,
                            "reasons": [_error_no_field(e) for e in errors],
                        },
                    },
                }
            )
        return JSONResponse(
            {
                "data": {
                    "certificates": {
                        "totalCount": total,
                        "edges": edges,
                        "pageInfo": {
                            "hasNextPage": len(docs) > first,
                            "endCursor": edges[-1]["cursor"] if edges else None,
                        },
                    }
                }
            }
        )

    # -- previewReissue ----------------------------------------------------------------

    async def preview(self, request: Request) -> Response:
        caller = await self._caller(request)
        if caller is None:
            return _unauthorized()
        body = json.loads(await request.body())
        cid = body["certificateId"]
        account = caller.account
        found = await self._by_ids(self.certificates, account, [cid])
        doc = found[0] if found else None
        if doc is None:
            error = {"code": ErrorCode.NOT_FOUND.value, "message": f"no certificate {cid!r}", "field": ["input", "certificateId"]}
            return JSONResponse({"data": {"previewReissue": {
                "eligibility": {"eligible": False, "flow": "PAID_DV", "reasons": [error]},
                "userErrors": [error], "domainValidationRequired": False, "manualReviewRequired": False, "waivers": [],
            }}})
        certificate = certificate_from_doc(doc)
        now = datetime.now(UTC)
        actives = await self._domain_actives(account, {certificate.primary_domain}, now)
        a, holder = self._own_and_holder(actives.get(certificate.primary_domain, []), cid)
        eligibility_errors = rules.eligibility_errors(
            certificate,
            now,
            active_reissue=reissue_from_doc(a) if a else None,
            domain_lock_holder=holder,
        )
        eligibility = {
            "eligible": not eligibility_errors,
            "flow": rules.flow_for(certificate).value,
            "reasons": [_error(e) for e in eligibility_errors],
        }
        request_ = rules.ReissueRequest(
            certificate_id=cid, csr_source=CsrSource(body.get("csrSource", "ORIGINAL")), reason=body.get("reason")
        )
        try:
            checked = rules.check_request(certificate, request_)
            method = checked.validation_method
            if method in (ValidationMethod.FILE, ValidationMethod.FILE_AUTO) and checked.domain.startswith("*."):
                raise InvalidInput("a wildcard domain cannot be validated by file: use DNS",
                                   code=ErrorCode.OPTION_NOT_ALLOWED, field=["input", "validationMethod"])
            key = f"{account}\x00{checked.domain}\x00{certificate.organization_name or ''}"  # MongoVerificationLog._id
            verified = await self.verifications.find_one({"_id": key})
            steps = rules.required_steps(
                certificate, checked, now, same_csr=checked.csr_source == CsrSource.ORIGINAL,
                last_verified_at=verified["verifiedAt"] if verified else None,
            )
        except DomainError as e:
            payload = {"eligibility": eligibility, "userErrors": [_error(e)], "domainValidationRequired": False,
                       "manualReviewRequired": False, "waivers": []}
        else:
            payload = {
                "eligibility": eligibility,
                "userErrors": [],
                "domainValidationRequired": steps.domain_validation_required,
                "manualReviewRequired": steps.manual_review_required,
                "waivers": [w.value for w in steps.waivers],
            }
        return JSONResponse({"data": {"previewReissue": payload}})

    # -- requestReissue + cancelReissue: the domain services, without GraphQL -------------

    async def request_reissue(self, request: Request) -> Response:
        caller = await self._caller(request)
        if caller is None:
            return _unauthorized()
        body = json.loads(await request.body())
        try:
            result = await self.services.reissues.request(
                caller, rules.ReissueRequest(certificate_id=body["certificateId"], reason=body.get("reason"))
            )
            payload = {"reissue": {"id": result.reissue.id, "status": result.reissue.status.value}, "userErrors": []}
        except DomainError as e:
            payload = {"reissue": None, "userErrors": [_error(e)]}
        return JSONResponse({"data": {"requestReissue": payload}})

    async def cancel_reissue(self, request: Request) -> Response:
        caller = await self._caller(request)
        if caller is None:
            return _unauthorized()
        body = json.loads(await request.body())
        try:
            r = await self.services.reissues.cancel(caller, body["id"])
            payload = {"reissue": {"id": r.id, "status": r.status.value}, "userErrors": []}
        except DomainError as e:
            payload = {"reissue": None, "userErrors": [_error(e)]}
        return JSONResponse({"data": {"cancelReissue": payload}})


@contextlib.asynccontextmanager
async def run_lifespan(app: ASGIApp) -> AsyncIterator[None]:
    """Runs another ASGI app's lifespan (startup ... shutdown) through the protocol itself."""
    inbox: asyncio.Queue = asyncio.Queue()
    loop = asyncio.get_running_loop()
    started, stopped = loop.create_future(), loop.create_future()

    async def receive():
        return await inbox.get()

    async def send(message):
        kind = message["type"]
        if kind == "lifespan.startup.complete":
            started.set_result(None)
        elif kind == "lifespan.startup.failed":
            started.set_exception(RuntimeError(message.get("message") or "startup failed"))
        elif kind == "lifespan.shutdown.complete":
            stopped.set_result(None)
        elif kind == "lifespan.shutdown.failed":
            stopped.set_exception(RuntimeError(message.get("message") or "shutdown failed"))

    task = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send))
    await inbox.put({"type": "lifespan.startup"})
    await started
    try:
        yield
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await stopped
        await task


def create_bench_app(settings: Settings, mongodb_uri: str, tuning: Tuning = Tuning()) -> ASGIApp:
    """The service's app, untouched, with the floor routes under /floor/ (`tuning` turns one
    of the GraphQL layer's optimisations off for the before/after section)."""
    service = create_app(settings, mongodb_uri, tuning=tuning)
    holder: dict = {}

    def floor_route(name: str):
        async def endpoint(request: Request) -> Response:
            try:
                return await getattr(holder["floor"], name)(request)
            except Exception as error:  # noqa: BLE001 - answered like the GraphQL side's masked errors
                log.warning("floor %s failed: %s", name, error)
                unavailable = isinstance(error, PyMongoError)
                return JSONResponse(
                    {
                        "data": None,
                        "errors": [
                            {
                                "message": "the database is unavailable; try again shortly" if unavailable else "Internal error.",
                                "extensions": {"code": "DATABASE_UNAVAILABLE" if unavailable else "INTERNAL_ERROR"},
                            }
                        ],
                    }
                )

        return endpoint

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with run_lifespan(service):
            services = build_services(settings, mongodb_uri)
            holder["floor"] = Floor(services)
            try:
                yield
            finally:
                await services.close()

    floor = Starlette(
        routes=[
            Route("/floor/certificate", floor_route("certificate"), methods=["POST"]),
            Route("/floor/certificates", floor_route("certificates_page"), methods=["POST"]),
            Route("/floor/preview", floor_route("preview"), methods=["POST"]),
            Route("/floor/request", floor_route("request_reissue"), methods=["POST"]),
            Route("/floor/cancel", floor_route("cancel_reissue"), methods=["POST"]),
        ],
        lifespan=lifespan,
    )
    floor_with_ids = RequestIdMiddleware(floor)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await floor(scope, receive, send)
        elif scope.get("path", "").startswith("/floor/"):
            await floor_with_ids(scope, receive, send)
        else:
            await service(scope, receive, send)

    return app
