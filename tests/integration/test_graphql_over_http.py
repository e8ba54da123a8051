"""GraphQL over HTTP (https://graphql.github.io/graphql-over-http/draft/) through the real
HTTP stack: the media types, the status code table for each, and a JSON body (with its
error code) for every refusal of the transport."""

from __future__ import annotations

import dataclasses
import json

import httpx
import pytest

from tests.conftest import ApiServer, new_token

GQL = "application/graphql-response+json"
JSON = "application/json"
DEEP = "{ certificates { edges { node { " + "activeReissue { certificate { " * 8 + "id" + " } }" * 8 + " } } } }"
PAGES = "{ certificates(first: 100) { edges { node { reissues(first: 100) { edges { node { events { at } } } } } } } }"


async def post(owner, body, accept: str | None = GQL, **headers) -> httpx.Response:
    sent = {"Authorization": f"Bearer {owner.token}", **headers}
    if accept is not None:
        sent["Accept"] = accept
    if isinstance(body, (bytes, str)):
        sent.setdefault("Content-Type", JSON)
        return await owner.http.post("/graphql", content=body, headers=sent)
    return await owner.http.post("/graphql", json=body, headers=sent)


async def get(owner, accept: str = GQL, **params) -> httpx.Response:
    return await owner.http.get(
        "/graphql", params=params, headers={"Authorization": f"Bearer {owner.token}", "Accept": accept}
    )


def assert_answer(response: httpx.Response, status: int, media: str) -> dict:
    assert response.status_code == status, (response.status_code, response.text[:400])
    assert response.headers["content-type"] == f"{media}; charset=utf-8"
    return response.json()


# -- media types ------------------------------------------------------------------------------


async def test_a_client_accepting_graphql_response_json_gets_it(owner):
    body = assert_answer(await post(owner, {"query": "{ __typename }"}), 200, GQL)
    assert body == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize("accept", ["application/json", "*/*", "text/html,application/xhtml+xml,*/*;q=0.8"])
async def test_application_json_and_wildcards_get_application_json(owner, accept):
    body = assert_answer(await post(owner, {"query": "{ __typename }"}, accept), 200, JSON)
    assert body == {"data": {"__typename": "Query"}}


async def test_no_accept_header_gets_application_json(owner):
    request = owner.http.build_request(
        "POST", "/graphql", json={"query": "{ __typename }"}, headers={"Authorization": f"Bearer {owner.token}"}
    )
    del request.headers["accept"]
    assert_answer(await owner.http.send(request), 200, JSON)


async def test_the_recommended_accept_of_the_spec_gets_graphql_response_json(owner):
    accept = "application/graphql-response+json; charset=utf-8, application/json; charset=utf-8"
    assert_answer(await post(owner, {"query": "{ __typename }"}, accept), 200, GQL)


async def test_q_values_decide(owner):
    assert_answer(await post(owner, {"query": "{ __typename }"}, f"{GQL};q=0.5, {JSON}"), 200, JSON)
    assert_answer(await post(owner, {"query": "{ __typename }"}, f"{GQL}, {JSON};q=0.9"), 200, GQL)


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "application/json; charset=iso-8859-1", f"{GQL};q=0"])
async def test_an_accept_header_allowing_nothing_the_api_answers_in_is_406_in_json(owner, accept):
    for response in (await post(owner, {"query": "{ __typename }"}, accept), await get(owner, accept, query="{ __typename }")):
        body = assert_answer(response, 406, JSON)
        assert body["errors"][0]["extensions"] == {"code": "NOT_ACCEPTABLE"}
        assert GQL in body["errors"][0]["message"]


async def test_a_request_body_declared_utf8_is_read_and_a_non_ascii_answer_is_utf8(owner):
    response = await post(
        owner, json.dumps({"query": '{ __type(name: "Run🏃Swim🏊") { name } }'}).encode(),
        JSON, **{"Content-Type": "application/json; charset=utf-8"},
    )
    assert assert_answer(response, 200, JSON) == {"data": {"__type": None}}
    typo = await post(owner, {"query": '{ certificates(first: "naïve") { totalCount } }'}, JSON)
    typo.content.decode("utf-8")  # strict
    assert "naïve" in typo.json()["errors"][0]["message"]


# -- requests the transport refuses, each with a JSON body and its code -------------------------


@pytest.mark.parametrize("accept", [GQL, JSON])
@pytest.mark.parametrize(
    ("content_type", "words"),
    [
        (None, "Content-Type"),
        ("text/plain;charset=UTF-8", "text/plain"),
        ("application/graphql", "application/graphql"),
        ("application/x-www-form-urlencoded", "application/x-www-form-urlencoded"),
        ("multipart/form-data; boundary=x", "multipart/form-data"),
        ("application/json; charset=latin1", "UTF-8"),
    ],
)
async def test_a_post_in_another_media_type_or_charset_is_415(owner, accept, content_type, words):
    request = owner.http.build_request(
        "POST", "/graphql", content=b'{"query": "{ __typename }"}',
        headers={"Authorization": f"Bearer {owner.token}", "Accept": accept, **({"Content-Type": content_type} if content_type else {})},
    )
    if content_type is None:
        request.headers.pop("content-type", None)
    body = assert_answer(await owner.http.send(request), 415, accept)
    assert body["errors"][0]["extensions"] == {"code": "UNSUPPORTED_MEDIA_TYPE"}
    assert words in body["errors"][0]["message"]
    assert ("data" in body) is (accept == JSON)


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "PROPFIND"])
async def test_another_method_is_405_allowing_get_and_post(owner, method):
    response = await owner.http.request(method, "/graphql", headers={"Authorization": f"Bearer {owner.token}"})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    if method != "HEAD":
        assert response.json()["errors"][0]["extensions"] == {"code": "METHOD_NOT_ALLOWED"}


@pytest.mark.parametrize("accept", [GQL, JSON])
async def test_a_mutation_sent_by_get_is_405_allowing_post_and_does_not_run(owner, accept):
    response = await get(owner, accept, query='mutation { cancelReissue(reissueId: "rei_000000000000000000000000") { userErrors { code } } }')
    body = assert_answer(response, 405, accept)
    assert response.headers["allow"] == "POST"
    assert body["errors"][0]["extensions"] == {"code": "METHOD_NOT_ALLOWED"}
    assert ("data" in body) is (accept == JSON) and body.get("data") is None


async def test_by_get_the_operation_named_decides_whether_it_is_a_mutation(owner):
    both = "query Q { __typename } mutation M { __typename }"
    assert_answer(await get(owner, query=both, operationName="Q"), 200, GQL)
    assert (await get(owner, query=both, operationName="M")).status_code == 405
    # Without operationName the operation cannot be determined: a request error, not a 405.
    assert_answer(await get(owner, query=both), 400, GQL)


@pytest.mark.parametrize("accept", [GQL, JSON])
@pytest.mark.parametrize(
    "body",
    [[{"query": "{ __typename }"}, {"query": "{ __typename }"}], [], "x", 1, None],
    ids=["batch", "empty-batch", "string", "number", "null"],
)
async def test_a_body_that_is_not_one_request_object_is_400(owner, accept, body):
    answer = assert_answer(await post(owner, json.dumps(body).encode(), accept), 400, accept)
    assert answer["errors"][0]["extensions"] == {"code": "BAD_REQUEST"}
    assert ("data" in answer) is (accept == JSON)


async def test_a_batch_says_to_send_one_operation_per_request(owner):
    answer = (await post(owner, [{"query": "{ __typename }"}], JSON)).json()
    assert "one operation per request" in answer["errors"][0]["message"]


@pytest.mark.parametrize("accept", [GQL, JSON])
@pytest.mark.parametrize(
    "body",
    [
        {},
        {"qeury": "{ __typename }"},
        {"query": None},
        {"query": {"obj": "ect"}},
        {"query": ["{ __typename }"]},
        {"query": "{ __typename }", "operationName": 7},
        {"query": "{ __typename }", "variables": [7]},
        {"query": "{ __typename }", "extensions": "x"},
    ],
)
async def test_parameters_missing_or_of_the_wrong_type_are_400(owner, accept, body):
    answer = assert_answer(await post(owner, body, accept), 400, accept)
    assert answer["errors"][0]["extensions"] == {"code": "BAD_REQUEST"}
    assert ("data" in answer) is (accept == JSON)


async def test_json_that_does_not_parse_is_400(owner):
    for accept in (GQL, JSON):
        assert_answer(await post(owner, b'{ "not a JSON', accept), 400, accept)
        assert_answer(await post(owner, b"", accept), 400, accept)


async def test_a_get_with_a_parameter_twice_or_bad_utf8_is_400(owner):
    headers = {"Authorization": f"Bearer {owner.token}", "Accept": GQL}
    twice = await owner.http.get("/graphql?query=%7B__typename%7D&query=%7B__typename%7D", headers=headers)
    assert_answer(twice, 400, GQL)
    latin1 = await owner.http.get("/graphql?query=%7B__typename%7D&operationName=%E9", headers=headers)
    assert_answer(latin1, 400, GQL)


@pytest.mark.parametrize("accept", [GQL, JSON])
async def test_a_refusal_before_authentication_follows_the_media_type_too(http, accept):
    response = await http.post("/graphql", json={"query": "{ __typename }"}, headers={"Accept": accept})
    body = assert_answer(response, 401, accept)
    assert body["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}
    assert ("data" in body) is (accept == JSON)
    too_large = await http.post(
        "/graphql", content=b"{" + b" " * (1024 * 1024 + 10) + b"}",
        headers={"Accept": accept, "Content-Type": JSON},
    )
    body = assert_answer(too_large, 413, accept)
    assert body["errors"][0]["extensions"] == {"code": "PAYLOAD_TOO_LARGE"}


# -- the status code table ------------------------------------------------------------------------

# (request, code of the one error or None): each a request error, raised before execution.
REQUEST_ERRORS = {
    "document does not parse": ({"query": "{"}, None),
    "empty document": ({"query": ""}, None),
    "document does not validate": ({"query": "{ 8f31403dfe404bccbb0e835f2629c6a7 }"}, None),
    "unused variable": ({"query": "query CoerceFailure($id: ID!){ __typename }", "variables": {"id": None}}, None),
    "variable does not coerce": (
        {"query": "query Q($n: Int!) { certificates(first: $n) { totalCount } }", "variables": {"n": "ten"}}, None,
    ),
    "required variable missing": ({"query": "query Q($n: Int!) { certificates(first: $n) { totalCount } }"}, None),
    "several operations, no operationName": (
        {"query": "query A { __typename } query B { __typename }"}, "OPERATION_RESOLUTION_FAILURE",
    ),
    "unknown operationName": ({"query": "query A { __typename }", "operationName": "B"}, "OPERATION_RESOLUTION_FAILURE"),
    "too deep": ({"query": DEEP}, None),
    "too many aliases": ({"query": "{ " + " ".join(f"a{i}: __typename" for i in range(40)) + " }"}, None),
    "too many tokens": ({"query": "{ " + " ".join("__typename" for _ in range(4000)) + " }"}, None),
    "too costly": ({"query": PAGES}, "QUERY_TOO_COSTLY"),
}


@pytest.mark.parametrize("case", REQUEST_ERRORS)
async def test_a_request_error_is_400_without_data_in_graphql_response_json(owner, case):
    request, code = REQUEST_ERRORS[case]
    body = assert_answer(await post(owner, request, GQL), 400, GQL)
    assert "data" not in body
    assert body["errors"] and all("path" not in e for e in body["errors"])
    if code:
        assert body["errors"][0]["extensions"]["code"] == code


@pytest.mark.parametrize("case", REQUEST_ERRORS)
async def test_a_request_error_is_200_with_null_data_in_application_json(owner, case):
    request, code = REQUEST_ERRORS[case]
    body = assert_answer(await post(owner, request, JSON), 200, JSON)
    assert body["data"] is None and body["errors"]
    if code:
        assert body["errors"][0]["extensions"]["code"] == code


@pytest.mark.parametrize("accept", [GQL, JSON])
async def test_a_field_error_is_a_partial_response_200_with_data_in_both(owner, accept):
    response = await post(
        owner, {"query": 'query { certificates(filter: {primaryDomain: "com"}) { totalCount } }'}, accept
    )
    body = assert_answer(response, 200, accept)
    assert body["data"] is None  # the non-null root field failed: data is null, but present
    assert body["errors"][0]["path"] == ["certificates"]


@pytest.mark.parametrize("accept", [GQL, JSON])
async def test_an_expected_failure_is_a_user_error_in_its_payload_with_200(owner, accept):
    mutation = 'mutation { cancelReissue(reissueId: "rei_000000000000000000000000") { userErrors { code } } }'
    body = assert_answer(await post(owner, {"query": mutation}, accept), 200, accept)
    assert body == {"data": {"cancelReissue": {"userErrors": [{"code": "NOT_FOUND"}]}}}


@pytest.mark.parametrize("accept", [GQL, JSON])
async def test_operation_name_picks_one_of_several_operations(owner, accept):
    document = "query A { a: __typename } query B { b: __typename }"
    body = assert_answer(await post(owner, {"query": document, "operationName": "B"}, accept), 200, accept)
    assert body == {"data": {"b": "Query"}}


async def test_get_queries_answer_in_the_negotiated_type(owner):
    query = "query Type($name: String!) { __type(name: $name) { name } }"
    body = assert_answer(await get(owner, GQL, query=query, variables='{"name": "Certificate"}'), 200, GQL)
    assert body == {"data": {"__type": {"name": "Certificate"}}}
    assert_answer(await get(owner, JSON, query="{"), 200, JSON)
    assert "data" not in assert_answer(await get(owner, GQL, query="{"), 400, GQL)


@pytest.fixture(scope="module")
def limited_api(settings, database_uri):
    server = ApiServer(dataclasses.replace(settings, rate_limit_per_minute=1), database_uri).start()
    try:
        yield server
    finally:
        server.stop()


async def test_rate_limited_is_429_with_retry_after_in_both_and_no_data_in_graphql_response_json(limited_api, services):
    token = await new_token(services, "http-limited")
    cancel = {"query": 'mutation { cancelReissue(reissueId: "rei_000000000000000000000000") { userErrors { code } } }'}
    async with httpx.AsyncClient(base_url=limited_api.url, timeout=30) as http:
        headers = {"Authorization": f"Bearer {token}"}
        assert (await http.post("/graphql", json=cancel, headers={**headers, "Accept": GQL})).status_code == 200
        for accept in (GQL, JSON):
            response = await http.post("/graphql", json=cancel, headers={**headers, "Accept": accept})
            body = assert_answer(response, 429, accept)
            assert int(response.headers["retry-after"]) >= 1
            assert body["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
            assert ("data" in body) is (accept == JSON)
