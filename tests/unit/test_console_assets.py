"""The web console as certreissue/console.py serves it, from a built folder (console/dist,
made by `make install`): index.html for every route of the console (the SPA fallback),
revalidated on every visit and under a CSP as tight as the console allows; its hashed
assets kept by browsers for a year, gzipped for those that take it; nothing outside the
build served; a missing build says how to make one."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from certreissue.console import ConsoleAssets, console_policy
from certreissue.security_headers import SecurityHeadersMiddleware

INDEX = (
    '<!doctype html><html lang="en"><head><title>certreissue console</title>'
    '<script type="module" crossorigin src="/console/assets/index-AbC123.js"></script>'
    '<link rel="stylesheet" crossorigin href="/console/assets/index-DeF456.css"></head>'
    '<body><div id="root"></div></body></html>'
)
BUILD = {
    "index": "index.html",
    "assets": ["icon-1a2b.svg", "index-AbC123.js", "index-DeF456.css"],
    "scripts": ["index-AbC123.js"],
    "styles": ["index-DeF456.css"],
}


@pytest.fixture
def built(tmp_path: Path) -> Path:
    folder = tmp_path / "dist"
    (folder / "assets").mkdir(parents=True)
    for name in BUILD["assets"]:
        (folder / "assets" / name).write_bytes(f"/* {name} */".encode())
    (folder / "assets" / "index-AbC123.js.gz").write_bytes(gzip.compress(b"/* index-AbC123.js */"))
    (folder / "assets" / "index-OLD999.js").write_text("// left over from an older build")
    (folder / "index.html").write_text(INDEX)
    (folder / "console-build.json").write_text(json.dumps(BUILD))
    (tmp_path / "secret.txt").write_text("outside the build")
    return folder


def client_for(assets: ConsoleAssets) -> httpx.AsyncClient:
    app = SecurityHeadersMiddleware(Starlette(routes=assets.routes()))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000")


def directives(policy: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (part.split() for part in policy.split(";"))}


@pytest.mark.parametrize(
    "path",
    ["/console", "/console/", "/console/certificates", "/console/certificates/crt_123/reissue", "/console/reissues/rsi_9/"],
)
async def test_every_route_of_the_console_gets_its_page(built, path):
    async with client_for(ConsoleAssets.load(built)) as client:
        page = await client.get(path)
    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.text == INDEX
    assert page.headers["cache-control"] == "no-cache"  # revalidated: a new build is seen at once


async def test_the_page_csp_allows_this_origin_and_its_websocket_and_nothing_inline(built):
    async with client_for(ConsoleAssets.load(built)) as client:
        page = await client.get("/console/certificates")
    csp = directives(page.headers["content-security-policy"])
    assert csp["default-src"] == ["'none'"]
    assert csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"] and csp["img-src"] == ["'self'"]
    assert csp["connect-src"] == ["'self'", "ws://127.0.0.1:8000", "wss://127.0.0.1:8000"]
    assert csp["frame-ancestors"] == ["'none'"] and csp["base-uri"] == ["'none'"] and csp["form-action"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["require-trusted-types-for"] == ["'script'"] and csp["trusted-types"] == ["'none'"]
    assert page.headers["x-frame-options"] == "DENY" and page.headers["x-content-type-options"] == "nosniff"
    assert page.headers.get_list("content-security-policy") == [page.headers["content-security-policy"]]


@pytest.mark.parametrize(
    "host",
    ["evil.example'; script-src *", "a b", "x.example:80/path", "", "[::1]:8000]", "-bad.example"],
)
def test_a_host_header_not_shaped_like_a_host_stays_out_of_the_policy(host):
    policy = console_policy(host)
    assert directives(policy)["connect-src"] == ["'self'"]
    assert "*" not in policy and "path" not in policy


@pytest.mark.parametrize("host", ["console.example.com", "127.0.0.1:8000", "[::1]:8000", "localhost"])
def test_the_websocket_sources_name_the_host_the_browser_asked_for(host):
    assert directives(console_policy(host))["connect-src"] == ["'self'", f"ws://{host}", f"wss://{host}"]


@pytest.mark.parametrize(
    ("name", "content_type"),
    [("index-AbC123.js", "text/javascript; charset=utf-8"), ("index-DeF456.css", "text/css; charset=utf-8"), ("icon-1a2b.svg", "image/svg+xml")],
)
async def test_each_asset_is_served_with_its_type_and_kept_for_a_year(built, name, content_type):
    async with client_for(ConsoleAssets.load(built)) as client:
        response = await client.get(f"/console/assets/{name}", headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200 and response.headers["content-type"] == content_type
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.content == f"/* {name} */".encode()


async def test_a_browser_that_takes_gzip_gets_the_builds_compressed_copy(built):
    async with client_for(ConsoleAssets.load(built)) as client:
        response = await client.get("/console/assets/index-AbC123.js", headers={"Accept-Encoding": "gzip, br"})
    assert response.headers["content-encoding"] == "gzip" and response.headers["vary"] == "Accept-Encoding"
    assert response.content == b"/* index-AbC123.js */"  # httpx decodes it


@pytest.mark.parametrize(
    "path",
    [
        "/console/assets/index-OLD999.js",  # on disk, not in the build's list
        "/console/assets/index-AbC123.js.gz",
        "/console/assets/..%2F..%2Fsecret.txt",
        "/console/assets/nothing.js",
        "/console/console-build.json",
        "/console/favicon.ico",
        "/console/index.html",
        "/console/certificates/x.js",
    ],
)
async def test_a_file_the_build_does_not_list_is_404_never_the_page(built, path):
    async with client_for(ConsoleAssets.load(built)) as client:
        response = await client.get(path)
    assert response.status_code == 404
    assert "outside the build" not in response.text and "<html" not in response.text


async def test_other_methods_are_refused(built):
    async with client_for(ConsoleAssets.load(built)) as client:
        response = await client.post("/console/certificates")
    assert response.status_code == 405


async def test_without_a_build_the_console_says_how_to_make_one(tmp_path):
    assets = ConsoleAssets.load(tmp_path / "never-built")
    assert not assets.built
    async with client_for(assets) as client:
        page = await client.get("/console/certificates")
        asset = await client.get("/console/assets/index-AbC123.js")
    assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
    assert "make install" in page.text and "CERTS_CONSOLE_ASSETS" in page.text and "<script" not in page.text
    assert asset.status_code == 404


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda folder: (folder / "console-build.json").write_text("{not json"), "console-build.json"),
        (lambda folder: (folder / "index.html").unlink(), "index.html"),
        (lambda folder: (folder / "assets" / "index-AbC123.js").unlink(), "index-AbC123.js"),
    ],
)
def test_a_broken_build_is_reported_not_served(built, change, why):
    change(built)
    assets = ConsoleAssets.load(built)
    assert not assets.built and why in assets.problem


async def test_a_new_build_written_while_the_service_runs_is_served_at_once(built, tmp_path):
    async with client_for(ConsoleAssets.load(tmp_path / "dist-later")) as client:
        assert (await client.get("/console/")).status_code == 503  # not built yet
        built.rename(tmp_path / "dist-later")  # the build appears
        assert (await client.get("/console/")).text == INDEX
        rebuilt = tmp_path / "dist-later"
        (rebuilt / "assets" / "index-NeW777.js").write_text("/* new */")
        (rebuilt / "index.html").write_text(INDEX.replace("index-AbC123.js", "index-NeW777.js"))
        build = {**BUILD, "assets": ["index-NeW777.js", "index-DeF456.css"], "scripts": ["index-NeW777.js"]}
        (rebuilt / "console-build.json").write_text(json.dumps(build))
        page = await client.get("/console/certificates")
        assert "index-NeW777.js" in page.text
        assert (await client.get("/console/assets/index-NeW777.js")).text == "/* new */"
        assert (await client.get("/console/assets/index-AbC123.js")).status_code == 404  # no longer in the build
