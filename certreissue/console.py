"""The web console, served by this service at /console from its build: no CDN, nothing
fetched from another origin at run time.

`make install` builds console/ (React, urql with Graphcache, typed by graphql-codegen from
schema.graphql; Vite) into console/dist/: index.html, assets/<name>-<hash>.{js,css,svg}
with a gzipped copy of each, and console-build.json naming them. This module serves:

- `/console/assets/<name>`: exactly the files console-build.json names, with their types,
  a year of browser caching (each name carries a hash of its content; a new build has new
  names), and the gzipped copy to a browser that takes gzip;
- every other path under `/console` that looks like one of the console's routes (no dot
  in its last segment): index.html, which the console's router reads (the SPA fallback),
  revalidated on every visit (`Cache-Control: no-cache`). A path that names a file the
  build does not have (`/console/favicon.ico`, a stale asset) is 404, never the page.

A new build written while the service runs is served from the next request on (the build
is read again when console-build.json changes), so `make install` needs no restart.

The page's Content-Security-Policy allows what the console does and no more: its script
and stylesheet from this origin, no inline script or style, no eval, connections to this
origin by fetch (POST /graphql) and by WebSocket (`ws:`/`wss:` to the same host, for the
live-status subscriptions), no frames, no forms posted anywhere, no plugins, and Trusted
Types required for every DOM sink that could run markup as script, with no policy allowed
(the console never builds HTML from strings).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from html import escape
from pathlib import Path, PurePosixPath

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from certreissue.graphiql import CONTENT_TYPES, IMMUTABLE, _accepts_gzip

log = logging.getLogger("certreissue")

PREFIX = "/console"
DEFAULT_ASSETS_DIR = Path(__file__).resolve().parents[1] / "console" / "dist"
TYPES = {**CONTENT_TYPES, ".svg": "image/svg+xml", ".json": "application/json"}
# A Host header as browsers send it: a name or an IPv4 address, or an IPv6 address in
# brackets, with an optional port. Anything else is left out of the policy.
_HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")

_NOT_BUILT = """<!doctype html>
<html lang="en">
  <head><meta charset="utf-8"><title>certreissue &middot; console not built</title></head>
  <body>
    <main>
      <h1>The web console is not built</h1>
      <p>{problem}</p>
      <p>Run <code>make install</code> (it needs Node.js 20.19 or later and npm: it runs
      <code>npm ci</code> and the build in <code>console/</code>), then restart the service;
      or point <code>CERTS_CONSOLE_ASSETS</code> at such a build. The API itself works
      without it: <code>POST /graphql</code> with <code>Authorization: Bearer &lt;token&gt;</code>.</p>
    </main>
  </body>
</html>
"""


def console_policy(host: str | None) -> str:
    """The page's CSP; `host` is the request's Host header, trusted only in its own shape."""
    sockets = f" ws://{host} wss://{host}" if host and _HOST.fullmatch(host) else ""
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self'",
            f"connect-src 'self'{sockets}",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
            "object-src 'none'",
            "require-trusted-types-for 'script'",
            "trusted-types 'none'",
        ]
    )


@dataclass(frozen=True)
class ConsoleAssets:
    """A build of console/ (its console-build.json), or why there is none (`problem`)."""

    folder: Path
    files: frozenset[str] = field(default_factory=frozenset)  # under assets/
    gzipped: frozenset[str] = field(default_factory=frozenset)
    problem: str = ""

    @classmethod
    def load(cls, folder: Path | None = None) -> ConsoleAssets:
        folder = DEFAULT_ASSETS_DIR if folder is None else folder
        build_path = folder / "console-build.json"
        try:
            build = json.loads(build_path.read_text())
            files = frozenset(build["assets"])
            named = [*build["scripts"], *build["styles"]]
            missing = sorted(n for n in files if not (folder / "assets" / n).is_file())
            if not (folder / "index.html").is_file():
                missing.insert(0, "index.html")
            if missing or not build["scripts"] or any(n not in files for n in named):
                raise ValueError(f"files it names are missing: {', '.join(missing) or ', '.join(named)}")
            if any(PurePosixPath(n).name != n or n.startswith(".") for n in files):
                raise ValueError("an asset name is not a plain file name")
        except FileNotFoundError:
            assets = cls(folder, problem=f"{build_path} does not exist.")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            assets = cls(folder, problem=f"{build_path} cannot be used ({exc}).")
        else:
            gzipped = frozenset(n for n in files if (folder / "assets" / f"{n}.gz").is_file())
            return cls(folder, files=files, gzipped=gzipped)
        log.warning("the web console is not built, /console shows how to build it: %s", assets.problem)
        return assets

    @property
    def built(self) -> bool:
        return not self.problem

    def page(self, request: Request) -> Response:
        """index.html for any of the console's routes (the router reads the path)."""
        if not self.built:
            return HTMLResponse(_NOT_BUILT.format(problem=escape(self.problem)), status_code=503)
        last = request.path_params.get("path", "").rstrip("/").rpartition("/")[2]
        if "." in last:  # a file, not a route: only the build's assets are files
            return PlainTextResponse("Not Found", status_code=404)
        return FileResponse(
            self.folder / "index.html",
            media_type="text/html; charset=utf-8",
            headers={"Cache-Control": "no-cache", "Content-Security-Policy": console_policy(request.headers.get("host"))},
        )

    def asset(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in self.files:  # only what the build made: no other file of the folder
            return PlainTextResponse("Not Found", status_code=404)
        content_type = TYPES.get(Path(name).suffix, "application/octet-stream")
        headers = {"Cache-Control": IMMUTABLE, "Vary": "Accept-Encoding"}
        path = self.folder / "assets" / name
        if name in self.gzipped and _accepts_gzip(request.headers.get("accept-encoding", "")):
            headers["Content-Encoding"] = "gzip"
            path = path.with_name(f"{name}.gz")
        return FileResponse(path, media_type=content_type, headers=headers)

    def routes(self) -> list[Route]:
        return ConsoleSite(self).routes()


class ConsoleSite:
    """Serves the build in `folder`, and a new one as soon as it is written: a rebuild
    while the service runs (`make install`, `npm run build`) replaces every file name, so
    the site reads console-build.json again whenever its modification time changes."""

    def __init__(self, assets: ConsoleAssets) -> None:
        self.assets = assets
        self._stamp = self._build_stamp()

    def _build_stamp(self) -> int | None:
        try:
            return (self.assets.folder / "console-build.json").stat().st_mtime_ns
        except OSError:
            return None

    def current(self) -> ConsoleAssets:
        stamp = self._build_stamp()
        if stamp != self._stamp:
            self._stamp = stamp
            self.assets = ConsoleAssets.load(self.assets.folder)
        return self.assets

    def page(self, request: Request) -> Response:
        return self.current().page(request)

    def asset(self, request: Request) -> Response:
        return self.current().asset(request)

    def routes(self) -> list[Route]:
        methods = ["GET", "HEAD"]
        return [
            Route(f"{PREFIX}/assets/{{name}}", self.asset, methods=methods),
            Route(PREFIX, self.page, methods=methods),
            Route(f"{PREFIX}/{{path:path}}", self.page, methods=methods),
        ]
