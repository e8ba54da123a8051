"""CORS through the real HTTP stack (CERTS_CORS_ORIGINS, certreissue/cors.py): an allowed
origin gets the Access-Control-* headers on its preflight and on its POST; any other
origin gets none; a preflight is always answered (never 405 or 500), refused in the API's
JSON shape; credentials are never allowed; and with the default (no origins) the API is
same-origin only. tests/browser/test_cors_in_chromium.py does the same from a browser."""

from __future__ import annotations

import dataclasses

import httpx
import pytest

from tests.conftest import ApiServer

ALLOWED = "http://localhost:3000"
ALSO_ALLOWED = "https://app.example.com"
REFUSED = "https://evil.example"
QUERY = {"query": "{ certificates { totalCount } }"}


@pytest.fixture(scope="module")
def cors_api(settings, database_uri):
    server = ApiServer(dataclasses.replace(settings, cors_origins=(ALLOWED, ALSO_ALLOWED)), database_uri).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def any_origin_api(settings, database_uri):
    server = ApiServer(dataclasses.replace(settings, cors_origins=("*",)), database_uri).start()
    try:
        yield server
    finally:
        server.stop()


def preflight_headers(origin: str | None, method: str = "POST", headers: str = "authorization,content-type") -> dict:
    sent = {"Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers}
    if origin is not None:
        sent["Origin"] = origin
    return sent


async def preflight(url: str, origin: str | None, **kwargs) -> httpx.Response:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        return await client.options("/graphql", headers=preflight_headers(origin, **kwargs))


async def post(url: str, origin: str, token: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        return await client.post(
            "/graphql", json=QUERY, headers={"Origin": origin, "Authorization": f"Bearer {token}"}
        )


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers.items() if k.lower().startswith("access-control-")}


def words(value: str) -> set[str]:
    return {w.strip().lower() for w in value.split(",") if w.strip()}


def assert_refused_cleanly(response: httpx.Response) -> None:
    assert response.status_code == 403, (response.status_code, response.text)
    assert response.json()["errors"][0]["extensions"]["code"] == "CORS_REFUSED"
    assert cors_headers(response) == {}
    assert response.headers.get("x-content-type-options") == "nosniff"  # the security headers too
    assert response.headers.get("x-request-id")


@pytest.mark.parametrize("origin", [ALLOWED, ALSO_ALLOWED])
async def test_an_allowed_origin_gets_its_preflight_answered_with_what_it_may_send(cors_api, origin):
    response = await preflight(cors_api.url, origin, headers="authorization,content-type,x-request-id")
    assert response.status_code == 200, response.text
    headers = cors_headers(response)
    assert headers["access-control-allow-origin"] == origin
    assert words(headers["access-control-allow-methods"]) == {"get", "post"}
    assert {"authorization", "content-type", "x-request-id"} <= words(headers["access-control-allow-headers"])
    assert "access-control-allow-credentials" not in headers
    assert "origin" in words(response.headers["vary"])


async def test_an_allowed_origin_reads_the_answer_to_its_post_and_the_exposed_headers(cors_api, owner):
    response = await post(cors_api.url, ALLOWED, owner.token)
    assert response.status_code == 200 and response.json()["data"]["certificates"]["totalCount"] == 0
    headers = cors_headers(response)
    assert headers["access-control-allow-origin"] == ALLOWED
    assert words(headers["access-control-expose-headers"]) == {"x-request-id", "retry-after"}
    assert "access-control-allow-credentials" not in headers
    assert "origin" in words(response.headers["vary"])


async def test_a_refused_origin_gets_no_cors_header_on_its_preflight(cors_api):
    assert_refused_cleanly(await preflight(cors_api.url, REFUSED))


async def test_a_refused_origin_gets_no_cors_header_on_its_post(cors_api, owner):
    response = await post(cors_api.url, REFUSED, owner.token)
    assert response.status_code == 200  # the server answers; the browser will not let the page read it
    assert cors_headers(response) == {}
    assert "origin" in words(response.headers["vary"])


async def test_an_origin_that_differs_only_by_port_or_scheme_is_refused(cors_api):
    assert_refused_cleanly(await preflight(cors_api.url, "http://localhost:3001"))
    assert_refused_cleanly(await preflight(cors_api.url, "https://localhost:3000"))


async def test_a_preflight_without_an_origin_is_refused_cleanly_not_405(cors_api):
    assert_refused_cleanly(await preflight(cors_api.url, None))


@pytest.mark.parametrize(
    ("method", "headers"),
    [("DELETE", "authorization"), ("PUT", "content-type"), ("POST", "authorization,x-custom-header")],
)
async def test_a_preflight_for_a_method_or_header_the_api_does_not_take_is_refused(cors_api, method, headers):
    assert_refused_cleanly(await preflight(cors_api.url, ALLOWED, method=method, headers=headers))


async def test_by_default_every_preflight_is_refused_cleanly_not_405(api):
    assert_refused_cleanly(await preflight(api.url, ALLOWED))


async def test_by_default_a_cross_origin_post_gets_no_cors_header(api, owner):
    response = await post(api.url, ALLOWED, owner.token)
    assert response.status_code == 200
    assert cors_headers(response) == {}


async def test_any_origin_gets_a_star_and_never_credentials(any_origin_api, owner):
    answered = await preflight(any_origin_api.url, REFUSED)
    assert answered.status_code == 200
    assert cors_headers(answered)["access-control-allow-origin"] == "*"
    response = await post(any_origin_api.url, REFUSED, owner.token)
    assert cors_headers(response)["access-control-allow-origin"] == "*"
    for headers in (cors_headers(answered), cors_headers(response)):
        assert "access-control-allow-credentials" not in headers


async def test_a_same_origin_request_without_origin_is_unchanged(cors_api, owner):
    async with httpx.AsyncClient(base_url=cors_api.url, timeout=30) as client:
        response = await client.post("/graphql", json=QUERY, headers={"Authorization": f"Bearer {owner.token}"})
    assert response.status_code == 200
    assert cors_headers(response) == {}


async def test_an_options_request_that_is_not_a_preflight_is_left_to_the_endpoint(cors_api):
    async with httpx.AsyncClient(base_url=cors_api.url, timeout=30) as client:
        response = await client.options("/graphql", headers={"Origin": ALLOWED})
    assert response.status_code != 403 and "CORS_REFUSED" not in response.text
    assert cors_headers(response)["access-control-allow-origin"] == ALLOWED
