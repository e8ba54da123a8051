"""Automatic persisted queries (Apollo's APQ protocol) and trusted documents
(CERTS_TRUSTED_DOCUMENTS), through the real HTTP stack. A persisted document is
authenticated and limited exactly as any other: only the way its text arrives differs."""

from __future__ import annotations

import dataclasses
import json

import httpx
import pytest

from certreissue.persisted_documents import TrustedDocuments, sha256_hex
from domain.model import Role
from tests.conftest import ApiServer, new_token

GQL = "application/graphql-response+json"
JSON = "application/json"
COUNT = "query Count { certificates { totalCount } }"
CANCEL = 'mutation Cancel { cancelReissue(reissueId: "rei_000000000000000000000000") { userErrors { code } } }'
NESTED = (
    "query Nested($n: Int) { certificates(first: $n) { edges { node { "
    "reissues(first: $n) { edges { node { events { at } } } } } } } }"
)
DEEP = "query Deep { certificates { edges { node { " + "activeReissue { certificate { " * 8 + "id" + " } }" * 8 + " } } } }"


def apq(document: str) -> dict:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(document)}}


async def send(http: httpx.AsyncClient, token: str | None, body: dict, accept: str = JSON) -> httpx.Response:
    headers = {"Accept": accept, **({"Authorization": f"Bearer {token}"} if token else {})}
    return await http.post("/graphql", json=body, headers=headers)


async def send_get(http: httpx.AsyncClient, token: str, accept: str = JSON, **params) -> httpx.Response:
    params = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in params.items()}
    return await http.get("/graphql", params=params, headers={"Authorization": f"Bearer {token}", "Accept": accept})


def error_code(response: httpx.Response) -> str:
    return response.json()["errors"][0]["extensions"]["code"]


# -- APQ ------------------------------------------------------------------------------------------


async def test_a_hash_is_not_found_until_its_query_was_sent_once_then_the_hash_alone_runs_it(owner):
    http, token = owner.http, owner.token
    document = "query Apq1 { certificates { totalCount } }"
    missing = await send(http, token, {"extensions": apq(document)})
    assert missing.status_code == 200
    assert missing.json() == {
        "data": None,
        "errors": [{"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}],
    }
    registered = await send(http, token, {"query": document, "extensions": apq(document)})
    assert registered.json() == {"data": {"certificates": {"totalCount": 0}}}
    by_hash = await send(http, token, {"extensions": apq(document)})
    assert by_hash.status_code == 200 and by_hash.json() == {"data": {"certificates": {"totalCount": 0}}}


async def test_persisted_query_not_found_is_404_without_data_in_graphql_response_json(owner):
    response = await send(owner.http, owner.token, {"extensions": apq("query Apq404 { __typename }")}, GQL)
    assert response.status_code == 404
    assert response.json() == {
        "errors": [{"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}]
    }


async def test_apq_works_by_get_with_variables_and_operation_name(owner):
    http, token = owner.http, owner.token
    document = "query ApqGet($n: Int) { certificates(first: $n) { totalCount } } query Other { __typename }"
    assert error_code(await send_get(http, token, extensions=apq(document), operationName="ApqGet")) == "PERSISTED_QUERY_NOT_FOUND"
    registered = await send_get(http, token, query=document, extensions=apq(document), operationName="ApqGet", variables={"n": 1})
    assert registered.json() == {"data": {"certificates": {"totalCount": 0}}}
    by_hash = await send_get(http, token, GQL, extensions=apq(document), operationName="Other")
    assert by_hash.status_code == 200 and by_hash.json() == {"data": {"__typename": "Query"}}


async def test_a_hash_that_is_not_the_querys_is_refused_and_nothing_runs(owner):
    response = await send(owner.http, owner.token, {"query": COUNT, "extensions": apq("{ __typename }")}, GQL)
    assert response.status_code == 400
    assert error_code(response) == "BAD_REQUEST" and "does not match" in response.json()["errors"][0]["message"]
    assert "data" not in response.json()


@pytest.mark.parametrize(
    "persisted",
    [{"version": 2, "sha256Hash": "0" * 64}, {"version": 1, "sha256Hash": "xyz"}, {"version": 1}, "abc"],
)
async def test_a_malformed_persisted_query_is_400(owner, persisted):
    response = await send(owner.http, owner.token, {"extensions": {"persistedQuery": persisted}})
    assert response.status_code == 400 and error_code(response) == "BAD_REQUEST"


async def test_a_document_that_did_not_run_is_not_remembered(owner):
    http, token = owner.http, owner.token
    broken = "query ApqBroken { nosuchfield }"
    assert (await send(http, token, {"query": broken, "extensions": apq(broken)}, GQL)).status_code == 400
    assert error_code(await send(http, token, {"extensions": apq(broken)})) == "PERSISTED_QUERY_NOT_FOUND"


async def test_a_document_over_the_size_cap_runs_but_is_not_remembered(owner):
    big = "query ApqBig { __typename }\n#" + "x" * (32 * 1024)
    ran = await send(owner.http, owner.token, {"query": big, "extensions": apq(big)})
    assert ran.json() == {"data": {"__typename": "Query"}}
    assert error_code(await send(owner.http, owner.token, {"extensions": apq(big)})) == "PERSISTED_QUERY_NOT_FOUND"


async def test_a_token_finds_only_the_documents_it_sent(client_for, new_account):
    alice = await client_for(new_account("apq-a"))
    bob = await client_for(new_account("apq-b"))
    document = "query ApqMine { certificates { totalCount } }"
    await send(alice.http, alice.token, {"query": document, "extensions": apq(document)})
    assert error_code(await send(bob.http, bob.token, {"extensions": apq(document)})) == "PERSISTED_QUERY_NOT_FOUND"


async def test_a_persisted_query_without_a_token_is_401_before_any_lookup(owner, http):
    document = "query ApqAuth { certificates { totalCount } }"
    await send(owner.http, owner.token, {"query": document, "extensions": apq(document)})
    refused = await send(http, None, {"extensions": apq(document)})
    assert refused.status_code == 401 and error_code(refused) == "UNAUTHENTICATED"
    refused = await send(http, "crt1_" + "A" * 43, {"extensions": apq(document)})
    assert refused.status_code == 401


async def test_the_query_cost_of_a_persisted_query_is_counted_with_its_variables(owner):
    http, token = owner.http, owner.token
    cheap = await send(http, token, {"query": NESTED, "variables": {"n": 1}, "extensions": apq(NESTED)})
    assert cheap.status_code == 200 and not cheap.json().get("errors")
    costly = await send(http, token, {"variables": {"n": 100}, "extensions": apq(NESTED)}, GQL)
    assert costly.status_code == 400 and error_code(costly) == "QUERY_TOO_COSTLY"


@pytest.fixture(scope="module")
def limited_api(settings, database_uri):
    server = ApiServer(dataclasses.replace(settings, rate_limit_per_minute=2), database_uri).start()
    try:
        yield server
    finally:
        server.stop()


async def test_a_persisted_mutation_is_rate_limited_as_any_other(limited_api, services):
    token = await new_token(services, "apq-limited")
    async with httpx.AsyncClient(base_url=limited_api.url, timeout=30) as http:
        first = await send(http, token, {"query": CANCEL, "extensions": apq(CANCEL)})
        assert first.json() == {"data": {"cancelReissue": {"userErrors": [{"code": "NOT_FOUND"}]}}}
        second = await send(http, token, {"extensions": apq(CANCEL)})
        assert second.json() == first.json()
        third = await send(http, token, {"extensions": apq(CANCEL)}, GQL)
        assert third.status_code == 429 and error_code(third) == "RATE_LIMITED"
        assert "retry-after" in third.headers


async def test_a_persisted_mutation_by_get_is_405(owner):
    await send(owner.http, owner.token, {"query": CANCEL, "extensions": apq(CANCEL)})
    response = await send_get(owner.http, owner.token, extensions=apq(CANCEL))
    assert response.status_code == 405 and response.headers["allow"] == "POST"


# -- trusted documents ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trusted_api(settings, database_uri):
    """Only COUNT and DEEP may run; reviewers may send ad-hoc documents (GraphiQL, say)."""
    trusted = TrustedDocuments({sha256_hex(COUNT): COUNT, sha256_hex(DEEP): DEEP})
    server = ApiServer(
        dataclasses.replace(settings, trusted_documents=trusted, adhoc_document_roles=frozenset({Role.REVIEWER})),
        database_uri,
    ).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def trusted_http(trusted_api):
    async with httpx.AsyncClient(base_url=trusted_api.url, timeout=30) as http:
        yield http


async def test_a_listed_document_runs_by_hash_or_by_its_exact_text(trusted_http, services):
    token = await new_token(services, "trusted-a")
    assert (await send(trusted_http, token, {"extensions": apq(COUNT)})).json() == {"data": {"certificates": {"totalCount": 0}}}
    assert (await send(trusted_http, token, {"query": COUNT})).json() == {"data": {"certificates": {"totalCount": 0}}}
    by_get = await send_get(trusted_http, token, GQL, extensions=apq(COUNT))
    assert by_get.status_code == 200


async def test_a_document_not_listed_is_refused_with_a_clear_error(trusted_http, services):
    token = await new_token(services, "trusted-b")
    ad_hoc = await send(trusted_http, token, {"query": "{ __typename }"}, GQL)
    assert ad_hoc.status_code == 400 and error_code(ad_hoc) == "QUERY_NOT_IN_SAFELIST"
    assert "trusted documents" in ad_hoc.json()["errors"][0]["message"]
    # The APQ way in is closed too: sending the text with its hash does not list it.
    registered = await send(trusted_http, token, {"query": "{ __typename }", "extensions": apq("{ __typename }")})
    assert registered.status_code == 200 and error_code(registered) == "QUERY_NOT_IN_SAFELIST"
    unknown = await send(trusted_http, token, {"extensions": apq("{ __typename }")}, GQL)
    assert unknown.status_code == 400 and error_code(unknown) == "PERSISTED_QUERY_NOT_IN_LIST"
    # Introspection (GraphiQL's first request) is a document like any other.
    introspection = await send(trusted_http, token, {"query": "{ __schema { queryType { name } } }"})
    assert error_code(introspection) == "QUERY_NOT_IN_SAFELIST"


async def test_a_listed_document_is_still_authenticated_and_validated(trusted_http, services):
    refused = await send(trusted_http, None, {"extensions": apq(COUNT)})
    assert refused.status_code == 401
    token = await new_token(services, "trusted-c")
    too_deep = await send(trusted_http, token, {"extensions": apq(DEEP)}, GQL)
    assert too_deep.status_code == 400
    assert "exceeds maximum operation depth" in too_deep.json()["errors"][0]["message"]


async def test_roles_the_operator_allows_may_send_ad_hoc_documents(trusted_http, services):
    reviewer = await new_token(services, None, "reviewer")
    introspection = await send(trusted_http, reviewer, {"query": "{ __schema { queryType { name } } }"})
    assert introspection.json() == {"data": {"__schema": {"queryType": {"name": "Query"}}}}
    owner = await new_token(services, "trusted-d", "owner")
    assert error_code(await send(trusted_http, owner, {"query": "{ __typename }"})) == "QUERY_NOT_IN_SAFELIST"
