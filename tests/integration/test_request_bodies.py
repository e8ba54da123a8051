"""Request bodies that are not a GraphQL request in JSON are refused with 400 and a JSON
error body (code BAD_REQUEST) that says what was wrong, before any GraphQL runs: never a
500, whatever the bytes (a body in another media type is 415)."""

from __future__ import annotations

import json

import httpx
import pytest


def post(owner, body: bytes) -> httpx.Request:
    return owner.http.post(
        "/graphql",
        content=body,
        headers={"Authorization": f"Bearer {owner.token}", "Content-Type": "application/json"},
    )


def assert_bad_request(response: httpx.Response, *words: str) -> str:
    assert response.status_code == 400, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"] == {"code": "BAD_REQUEST"}
    for word in words:
        assert word in error["message"], error["message"]
    return error["message"]


def nested_list(depth: int) -> str:
    return "[" * depth + "]" * depth


def nested_object(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"query": "{ __typename }", "variables": {"x": "\xff\xfe"}}', id="invalid-byte"),
        pytest.param(b'{"query": "{ __typename \xc3 }"}', id="truncated-sequence"),
        pytest.param(b'{"query": "{ __typename }", "x": "\xed\xa0\x80"}', id="encoded-surrogate"),
        pytest.param(b'{"query": "{ __typename }", "x": "\xc0\xaf"}', id="overlong-encoding"),
        pytest.param('{"query": "{ __typename }"}'.encode("utf-16"), id="utf-16"),
    ],
)
async def test_a_body_that_is_not_valid_utf8_is_400(owner, body):
    assert_bad_request(await post(owner, body), "UTF-8")


async def test_a_hundred_thousand_nested_brackets_are_400(owner):
    assert_bad_request(await post(owner, nested_list(100_000).encode()), "nest", "64")


async def test_variables_nested_ten_thousand_objects_deep_are_400(owner):
    body = '{"query": "query($v: String) { __typename }", "variables": {"v": %s}}' % nested_object(10_000)
    assert_bad_request(await post(owner, body.encode()), "nest", "64")


async def test_nesting_is_refused_past_64_levels_and_accepted_up_to_them(owner):
    # The request object is level 1 and "variables" level 2: 62 more levels make 64.
    def body(levels: int) -> bytes:
        return ('{"query": "{ __typename }", "variables": {"unused": %s}}' % nested_list(levels)).encode()

    accepted = await post(owner, body(62))
    assert accepted.status_code == 200, accepted.text[:300]
    assert accepted.json() == {"data": {"__typename": "Query"}}
    assert_bad_request(await post(owner, body(63)), "64")


@pytest.mark.parametrize("body", ["[]", '[{"query": "{ __typename }"}]', '"x"', "1", "null", "true"])
async def test_a_body_that_is_not_a_json_object_is_400(owner, body):
    assert_bad_request(await post(owner, body.encode()), "JSON object")


@pytest.mark.parametrize(
    "body",
    ["{not json", "", '{"query": "{ __typename }"} trailing', '{"query": "{ __typename }"', "\ufeff{}"],
)
async def test_a_body_that_is_not_json_is_400_json(owner, body):
    assert_bad_request(await post(owner, body.encode()), "JSON")


async def test_a_number_too_long_to_read_is_400(owner):
    body = '{"query": "{ __typename }", "variables": {"n": %s}}' % ("9" * 5000)
    assert_bad_request(await post(owner, body.encode()))


async def test_an_unsupported_content_type_is_415_json(owner):
    response = await owner.http.post(
        "/graphql",
        content=json.dumps({"query": "{ __typename }"}).encode(),
        headers={"Authorization": f"Bearer {owner.token}", "Content-Type": "text/plain"},
    )
    assert response.status_code == 415, response.text
    assert response.headers["content-type"].startswith("application/json")
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "UNSUPPORTED_MEDIA_TYPE"}
    assert "content type" in error["message"] and "application/json" in error["message"]


async def test_variables_sent_by_get_nested_too_deep_are_400(owner):
    response = await owner.http.get(
        "/graphql",
        params={"query": "{ __typename }", "variables": '{"v": %s}' % nested_list(10_000)},
        headers={"Authorization": f"Bearer {owner.token}"},
    )
    assert_bad_request(response, "variables", "64")


async def test_a_query_sent_by_get_with_variables_still_works(owner):
    response = await owner.http.get(
        "/graphql",
        params={"query": "query($n: Int) { certificates(first: $n) { totalCount } }", "variables": '{"n": 1}'},
        headers={"Authorization": f"Bearer {owner.token}"},
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"certificates": {"totalCount": 0}}}
