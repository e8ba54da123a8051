"""Limits against hostile GraphQL, through the real HTTP stack."""

from __future__ import annotations

import dataclasses

import httpx
import pytest

from schema.extensions import MaskInternalErrors
from tests.conftest import ApiServer, GraphQLClient, new_token
from tests.integration.reissue_api import CANCEL, request, unique_zone, upload_cert


def top_level_messages(response: httpx.Response) -> list[str]:
    return [e["message"] for e in response.json().get("errors") or []]


async def test_a_query_deeper_than_the_limit_is_refused_before_it_runs(owner):
    nested = "id"
    for _ in range(8):
        nested = f"activeReissue {{ certificate {{ {nested} }} }}"
    deep = f"{{ certificates {{ edges {{ node {{ {nested} }} }} }} }}"  # depth 19
    response = await owner.raw(deep)
    assert response.status_code == 200
    assert any("exceeds maximum operation depth" in m for m in top_level_messages(response))
    assert response.json().get("data") is None


async def test_too_many_aliases_are_refused(owner):
    query = "{ " + " ".join(f"a{i}: certificates {{ totalCount }}" for i in range(40)) + " }"
    response = await owner.raw(query)
    assert any("aliases" in m.lower() for m in top_level_messages(response))


async def test_too_many_tokens_are_refused(owner):
    query = "{ " + " ".join("__typename" for _ in range(4000)) + " }"
    response = await owner.raw(query)
    assert any("token" in m.lower() for m in top_level_messages(response))


async def test_a_body_over_one_mebibyte_gets_413_and_is_not_executed(owner):
    huge = "#" + "x" * (1024 * 1024) + "\n{ __typename }"
    response = await owner.raw(huge)
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_batched_operations_are_not_accepted(owner):
    response = await owner.http.post(
        "/graphql",
        json=[{"query": "{ __typename }"}, {"query": "{ __typename }"}],
        headers={"Authorization": f"Bearer {owner.token}"},
    )
    assert response.status_code == 400


async def test_every_response_carries_a_request_id_and_echoes_a_given_one(owner):
    response = await owner.raw("{ __typename }")
    assert len(response.headers["x-request-id"]) >= 8
    given = await owner.http.post(
        "/graphql", json={"query": "{ __typename }"},
        headers={"Authorization": f"Bearer {owner.token}", "X-Request-ID": "trace-abc-123"},
    )
    assert given.headers["x-request-id"] == "trace-abc-123"


def test_unexpected_errors_are_masked_without_internals():
    import asyncio

    import strawberry

    @strawberry.type
    class Query:
        @strawberry.field
        def boom(self) -> str:
            raise KeyError("secret_internal_field")

        @strawberry.field
        def down(self) -> str:
            raise ConnectionError("mongo at 10.0.0.5:27017")

    schema = strawberry.Schema(
        query=Query, extensions=[lambda: MaskInternalErrors(lambda e: isinstance(e, ConnectionError))]
    )
    boom = asyncio.run(schema.execute("{ boom }"))
    assert [e.message for e in boom.errors] == ["Internal error."]
    assert boom.errors[0].extensions == {"code": "INTERNAL_ERROR"}
    down = asyncio.run(schema.execute("{ down }"))
    assert down.errors[0].extensions == {"code": "DATABASE_UNAVAILABLE"}
    assert "10.0.0.5" not in down.errors[0].message


@pytest.fixture(scope="module")
def production_api(settings, database_uri):
    """CERTS_GRAPHIQL=false, a small rate limit and a tiny execution timeout."""
    server = ApiServer(
        dataclasses.replace(settings, graphiql=False, rate_limit_per_minute=3), database_uri
    ).start()
    try:
        yield server
    finally:
        server.stop()


async def test_with_graphiql_off_introspection_and_field_suggestions_are_off(production_api, services):
    token = await new_token(services, "prod-acct", "viewer")
    async with httpx.AsyncClient(base_url=production_api.url) as http:
        client = GraphQLClient(http, token)
        response = await client.raw("{ __schema { types { name } } }")
        assert response.json().get("errors")
        typo = await client.raw("{ certificatez { totalCount } }")
        message = typo.json()["errors"][0]["message"]
        assert "certificatez" in message and "Did you mean" not in message
        page = await http.get("/graphql", headers={"Accept": "text/html"})
        assert "graphiql" not in page.text.lower()


async def test_mutations_over_the_per_token_limit_are_rate_limited_with_a_retry_hint(production_api, services):
    from domain.model import Role

    token = await new_token(services, "limited-acct")
    async with httpx.AsyncClient(base_url=production_api.url) as http:
        client = GraphQLClient(http, token)
        cancel = 'mutation { cancelReissue(reissueId: "rei_000000000000000000000000") { userErrors { code } } }'
        for _ in range(3):
            assert (await client(cancel))["cancelReissue"]["userErrors"][0]["code"] == "NOT_FOUND"
        refused = (await client.raw(cancel)).json()
        assert refused["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert "retry after" in refused["errors"][0]["message"]
        # Queries are not limited.
        assert (await client("{ certificates { totalCount } }"))["certificates"]["totalCount"] == 0


async def test_an_operation_over_the_execution_timeout_gets_504(settings, database_uri, services):
    from domain.model import Role

    server = ApiServer(dataclasses.replace(settings, execution_timeout_seconds=0.001), database_uri).start()
    try:
        token = await new_token(services, "slow-acct")
        async with httpx.AsyncClient(base_url=server.url) as http:
            query = "{ " + " ".join(f"c{i}: certificates(first: 100) {{ totalCount }}" for i in range(20)) + " }"
            response = await GraphQLClient(http, token).raw(query)
        assert response.status_code == 504
        assert response.json()["errors"][0]["extensions"]["code"] == "TIMEOUT"
    finally:
        server.stop()
