"""The GraphiQL page and its assets, served by this service itself: no CDN, nothing fetched
from another origin at run time.

`make install` builds GraphiQL from the pinned npm packages of graphiql/ (package.json,
package-lock.json, build.mjs) into graphiql/dist/: one ES module (GraphiQL 5, React, the
Monaco editors, the explorer plugin), one stylesheet, Monaco's web workers and icon font,
each named after a hash of its content, and a manifest.json naming them. This module
serves the page at /graphql (for a browser) and those files, and only those, under
/graphiql/static/, with their content types and a year of browser caching (a new build
has new names); to a browser that accepts gzip, the build's gzipped copy (7.4 MB of files
are 2.2 MB so). The page's one inline script imports the module and mounts GraphiQL;
certreissue/security_headers.py allows it by its hash, so the page's CSP is
`script-src 'self'` plus that hash.

The headers editor (where the bearer token goes) is not kept in the browser's
localStorage unless the user turns "Persist headers" on in GraphiQL's settings dialog.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

log = logging.getLogger("certreissue")

# Where the page finds its files, relative to /graphql (so the page also works behind a
# proxy that serves the API under a path prefix).
ASSETS_PATH = "graphiql/static"
DEFAULT_ASSETS_DIR = Path(__file__).resolve().parents[1] / "graphiql" / "dist"
# Every asset's name carries a hash of its content: a browser may keep it as long as it likes.
IMMUTABLE = "public, max-age=31536000, immutable"
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".ttf": "font/ttf",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
}

_PAGE = """<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>certreissue &middot; GraphiQL</title>
    <link rel="icon" href="data:,">
    <link rel="stylesheet" href="./{assets}/{style}">
  </head>
  <body>
    <div id="graphiql">Loading GraphiQL&hellip;</div>
    <noscript>GraphiQL needs JavaScript.</noscript>
    <script type="module">
      import {{ mount }} from "./{assets}/{module}";
      mount(document.getElementById("graphiql"), {{
        shouldPersistHeaders: false,
        showPersistHeadersSettings: true,
      }});
    </script>
  </body>
</html>
"""

_NOT_BUILT = """<!doctype html>
<html lang="en">
  <head><meta charset="utf-8"><title>certreissue &middot; GraphiQL not built</title></head>
  <body>
    <h1>GraphiQL is not built</h1>
    <p>{problem}</p>
    <p>Run <code>make install</code> (it needs Node.js 18 or later and npm: it runs
    <code>npm ci</code> and the build in <code>graphiql/</code>), then restart the service;
    or point <code>CERTS_GRAPHIQL_ASSETS</code> at such a build.
    The API itself works without it: <code>POST /graphql</code> with
    <code>Authorization: Bearer &lt;token&gt;</code>.</p>
  </body>
</html>
"""


@dataclass(frozen=True)
class GraphiQLAssets:
    """A build of graphiql/ (its manifest.json), or why there is none (`problem`)."""

    folder: Path
    module: str = ""
    style: str = ""
    files: frozenset[str] = field(default_factory=frozenset)
    gzipped: frozenset[str] = field(default_factory=frozenset)  # files with a <name>.gz beside them
    problem: str = ""

    @classmethod
    def load(cls, folder: Path | None = None) -> GraphiQLAssets:
        folder = DEFAULT_ASSETS_DIR if folder is None else folder
        manifest_path = folder / "manifest.json"
        try:
            manifest = json.loads(manifest_path.read_text())
            files = frozenset(manifest["files"])
            module, style = manifest["module"], manifest["style"]
            missing = sorted(name for name in files if not (folder / name).is_file())
            if module not in files or style not in files or missing:
                raise ValueError(f"files it names are missing: {', '.join(missing) or module}")
        except FileNotFoundError:
            assets = cls(folder, problem=f"{manifest_path} does not exist.")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            assets = cls(folder, problem=f"{manifest_path} cannot be used ({exc}).")
        else:
            gzipped = frozenset(name for name in files if (folder / f"{name}.gz").is_file())
            return cls(folder, module=module, style=style, files=files, gzipped=gzipped)
        log.warning("GraphiQL is not built, /graphql shows how to build it: %s", assets.problem)
        return assets

    @property
    def built(self) -> bool:
        return not self.problem

    def page_response(self) -> HTMLResponse:
        """The page for GET /graphql in a browser; 503 with how to build it when not built."""
        if not self.built:
            return HTMLResponse(_NOT_BUILT.format(problem=escape(self.problem)), status_code=503)
        return HTMLResponse(_PAGE.format(assets=ASSETS_PATH, module=self.module, style=self.style))

    async def asset(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in self.files:  # only what the build made: no other file of the folder
            return PlainTextResponse("Not Found", status_code=404)
        content_type = CONTENT_TYPES.get(Path(name).suffix, "application/octet-stream")
        headers = {"Cache-Control": IMMUTABLE, "Vary": "Accept-Encoding"}
        if name in self.gzipped and _accepts_gzip(request.headers.get("accept-encoding", "")):
            headers["Content-Encoding"] = "gzip"
            name = f"{name}.gz"
        return FileResponse(self.folder / name, media_type=content_type, headers=headers)

    def routes(self) -> list[Route]:
        return [Route(f"/{ASSETS_PATH}/{{name}}", self.asset, methods=["GET"])]


def _accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding header takes gzip (`gzip` or `*`, with no q=0)."""
    for item in accept_encoding.split(","):
        coding, *parameters = (part.strip() for part in item.split(";"))
        if coding.lower() not in ("gzip", "*"):
            continue
        q = next((p.split("=", 1)[1] for p in parameters if p.replace(" ", "").lower().startswith("q=")), "1")
        try:
            return float(q) > 0
        except ValueError:
            return False
    return False
