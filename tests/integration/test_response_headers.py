"""What every answer carries besides its body, through the real HTTP stack: security
headers on every answer (and a CSP for the GraphiQL page that allows scripts from this
origin and the inline ones it actually serves, by hash), no caching of API answers (the
GraphiQL files, named by their hash, are cached), and GraphiQL not persisting the bearer
token unless the user asks."""

from __future__ import annotations

import base64
import hashlib
from html.parser import HTMLParser

import httpx
import pytest


def csp_directives(response: httpx.Response) -> dict[str, list[str]]:
    policy = response.headers.get("content-security-policy", "")
    directives: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


def assert_security_headers(response: httpx.Response) -> None:
    assert response.headers.get("x-content-type-options") == "nosniff", response.headers
    assert response.headers.get("referrer-policy") == "no-referrer", response.headers
    assert response.headers.get("x-frame-options") == "DENY", response.headers
    assert csp_directives(response).get("frame-ancestors") == ["'none'"], response.headers


def assert_api_headers(response: httpx.Response) -> None:
    assert_security_headers(response)
    assert response.headers.get("cache-control") == "no-store", response.headers


async def test_a_graphql_answer_carries_the_security_headers_and_is_not_cached(owner):
    response = await owner.raw("{ __typename }")
    assert response.status_code == 200
    assert_api_headers(response)
    assert csp_directives(response).get("default-src") == ["'none'"]


async def test_a_query_sent_by_get_carries_the_security_headers(owner):
    response = await owner.http.get(
        "/graphql", params={"query": "{ __typename }"}, headers={"Authorization": f"Bearer {owner.token}"}
    )
    assert response.status_code == 200
    assert_api_headers(response)


@pytest.mark.parametrize(
    ("label", "request_kwargs", "status"),
    [
        ("401 without a token", {"json": {"query": "{ __typename }"}}, 401),
        ("413 body too large", {"content": b"{" + b" " * (1024 * 1024 + 10) + b"}",
                                "headers": {"Content-Type": "application/json"}}, 413),
        ("400 body not JSON", {"content": b"{not json", "headers": {"Content-Type": "application/json"}}, 400),
    ],
)
async def test_refusals_carry_the_security_headers_and_are_not_cached(http, label, request_kwargs, status):
    response = await http.post("/graphql", **request_kwargs)
    assert response.status_code == status, (label, response.text[:300])
    assert_api_headers(response)


@pytest.mark.parametrize(("path", "status"), [("/healthz", 200), ("/readyz", 200), ("/no-such-path", 404)])
async def test_probes_and_unknown_paths_carry_the_security_headers_and_are_not_cached(http, path, status):
    response = await http.get(path)
    assert response.status_code == status
    assert_api_headers(response)


async def test_a_method_the_endpoint_does_not_take_carries_the_security_headers(http):
    response = await http.delete("/graphql")
    assert response.status_code == 405
    assert_api_headers(response)


# -- the GraphiQL page ---------------------------------------------------------------------


class _PageParts(HTMLParser):
    """The page's inline scripts (as the browser hashes them) and external sources."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.inline_scripts: list[str] = []
        self.script_sources: list[str] = []
        self.style_sources: list[str] = []
        self._in_inline_script = False
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script":
            if attributes.get("src"):
                self.script_sources.append(attributes["src"])
            else:
                self._in_inline_script, self._text = True, []
        if tag == "link" and attributes.get("rel") == "stylesheet":
            self.style_sources.append(attributes["href"])

    def handle_data(self, data):
        if self._in_inline_script:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "script" and self._in_inline_script:
            self.inline_scripts.append("".join(self._text))
            self._in_inline_script = False


async def graphiql_page(api) -> httpx.Response:
    async with httpx.AsyncClient(base_url=api.url, timeout=30) as client:
        response = await client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    return response


async def test_the_graphiql_page_carries_the_security_headers(api):
    assert_security_headers(await graphiql_page(api))


async def test_the_graphiql_page_csp_allows_exactly_its_inline_scripts_by_hash(api):
    page = await graphiql_page(api)
    parts = _PageParts()
    parts.feed(page.text)
    assert parts.inline_scripts, "the page has no inline script: the test would prove nothing"
    directives = csp_directives(page)
    script_src = directives["script-src"]
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    expected = {
        "'sha256-%s'" % base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
        for script in parts.inline_scripts
    }
    allowed = {source for source in script_src if source.startswith("'sha256-")}
    assert allowed == expected


async def test_the_graphiql_page_csp_allows_scripts_from_this_origin_only_and_no_eval(api):
    directives = csp_directives(await graphiql_page(api))
    script_src = directives["script-src"]
    assert script_src[0] == "'self'"
    assert all(source.startswith("'sha256-") for source in script_src[1:]), script_src
    policy = " ".join(word for words in directives.values() for word in words)
    assert "unpkg" not in policy and "https:" not in policy and "http:" not in policy, policy
    assert "'unsafe-eval'" not in policy and "'wasm-unsafe-eval'" not in policy, policy
    assert directives["worker-src"] == ["'self'"]  # Monaco's workers are files of this service
    assert "blob:" not in policy


async def test_the_graphiql_page_loads_its_files_from_this_service_and_connects_only_to_itself(api):
    page = await graphiql_page(api)
    parts = _PageParts()
    parts.feed(page.text)
    directives = csp_directives(page)
    assert parts.style_sources and all(s.startswith("./graphiql/static/") for s in parts.style_sources)
    assert parts.script_sources == []  # the inline module imports the bundle: see the next test
    assert all('from "./graphiql/static/' in script for script in parts.inline_scripts)
    assert directives["style-src"] == ["'self'", "'unsafe-inline'"]  # Monaco sets styles inline
    assert directives["font-src"] == ["'self'", "data:"]  # GraphiQL's fonts are data: URLs
    assert directives["connect-src"] == ["'self'"]
    assert directives["default-src"] == ["'none'"]
    assert "data:" in directives["img-src"]  # the favicon is a data: URL


async def test_the_graphiql_files_are_served_with_their_types_and_kept_by_browsers(api):
    page = await graphiql_page(api)
    parts = _PageParts()
    parts.feed(page.text)
    module = parts.inline_scripts[0].split('from "./', 1)[1].split('"', 1)[0]
    async with httpx.AsyncClient(base_url=api.url, timeout=30) as client:
        script = await client.get(f"/{module}")
        style = await client.get(parts.style_sources[0].removeprefix("."))
        unknown = await client.get("/graphiql/static/manifest.json")
    assert script.status_code == 200 and script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert style.status_code == 200 and style.headers["content-type"] == "text/css; charset=utf-8"
    for asset in (script, style):
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert_security_headers(asset)
    assert unknown.status_code == 404


async def test_the_graphiql_page_does_not_persist_headers_unless_the_user_asks(api):
    page = (await graphiql_page(api)).text
    assert "shouldPersistHeaders: false" in page
    assert "shouldPersistHeaders: true" not in page
    # GraphiQL hides its "Persist headers" toggle when shouldPersistHeaders is false,
    # unless this prop says otherwise: the user can still opt in.
    assert "showPersistHeadersSettings: true" in page
