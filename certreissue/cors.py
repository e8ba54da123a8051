"""Cross-origin calls from browser apps (CORS), set by CERTS_CORS_ORIGINS.

The setting lists the exact origins (`scheme://host[:port]`, as a browser sends them in
`Origin`) whose pages may call the API; empty, the default, allows none: the API is then
same-origin only, as before. `*` alone allows any origin.

Credentials are never allowed (no `Access-Control-Allow-Credentials`), so `*` never meets
them: the API authenticates with a bearer token that the calling page sets itself in
`Authorization`; it reads no cookie, so a browser sends nothing on a user's behalf that a
foreign page could borrow. That is also why `*` is accepted, meaning "any origin, without
credentials" (answered `Access-Control-Allow-Origin: *`): a page on any origin can only
use a token it was given. It cannot be combined with other origins.

The middleware is Starlette's CORSMiddleware, with three changes:
- a refused preflight (unknown or missing origin, a method or header not allowed) is
  answered 403 in the API's JSON error shape, with no `Access-Control-*` header at all
  (Starlette's 400 would still list the allowed methods and headers);
- an answer to an origin that is not allowed carries no `Access-Control-*` header either
  (Starlette's would carry `Access-Control-Expose-Headers`), only `Vary: Origin`;
- an OPTIONS request with `Access-Control-Request-Method` but no `Origin` is a refused
  preflight, not a 405 from the route.
An allowed origin may also call the API on a private network from a public one (Chrome's
Private Network Access preflight): listing it is the operator's consent.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ANY_ORIGIN = "*"
ALLOWED_METHODS = ("GET", "POST")
ALLOWED_HEADERS = ("Authorization", "Content-Type", "X-Request-ID")
EXPOSED_HEADERS = ("X-Request-ID", "Retry-After")
PREFLIGHT_MAX_AGE_SECONDS = 600
_DEFAULT_PORTS = {"http": 80, "https": 443}


def parse_cors_origins(text: str | None) -> tuple[str, ...]:
    """CERTS_CORS_ORIGINS (comma-separated) as a tuple of origins; ValueError naming the
    variable and the entry at fault when one is not an exact origin."""
    entries = tuple(part.strip() for part in (text or "").split(",") if part.strip())
    try:
        return check_origins(entries)
    except ValueError as exc:
        raise ValueError(f"CERTS_CORS_ORIGINS: {exc}") from None


def check_origins(origins: Iterable[str]) -> tuple[str, ...]:
    origins = tuple(origins)
    if ANY_ORIGIN in origins:
        if len(origins) > 1:
            raise ValueError("`*` (any origin) cannot be combined with other origins; list origins or set `*` alone")
        return origins
    for origin in origins:
        _check_origin(origin)
    return tuple(dict.fromkeys(origins))


def _check_origin(origin: str) -> None:
    example = "write each as a browser sends it in `Origin`: scheme://host[:port], e.g. https://app.example.com"
    if "*" in origin:
        raise ValueError(f"{origin!r}: no wildcards in an origin (only `*` alone, for any origin); {example}")
    if not origin.isascii():
        raise ValueError(f"{origin!r} is not ASCII: write an international name in its xn-- form; {example}")
    parts = urlsplit(origin)
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{origin!r} has an invalid port; {example}") from None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"{origin!r} is not an http or https origin; {example}")
    if parts.username is not None or parts.path or parts.query or parts.fragment or origin.endswith(("?", "#")):
        raise ValueError(f"{origin!r} is not an origin (it has a path, query or user); {example}")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    canonical = f"{parts.scheme}://{host}" + ("" if port in (None, _DEFAULT_PORTS[parts.scheme]) else f":{port}")
    if origin != canonical:
        raise ValueError(f"{origin!r} is not written as browsers send it: {canonical!r}")


def _refusal(message: str) -> JSONResponse:
    return JSONResponse(
        {"data": None, "errors": [{"message": message, "extensions": {"code": "CORS_REFUSED"}}]},
        status_code=403,
        headers={"Vary": "Origin"},
    )


class ApiCORSMiddleware(CORSMiddleware):
    """Starlette's CORSMiddleware for the origins of CERTS_CORS_ORIGINS (see above)."""

    def __init__(self, app: ASGIApp, origins: Iterable[str] = ()) -> None:
        super().__init__(
            app,
            allow_origins=check_origins(origins),
            allow_methods=ALLOWED_METHODS,
            allow_headers=ALLOWED_HEADERS,
            allow_credentials=False,
            # Chrome asks before a page on a public address calls one on a private network;
            # listing the origin is the operator's consent to that too.
            allow_private_network=True,
            expose_headers=EXPOSED_HEADERS,
            max_age=PREFLIGHT_MAX_AGE_SECONDS,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "OPTIONS":
            headers = Headers(scope=scope)
            if "access-control-request-method" in headers and "origin" not in headers:
                await _refusal("a CORS preflight must say its Origin")(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    def preflight_response(self, request_headers: Headers) -> Response:  # noqa: D102
        origin = request_headers["origin"]
        method = request_headers["access-control-request-method"]
        asked = [h.strip().lower() for h in request_headers.get("access-control-request-headers", "").split(",")]
        if not self.is_allowed_origin(origin):
            return _refusal("this origin may not call the API from a browser (see CERTS_CORS_ORIGINS)")
        if method not in self.allow_methods:
            return _refusal(f"a cross-origin request may only be {' or '.join(ALLOWED_METHODS)}")
        refused = [h for h in asked if h and h not in self.allow_headers]
        if refused:
            return _refusal(
                f"a cross-origin request may send only the headers {', '.join(ALLOWED_HEADERS)} "
                f"(and the CORS-safelisted ones), not {', '.join(refused)[:200]}"
            )
        return super().preflight_response(request_headers)

    async def send(self, message: Message, send: Send, request_headers: Headers) -> None:  # noqa: D102
        origin = request_headers.get("origin")
        if message["type"] == "http.response.start" and (origin is None or not self.is_allowed_origin(origin)):
            if not self.allow_all_origins:  # the answer depends on Origin: caches must know
                message.setdefault("headers", [])
                MutableHeaders(scope=message).add_vary_header("Origin")
            await send(message)
            return
        await super().send(message, send, request_headers)
