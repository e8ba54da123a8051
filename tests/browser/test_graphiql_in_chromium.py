"""GraphiQL in a real browser, used as a person would (graphiql/e2e/graphiql.mjs): it loads
from this service alone, under its strict CSP, takes the token in its Headers tab, runs
`{ certificates { totalCount } }` and shows the answer, and keeps the token out of the
browser's storage and the address bar."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.browser.conftest import drive, origin_of
from tests.conftest import GraphQLClient, new_token
from tests.integration.reissue_api import unique_zone, upload_cert

QUERY = "{ certificates { totalCount } }"
UPLOADED = 2


@pytest.fixture(scope="module")
async def session(browser, api, services, staff_tokens, tmp_path_factory) -> dict:
    """One visit to GraphiQL by the owner of an account with two certificates."""
    account = f"browser-{unique_zone()[:9]}"
    token = await new_token(services, account, "owner")
    async with httpx.AsyncClient(base_url=api.url, timeout=30) as http:
        owner = GraphQLClient(http, token, account, staff_tokens)
        for _ in range(UPLOADED):
            await upload_cert(owner, f"www.{unique_zone()}")
    shots = tmp_path_factory.mktemp("graphiql-browser")
    task = {
        "url": f"{api.url}/graphql",
        "token": token,
        "query": QUERY,
        "screenshot": str(shots / "graphiql.png"),
        "failureScreenshot": str(shots / "failure.png"),
    }
    print(f"GraphiQL screenshots in {shots}")
    return {"report": drive("graphiql.mjs", task), "token": token, "screenshot": Path(task["screenshot"])}


def test_graphiql_renders_its_editors(session):
    report = session["report"]
    assert report["editorsRendered"] >= 3  # query, variables/headers, response (Monaco)
    assert report["queryText"].split() == ["{", "certificates", "{", "totalCount", "}", "}"]


def test_the_token_pasted_in_the_headers_tab_authorizes_the_query_and_the_answer_appears(session):
    report = session["report"]
    assert json.loads(report["headersText"]) == {"Authorization": f"Bearer {session['token']}"}
    assert json.loads(report["responseText"]) == {"data": {"certificates": {"totalCount": UPLOADED}}}


def test_with_the_token_graphiql_fetches_the_schema_and_shows_the_docs_and_the_explorer(session):
    docs = session["report"]["docsText"]
    assert "query: Query" in docs and "mutation: Mutation" in docs and "Certificate" in docs
    explorer = session["report"]["explorerText"].split()
    assert {"certificate", "certificates", "totalCount", "reissues"} <= set(explorer)  # the explorer plugin's tree


def test_the_page_requests_nothing_from_any_other_origin(session, api):
    requests = session["report"]["requests"]
    assert any("/graphiql/static/" in url for url in requests)  # GraphiQL's files, from here
    elsewhere = [url for url in requests if origin_of(url) != api.url and not url.startswith("data:")]
    assert elsewhere == []


def test_the_page_runs_under_its_csp_without_a_violation_or_an_error(session):
    report = session["report"]
    assert report["cspViolations"] == []
    assert report["pageErrors"] == []
    # The one error a browser logs: GraphiQL's first schema request, before the token, got 401.
    assert all("401" in message for message in report["consoleErrors"]), report["consoleErrors"]


def test_the_token_is_kept_out_of_storage_and_the_address_bar_unless_the_user_asks(session):
    report = session["report"]
    assert session["token"] not in json.dumps(report["storage"])
    assert report["persistToggleOffered"]  # the user may still opt in, in the settings dialog


def test_a_screenshot_of_the_session_is_saved(session):
    shot = session["screenshot"]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
