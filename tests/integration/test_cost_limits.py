"""The cost limits through the real HTTP stack: CERTS_RATE_LIMIT_PER_MINUTE counts what an
operation's mutations weigh (every aliased or fragment-spread field, ONLINE keys by their
size), all or none, and a refusal is a 429 with Retry-After (schema/cost.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid

import httpx
import pytest

from domain.model import Role
from schema.cost import ONLINE_KEY_WEIGHTS
from tests.conftest import ApiServer, GraphQLClient
from tests.integration.reissue_api import upload_cert

LIMIT = 40  # rate-limit units per minute on the limited server
MISSING_REISSUE = "rei_000000000000000000000000"
MISSING_CERT = "crt_000000000000000000000000"


def cancels(n: int, prefix: str = "c") -> str:
    """n aliased cancelReissue fields, one unit each (answered NOT_FOUND, nothing changes)."""
    return " ".join(
        f'{prefix}{i}: cancelReissue(reissueId: "{MISSING_REISSUE}") {{ userErrors {{ code }} }}' for i in range(n)
    )


REQUEST = """mutation Request($input: RequestReissueInput!) {
  requestReissue(input: $input) { reissue { id } privateKeyPem userErrors { code } }
}"""

async def fresh_window() -> None:
    """The rate limit's window is the wall-clock minute: start a test early in one, so a
    window boundary does not fall in the middle of it."""
    left = 60 - time.time() % 60
    if left < 10:
        await asyncio.sleep(left + 0.2)


def is_refused(response: httpx.Response) -> bool:
    errors = response.json().get("errors") or []
    return response.status_code == 429 and [e["extensions"]["code"] for e in errors] == ["RATE_LIMITED"]


def is_served(response: httpx.Response) -> bool:
    return response.status_code == 200 and not response.json().get("errors")


@pytest.fixture(scope="module")
def limited_api(settings, database_uri):
    server = ApiServer(dataclasses.replace(settings, rate_limit_per_minute=LIMIT), database_uri).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def limited(limited_api, services, new_account):
    """A client of the limited server with a fresh owner token (a budget of its own)."""
    account = new_account("limited")
    token = await services.tokens.create(account, [Role.OWNER])
    async with httpx.AsyncClient(base_url=limited_api.url, timeout=60) as http:
        yield GraphQLClient(http, token, account)


# --- the rate limit counts what the mutations weigh --------------------------------------


async def test_thirty_aliased_online_requests_in_one_fragment_are_refused_as_one_over_the_limit(
    limited, client_for, services
):
    await fresh_window()
    uploader = await client_for(limited.account, "owner")
    cert, _ = await upload_cert(uploader, f"www.z{uuid.uuid4().hex[:10]}.com")
    heavy = (
        f'requestReissue(input: {{certificateId: "{cert["id"]}", csrSource: ONLINE, keyAlgorithm: RSA, '
        f'keyParameter: "4096", reason: "r"}}) {{ reissue {{ id }} privateKeyPem userErrors {{ code }} }}'
    )
    fields = " ".join(f"a{i}: {heavy}" for i in range(30))
    attack = "mutation { ...Keys } fragment Keys on Mutation { ... on Mutation { %s } }" % fields

    refused = await limited.raw(attack)

    assert is_refused(refused), refused.text
    assert refused.json()["data"] is None
    assert str(30 * ONLINE_KEY_WEIGHTS[("RSA", "4096")]) in refused.json()["errors"][0]["message"]
    # Nothing ran: no reissue, no key.
    after = await uploader(
        "query C($id: ID!) { certificate(id: $id) { activeReissue { id } reissues { totalCount } } }", {"id": cert["id"]}
    )
    assert after["certificate"] == {"activeReissue": None, "reissues": {"totalCount": 0}}
    # Nothing was claimed either: the whole minute is still there, unit by unit.
    assert is_served(await limited.raw("mutation { %s }" % cancels(30)))
    assert is_served(await limited.raw("mutation { %s }" % cancels(LIMIT - 30)))
    assert is_refused(await limited.raw("mutation { %s }" % cancels(1)))


async def test_named_fragment_spreads_on_the_root_count_every_mutation_they_hold(limited):
    await fresh_window()
    spread = "mutation { ...Twenty } fragment Twenty on Mutation { %s }" % cancels(20)
    assert is_served(await limited.raw(spread))
    assert is_served(await limited.raw(spread))
    assert is_refused(await limited.raw(spread))


async def test_aliases_in_an_inline_fragment_on_the_root_each_count(limited):
    await fresh_window()
    inline = "mutation { ... on Mutation { %s } }" % cancels(LIMIT // 2)
    assert is_served(await limited.raw(inline))
    assert is_served(await limited.raw(inline))
    assert is_refused(await limited.raw("mutation { ... on Mutation { %s } }" % cancels(1)))


async def test_an_online_request_claims_the_weight_of_the_key_it_makes(limited):
    await fresh_window()

    def request(algorithm: str, parameter: str) -> dict:
        return {"input": {"certificateId": MISSING_CERT, "csrSource": "ONLINE",
                          "keyAlgorithm": algorithm, "keyParameter": parameter}}

    rsa4096, rsa2048 = ONLINE_KEY_WEIGHTS[("RSA", "4096")], ONLINE_KEY_WEIGHTS[("RSA", "2048")]
    assert rsa4096 + rsa2048 == LIMIT  # the test's arithmetic: these two fill the minute
    assert is_served(await limited.raw(REQUEST, request("RSA", "4096")))
    assert is_served(await limited.raw(REQUEST, request("RSA", "2048")))
    assert is_refused(await limited.raw(REQUEST, request("ECC", "prime256v1")))


async def test_skipped_mutations_are_not_charged(limited):
    await fresh_window()
    document = "mutation M($dry: Boolean!) { ... @skip(if: $dry) { %s } }" % cancels(30)
    for _ in range(5):
        assert is_served(await limited.raw(document, {"dry": True}))
    assert is_served(await limited.raw("mutation { %s }" % cancels(30)))
    assert is_served(await limited.raw("mutation { %s }" % cancels(LIMIT - 30)))


async def test_a_refused_operation_gives_back_the_units_it_had_claimed(limited):
    await fresh_window()
    assert is_served(await limited.raw("mutation { %s }" % cancels(30)))
    # 30 more do not fit: the 10 that did are released, not kept.
    assert is_refused(await limited.raw("mutation { %s }" % cancels(30)))
    assert is_served(await limited.raw("mutation { %s }" % cancels(LIMIT - 30)))
    assert is_refused(await limited.raw("mutation { %s }" % cancels(1)))


async def test_concurrent_operations_never_claim_more_than_the_limit_and_leak_nothing(limited):
    await fresh_window()
    operation = "mutation { %s }" % cancels(12)
    responses = await asyncio.gather(*(limited.raw(operation) for _ in range(8)))
    assert all(is_served(r) or is_refused(r) for r in responses)
    served = sum(is_served(r) for r in responses)
    assert 12 * served <= LIMIT
    # What the refused ones claimed was given back: exactly the rest of the minute is left.
    left = 0
    while is_served(await limited.raw("mutation { %s }" % cancels(1))):
        left += 1
        assert left <= LIMIT
    assert 12 * served + left == LIMIT


async def test_a_rate_limited_answer_is_a_429_with_retry_after_and_the_hint_in_its_body(limited):
    await fresh_window()
    assert is_served(await limited.raw("mutation { %s }" % cancels(30)))
    assert is_served(await limited.raw("mutation { %s }" % cancels(LIMIT - 30)))

    refused = await limited.raw("mutation { %s }" % cancels(1))

    assert refused.status_code == 429
    seconds = int(refused.headers["retry-after"])
    assert 1 <= seconds <= 60
    body = refused.json()
    assert body == {
        "data": None,
        "errors": [
            {"message": body["errors"][0]["message"], "extensions": {"code": "RATE_LIMITED", "retryAfter": seconds}}
        ],
    }
    assert body["errors"][0]["message"].endswith(f"retry after {seconds} s")
    # Queries are not rate limited.
    assert is_served(await limited.raw("{ certificates { totalCount } }"))


async def test_an_operation_heavier_than_the_whole_limit_is_refused_however_long_one_waits(limited):
    await fresh_window()
    heavy = ONLINE_KEY_WEIGHTS[("RSA", "4096")]
    key = (
        f'requestReissue(input: {{certificateId: "{MISSING_CERT}", csrSource: ONLINE, keyAlgorithm: RSA, '
        'keyParameter: "4096"}) { userErrors { code } }'
    )
    document = "mutation { key: %s %s }" % (key, cancels(LIMIT + 1 - heavy))

    refused = await limited.raw(document)

    assert is_refused(refused)
    message = refused.json()["errors"][0]["message"]
    assert f"costs {LIMIT + 1}" in message and f"{LIMIT} per minute" in message
    assert is_served(await limited.raw("mutation { %s }" % cancels(30)))  # it claimed nothing
    assert is_served(await limited.raw("mutation { %s }" % cancels(LIMIT - 30)))
