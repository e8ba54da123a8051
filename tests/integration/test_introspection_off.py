"""CERTS_GRAPHIQL=false, through the real HTTP stack: no answer hints at the schema with a
"Did you mean ...?" (tests/unit/test_no_suggestions.py has every kind)."""

from __future__ import annotations

import dataclasses

import httpx
import pytest

from tests.conftest import ApiServer, GraphQLClient

TYPO_IN_VARIABLES = "query($i: RequestReissueInput!) { previewReissue(input: $i) { manualReviewRequired } }"
TYPO_IN_DOCUMENT = "query($f: CertificateFilte) { certificates(frist: 1, filter: $f) { totalCount } }"


@pytest.fixture(scope="module")
def introspection_off_api(settings, database_uri):
    server = ApiServer(dataclasses.replace(settings, graphiql=False), database_uri).start()
    try:
        yield server
    finally:
        server.stop()


async def answers(url: str, token: str) -> list[str]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        client = GraphQLClient(http, token)
        typo_in_variables = await client.raw(TYPO_IN_VARIABLES, {"i": {"certificateId": "crt_1", "keyAlgorithm": "RS"}})
        typo_in_document = await client.raw(TYPO_IN_DOCUMENT)
    return [e["message"] for r in (typo_in_variables, typo_in_document) for e in r.json()["errors"]]


async def test_with_introspection_off_no_answer_says_did_you_mean(introspection_off_api, api, owner):
    hinted = await answers(api.url, owner.token)
    assert sum("Did you mean" in m for m in hinted) == 3, hinted  # GraphiQL on: hints, as before
    found = await answers(introspection_off_api.url, owner.token)
    assert len(found) == 3 and not any("did you mean" in m.lower() for m in found), found
    assert any("Value 'RS' does not exist in 'KeyAlgorithm' enum." in m for m in found), found
