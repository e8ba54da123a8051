"""CORS in a real browser (graphiql/e2e/cors.mjs): a page served from another origin (a
small web server on another port) calls the API with fetch and a bearer token. With its
origin in CERTS_CORS_ORIGINS it reads the answer and the exposed X-Request-ID; with any
other origin the browser blocks the call. tests/integration/test_cors.py has the headers."""

from __future__ import annotations

import dataclasses

import httpx
import pytest

from tests.browser.conftest import drive
from tests.conftest import ApiServer, GraphQLClient, new_token
from tests.integration.reissue_api import unique_zone, upload_cert
from tests.support.httpserver import FileSite

# The browser app: its own script calls the API, as a single-page app would.
APP = """<!doctype html>
<html><head><meta charset="utf-8"><title>another app</title><link rel="icon" href="data:,"></head><body>
<p>A browser app on another origin.</p>
<script>
window.callApi = async (api, token) => {
  try {
    const response = await fetch(api + "/graphql", {
      method: "POST",
      headers: {"Authorization": "Bearer " + token, "Content-Type": "application/json"},
      body: JSON.stringify({query: "{ certificates { totalCount } }"}),
    });
    return {status: response.status, body: await response.json(), requestId: response.headers.get("X-Request-ID")};
  } catch (error) {
    return {error: String(error)};
  }
};
</script>
</body></html>
"""


@pytest.fixture(scope="module")
def app_sites():
    """Two copies of the app, each on a port (so an origin) of its own."""
    sites = {name: FileSite().start() for name in ("allowed", "refused")}
    for site in sites.values():
        site.serve("127.0.0.1", "/", APP, headers={"Content-Type": "text/html; charset=utf-8"})
    try:
        yield sites
    finally:
        for site in sites.values():
            site.stop()


@pytest.fixture(scope="module")
def cors_api(settings, database_uri, app_sites):
    allowed = f"http://127.0.0.1:{app_sites['allowed'].port}"
    server = ApiServer(dataclasses.replace(settings, cors_origins=(allowed,)), database_uri).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
async def visits(browser, cors_api, app_sites, services, staff_tokens) -> dict:
    account = f"cors-{unique_zone()[:9]}"
    token = await new_token(services, account, "owner")
    async with httpx.AsyncClient(base_url=cors_api.url, timeout=30) as http:
        await upload_cert(GraphQLClient(http, token, account, staff_tokens), f"www.{unique_zone()}")
    task = {
        "api": cors_api.url,
        "token": token,
        "pages": [{"name": name, "url": f"http://127.0.0.1:{site.port}/"} for name, site in app_sites.items()],
    }
    return drive("cors.mjs", task)["pages"]


def test_a_page_on_an_allowed_origin_reads_the_answer_to_its_bearer_token_call(visits):
    allowed = visits["allowed"]
    assert allowed["status"] == 200, allowed
    assert allowed["body"] == {"data": {"certificates": {"totalCount": 1}}}
    assert allowed["requestId"]  # exposed, so the app can quote it in a support request
    assert allowed["consoleErrors"] == []


def test_a_page_on_any_other_origin_is_blocked_by_the_browser(visits):
    refused = visits["refused"]
    assert "error" in refused and "Failed to fetch" in refused["error"], refused
    assert any("CORS policy" in message for message in refused["consoleErrors"]), refused["consoleErrors"]
