"""Security headers on every answer of the app, in one middleware.

Every answer: `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`,
`X-Frame-Options: DENY`, `Cache-Control: no-store` (API answers carry tokens' results and
private keys; nothing may keep them) and a Content-Security-Policy with
`frame-ancestors 'none'`. JSON and text answers get a policy that allows nothing else.

An HTML answer (the GraphiQL page, certreissue/graphiql.py) gets a policy that lets it
work as it is served and no more: scripts from this origin only (GraphiQL's files are
served by the service itself) and its inline scripts by the SHA-256 of each one, computed
here from the very bytes being sent (so a change of the page cannot silently break or
widen it); no eval of any kind; Monaco's web workers from this origin; styles from this
origin and inline (Monaco sets styles on its elements), fonts from this origin or data:
URLs, and requests to this origin only.
"""

from __future__ import annotations

import base64
import hashlib
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

COMMON_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
)
API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

_INLINE_SCRIPT = re.compile(rb"<script\b(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script\s*>", re.DOTALL | re.IGNORECASE)


def inline_script_hashes(html: bytes) -> list[str]:
    """CSP sources for each inline `<script>` of the page, as a browser hashes it (the
    UTF-8 of its text, line breaks normalised as the HTML parser does)."""
    hashes = []
    for match in _INLINE_SCRIPT.finditer(html):
        text = match.group(1).replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        digest = base64.b64encode(hashlib.sha256(text).digest()).decode()
        source = f"'sha256-{digest}'"
        if source not in hashes:
            hashes.append(source)
    return hashes


def page_policy(html: bytes) -> str:
    scripts = " ".join(["'self'", *inline_script_hashes(html)])
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src {scripts}",
            "worker-src 'self'",
            "style-src 'self' 'unsafe-inline'",
            "font-src 'self' data:",
            "img-src 'self' data:",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


def _with_security_headers(headers: list[tuple[bytes, bytes]], policy: str) -> list[tuple[bytes, bytes]]:
    """The answer's own headers win: ours are added only where it set none."""
    present = {name.lower() for name, _ in headers}
    added = [(name, value) for name, value in COMMON_HEADERS if name not in present]
    if b"content-security-policy" not in present:
        added.append((b"content-security-policy", policy.encode()))
    return headers + added


def _is_html(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(name.lower() == b"content-type" and value.lower().startswith(b"text/html") for name, value in headers)


class SecurityHeadersMiddleware:
    """Adds the headers above to every HTTP answer of the wrapped app. An HTML answer is
    held until its body is complete, to hash its inline scripts (the only HTML served is
    the GraphiQL page, about 1 KB)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: Message | None = None
        page = bytearray()

        async def send_with_headers(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                if _is_html(headers):
                    held = message
                    return
                await send({**message, "headers": _with_security_headers(headers, API_POLICY)})
                return
            if held is not None and message["type"] == "http.response.body":
                page.extend(message.get("body", b""))
                if message.get("more_body", False):
                    return
                headers = _with_security_headers(list(held.get("headers") or []), page_policy(bytes(page)))
                start, held = {**held, "headers": headers}, None
                await send(start)
                await send({"type": "http.response.body", "body": bytes(page), "more_body": False})
                return
            await send(message)

        await self.app(scope, receive, send_with_headers)
