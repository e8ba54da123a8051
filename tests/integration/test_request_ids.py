"""X-Request-ID is echoed (and put in every log line) only in a safe format; anything
else is replaced by a fresh ID, so a client cannot inject text into logs or headers."""

from __future__ import annotations

import re

import pytest

SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")


@pytest.mark.parametrize(
    "given",
    [
        "has spaces in it",
        'quote"d',
        "single'quote",
        "<script>alert(1)</script>",
        "abc%0d%0aSet-Cookie:x=1",
        "abc\\r\\nSet-Cookie: x=1",
        "a" * 65,
        "-starts-with-a-dash",
        "semi;colon",
        "comma,separated",
        "slash/path",
    ],
)
async def test_an_unsafe_request_id_is_replaced_by_a_fresh_one(http, given):
    response = await http.get("/healthz", headers={"X-Request-ID": given})
    returned = response.headers["x-request-id"]
    assert returned != given
    assert SAFE_REQUEST_ID.fullmatch(returned), returned


@pytest.mark.parametrize("given", ["trace-abc-123", "a", "A1.b2_c3:d4-e5", "7" * 64, "0af7651916cd43dd8448eb211c80319c"])
async def test_a_request_id_in_the_safe_format_is_echoed(http, given):
    response = await http.get("/healthz", headers={"X-Request-ID": given})
    assert response.headers["x-request-id"] == given
