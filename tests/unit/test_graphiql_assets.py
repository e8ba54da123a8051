"""The GraphiQL page and its assets as certreissue/graphiql.py serves them, from a built
folder (graphiql/dist, made by `make install`): the page loads only this service's own
files, each asset is served with its type and kept by browsers (its name carries its
hash), nothing outside the build's manifest is served, and a missing build says how to
make it."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from certreissue.graphiql import ASSETS_PATH, GraphiQLAssets

MANIFEST = {
    "module": "graphiql-ABC123.js",
    "style": "graphiql-DEF456.css",
    "workers": {"editor": "editor.worker-111.js", "json": "json.worker-222.js", "graphql": "graphql.worker-333.js"},
    "files": [
        "codicon-777.ttf",
        "editor.worker-111.js",
        "graphiql-ABC123.js",
        "graphiql-ABC123.js.LEGAL.txt",
        "graphiql-DEF456.css",
        "graphql.worker-333.js",
        "json.worker-222.js",
    ],
    "versions": {"graphiql": "5.4.0"},
}


@pytest.fixture
def built(tmp_path: Path) -> Path:
    folder = tmp_path / "dist"
    folder.mkdir()
    for name in MANIFEST["files"]:
        (folder / name).write_bytes(f"/* {name} */".encode())
    (folder / "graphiql-ABC123.js.gz").write_bytes(gzip.compress(b"/* graphiql-ABC123.js */"))
    (folder / "manifest.json").write_text(json.dumps(MANIFEST))
    (folder / "not-in-the-manifest.js").write_text("// left over from an older build")
    (tmp_path / "secret.txt").write_text("outside the build")
    return folder


def client_for(assets: GraphiQLAssets) -> httpx.AsyncClient:
    async def page(request: Request):
        return assets.page_response()

    app = Starlette(routes=[Route("/graphql", page), *assets.routes()])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def test_the_page_loads_its_module_and_styles_from_this_service_by_relative_urls(built):
    async with client_for(GraphiQLAssets.load(built)) as client:
        page = await client.get("/graphql")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert f'href="./{ASSETS_PATH}/graphiql-DEF456.css"' in page.text
    assert f'from "./{ASSETS_PATH}/graphiql-ABC123.js"' in page.text
    assert "https://" not in page.text and "http://" not in page.text


def test_the_page_does_not_persist_headers_unless_the_user_asks(built):
    page = GraphiQLAssets.load(built).page_response().body.decode()
    assert "shouldPersistHeaders: false" in page
    assert "showPersistHeadersSettings: true" in page


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("graphiql-ABC123.js", "text/javascript; charset=utf-8"),
        ("editor.worker-111.js", "text/javascript; charset=utf-8"),
        ("graphiql-DEF456.css", "text/css; charset=utf-8"),
        ("codicon-777.ttf", "font/ttf"),
        ("graphiql-ABC123.js.LEGAL.txt", "text/plain; charset=utf-8"),
    ],
)
async def test_each_asset_is_served_with_its_type_and_kept_by_browsers_for_a_year(built, name, content_type):
    async with client_for(GraphiQLAssets.load(built)) as client:
        response = await client.get(f"/{ASSETS_PATH}/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.content == f"/* {name} */".encode()


@pytest.mark.parametrize("accept", ["gzip, deflate, br", "br;q=1.0, gzip;q=0.8"])
async def test_a_browser_that_takes_gzip_gets_the_compressed_copy_made_by_the_build(built, accept):
    async with client_for(GraphiQLAssets.load(built)) as client:
        response = await client.get(f"/{ASSETS_PATH}/graphiql-ABC123.js", headers={"Accept-Encoding": accept})
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["vary"] == "Accept-Encoding"
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.content == b"/* graphiql-ABC123.js */"  # httpx decodes it


@pytest.mark.parametrize("accept", ["identity", "gzip;q=0", "br"])
async def test_a_client_that_does_not_take_gzip_gets_the_file_itself(built, accept):
    async with client_for(GraphiQLAssets.load(built)) as client:
        response = await client.get(f"/{ASSETS_PATH}/graphiql-ABC123.js", headers={"Accept-Encoding": accept})
    assert "content-encoding" not in response.headers
    assert response.headers["vary"] == "Accept-Encoding"
    assert response.content == b"/* graphiql-ABC123.js */"


@pytest.mark.parametrize(
    "path",
    [
        "graphiql-ABC123.js.gz",
        "not-in-the-manifest.js",
        "manifest.json",
        "..%2Fsecret.txt",
        "%2E%2E/secret.txt",
        "nothing-here.js",
    ],
)
async def test_nothing_outside_the_build_manifest_is_served(built, path):
    async with client_for(GraphiQLAssets.load(built)) as client:
        response = await client.get(f"/{ASSETS_PATH}/{path}")
    assert response.status_code == 404
    assert "outside the build" not in response.text


async def test_without_a_build_the_page_says_how_to_make_one(tmp_path):
    assets = GraphiQLAssets.load(tmp_path / "never-built")
    assert not assets.built
    async with client_for(assets) as client:
        page = await client.get("/graphql")
        asset = await client.get(f"/{ASSETS_PATH}/graphiql-ABC123.js")
    assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
    assert "make install" in page.text and "npm" in page.text
    assert "<script" not in page.text
    assert asset.status_code == 404


def test_an_unreadable_manifest_is_reported_not_served(tmp_path):
    (tmp_path / "manifest.json").write_text("{not json")
    assets = GraphiQLAssets.load(tmp_path)
    assert not assets.built
    assert "manifest.json" in assets.problem
