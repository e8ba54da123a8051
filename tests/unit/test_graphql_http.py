"""GraphQL over HTTP (https://graphql.github.io/graphql-over-http/draft/), the pure parts of
certreissue/graphql_http.py: which media type an Accept header gets, which request
Content-Types are taken, how the request parameters are read from a POST body and a GET
query string, and what status a GraphQL result is answered with."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from graphql import GraphQLError
from strawberry.types import ExecutionResult

from certreissue.graphql_http import (
    GRAPHQL_RESPONSE_JSON,
    JSON,
    UnsupportedMediaType,
    check_content_type,
    negotiate,
    read_get,
    read_post,
    response_body_and_status,
)
from certreissue.request_json import BadRequest

# -- Accept ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, JSON),  # legacy clients: no Accept means application/json (see the README)
        ("", JSON),
        (",,,", JSON),  # no media range at all: as if there were no Accept
        ("*/*", JSON),
        ("application/*", JSON),
        ("application/json", JSON),
        ("application/graphql-response+json", GRAPHQL_RESPONSE_JSON),
        ("application/graphql-response+json, application/json", GRAPHQL_RESPONSE_JSON),
        ("application/json, application/graphql-response+json", GRAPHQL_RESPONSE_JSON),
        ("application/graphql-response+json;q=0.9, application/json", JSON),
        ("application/graphql-response+json, application/json;q=0.9", GRAPHQL_RESPONSE_JSON),
        ("application/graphql-response+json; charset=utf-8, application/json; charset=utf-8", GRAPHQL_RESPONSE_JSON),
        ("Application/GraphQL-Response+JSON", GRAPHQL_RESPONSE_JSON),
        ("application/json;q=0.5, */*;q=0.8", GRAPHQL_RESPONSE_JSON),  # the more specific range wins for json
        ("text/html, application/xhtml+xml, */*;q=0.8", JSON),  # a browser
        ("application/graphql-response+json;q=0, */*", JSON),
        ("application/json;charset=UTF-8", JSON),
        ("application/json; charset=\"utf-8\"", JSON),
        ("application/json;q=0.001", JSON),
    ],
)
def test_accept_chooses_the_highest_priority_type_the_service_serves(accept, chosen):
    assert negotiate(accept) == chosen


@pytest.mark.parametrize(
    "accept",
    [
        "text/html",
        "application/xml",
        "application/json;q=0",
        "application/json;q=0, application/graphql-response+json;q=0",
        "*/*;q=0",
        "application/json; charset=iso-8859-1",  # only UTF-8 is served
        "application/graphql-response+json; charset=utf-16",
        "application/json;q=2",  # a q-value out of range is no preference at all
        "application/json;q=abc",
        "nonsense",
    ],
)
def test_accept_without_a_type_the_service_serves_gets_none(accept):
    assert negotiate(accept) is None


# -- Content-Type ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8", 'application/json; charset="utf-8"'],
)
def test_json_in_utf8_is_the_request_type(content_type):
    check_content_type(content_type)


@pytest.mark.parametrize(
    ("content_type", "words"),
    [
        (None, "Content-Type"),
        ("", "Content-Type"),
        ("text/plain;charset=UTF-8", "text/plain"),
        ("application/graphql", "application/graphql"),
        ("application/x-www-form-urlencoded", "application/x-www-form-urlencoded"),
        ("multipart/form-data; boundary=x", "multipart/form-data"),
        ("application/graphql-response+json", "application/graphql-response+json"),
        ("application/jsonx", "application/jsonx"),
        ("application/json; charset=latin1", "UTF-8"),
        ("application/json; charset=utf-16", "UTF-8"),
    ],
)
def test_any_other_request_type_is_unsupported(content_type, words):
    with pytest.raises(UnsupportedMediaType) as refused:
        check_content_type(content_type)
    assert words in str(refused.value)


# -- parameters of a POST -------------------------------------------------------------------


def post(value) -> bytes:
    return json.dumps(value).encode()


def test_a_post_body_gives_the_four_parameters():
    request = read_post(post({"query": "{ a }", "operationName": "A", "variables": {"x": 1}, "extensions": {"e": 2}}))
    assert (request.query, request.operation_name, request.variables, request.extensions) == (
        "{ a }", "A", {"x": 1}, {"e": 2},
    )


def test_null_parameters_are_the_same_as_absent_ones():
    request = read_post(post({"query": "{ a }", "operationName": None, "variables": None, "extensions": None}))
    assert (request.operation_name, request.variables, request.extensions) == (None, None, None)


def test_an_empty_operation_name_is_the_same_as_none():
    assert read_post(post({"query": "{ a }", "operationName": ""})).operation_name is None


def test_a_request_without_query_reads_and_the_missing_query_is_decided_later():
    # A persisted query (extensions.persistedQuery) has no `query`: not an error here.
    assert read_post(post({"extensions": {"persistedQuery": {}}})).query is None


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"query": {"obj": "ect"}}, "`query` must be a string"),
        ({"query": 0}, "`query` must be a string"),
        ({"query": False}, "`query` must be a string"),
        ({"query": ["array"]}, "`query` must be a string"),
        ({"query": "{ a }", "operationName": {"obj": "ect"}}, "`operationName` must be a string"),
        ({"query": "{ a }", "operationName": 0}, "`operationName` must be a string"),
        ({"query": "{ a }", "operationName": False}, "`operationName` must be a string"),
        ({"query": "{ a }", "operationName": ["array"]}, "`operationName` must be a string"),
        ({"query": "{ a }", "variables": "string"}, "`variables` must be an object"),
        ({"query": "{ a }", "variables": 0}, "`variables` must be an object"),
        ({"query": "{ a }", "variables": [7]}, "`variables` must be an object"),
        ({"query": "{ a }", "extensions": "string"}, "`extensions` must be an object"),
        ({"query": "{ a }", "extensions": False}, "`extensions` must be an object"),
        ([{"query": "{ a }"}], "batches"),
    ],
)
def test_parameters_of_the_wrong_type_are_a_bad_request(body, words):
    with pytest.raises(BadRequest) as refused:
        read_post(post(body))
    assert words in str(refused.value)


def test_a_body_that_is_not_json_is_a_bad_request():
    with pytest.raises(BadRequest, match="not valid JSON"):
        read_post(b'{ "not a JSON')
    with pytest.raises(BadRequest, match="not valid JSON"):
        read_post(b"")


# -- parameters of a GET --------------------------------------------------------------------


def get(**params) -> bytes:
    return urlencode(params).encode()


def test_a_get_query_string_gives_the_four_parameters_with_json_variables_and_extensions():
    request = read_get(get(query="{ a }", operationName="A", variables='{"x": 1}', extensions='{"e": 2}'))
    assert (request.query, request.operation_name, request.variables, request.extensions) == (
        "{ a }", "A", {"x": 1}, {"e": 2},
    )


def test_an_empty_operation_name_in_a_get_is_omitted_and_null_is_a_name():
    assert read_get(get(query="{ a }", operationName="")).operation_name is None
    assert read_get(get(query="query null { a }", operationName="null")).operation_name == "null"


def test_empty_or_null_variables_in_a_get_are_absent():
    assert read_get(get(query="{ a }", variables="")).variables is None
    assert read_get(get(query="{ a }", variables="null")).variables is None


def test_utf8_in_a_get_is_read_and_plus_is_a_space():
    assert read_get("query=%7B+__type(name%3A+%22Run%F0%9F%8F%83%22)+%7D".encode()).query == '{ __type(name: "Run🏃") }'


@pytest.mark.parametrize(
    ("query_string", "words"),
    [
        (b"query=%FF%FE", "UTF-8"),
        (b"query=%7B+a+%7D&query=%7B+b+%7D", "more than once"),
        (get(query="{ a }", variables="[1]"), "`variables` must be an object"),
        (get(query="{ a }", variables="{not json"), "not valid JSON"),
        (get(query="{ a }", extensions='"x"'), "`extensions` must be an object"),
    ],
)
def test_a_get_with_unreadable_parameters_is_a_bad_request(query_string, words):
    with pytest.raises(BadRequest) as refused:
        read_get(query_string)
    assert words in str(refused.value)


def test_unknown_get_parameters_are_ignored():
    assert read_get(get(query="{ a }", cachebuster="123")).query == "{ a }"


# -- status codes and the data entry --------------------------------------------------------


def executed(data, *errors: GraphQLError) -> ExecutionResult:
    return ExecutionResult(data=data, errors=list(errors) or None)


FIELD_ERROR = GraphQLError("boom", path=["certificate"])
REQUEST_ERROR = GraphQLError("Syntax Error: Expected Name, found <EOF>.")


@pytest.mark.parametrize(
    ("result", "status", "has_data"),
    [
        (executed({"a": 1}), 200, True),
        (executed({"a": None}, FIELD_ERROR), 200, True),  # a partial response
        (executed(None, FIELD_ERROR), 200, True),  # a non-null root field failed: data null, 200
        (executed(None, REQUEST_ERROR), 400, False),  # parse/validation/coercion: no data, 400
        (executed(None, GraphQLError("x", extensions={"code": "QUERY_TOO_COSTLY"})), 400, False),
        (executed(None, GraphQLError("PersistedQueryNotFound", extensions={"code": "PERSISTED_QUERY_NOT_FOUND"})), 404, False),
        (executed(None, GraphQLError("down", extensions={"code": "DATABASE_UNAVAILABLE"})), 503, False),
        (executed(None, GraphQLError("Internal error.", extensions={"code": "INTERNAL_ERROR"})), 500, False),
    ],
)
def test_graphql_response_json_answers_request_errors_with_4xx_or_5xx_and_no_data(result, status, has_data):
    body, answered = response_body_and_status(result, GRAPHQL_RESPONSE_JSON, 200)
    assert answered == status
    assert ("data" in body) is has_data


@pytest.mark.parametrize(
    "result",
    [executed({"a": 1}), executed(None, FIELD_ERROR), executed(None, REQUEST_ERROR),
     executed(None, GraphQLError("PersistedQueryNotFound", extensions={"code": "PERSISTED_QUERY_NOT_FOUND"}))],
)
def test_application_json_answers_every_graphql_result_with_200_and_a_data_entry(result):
    body, status = response_body_and_status(result, JSON, 200)
    assert status == 200
    assert "data" in body


def test_a_status_the_operation_set_is_kept_in_both_media_types():
    limited = executed(None, GraphQLError("retry after 7 s", extensions={"code": "RATE_LIMITED", "retryAfter": 7}))
    assert response_body_and_status(limited, JSON, 429)[1] == 429
    assert response_body_and_status(limited, GRAPHQL_RESPONSE_JSON, 429)[1] == 429
