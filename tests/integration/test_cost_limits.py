"""The cost limits through the real HTTP stack: CERTS_RATE_LIMIT_PER_MINUTE counts what an
operation's mutations weigh (every aliased or fragment-spread field, ONLINE keys by their
size), a refusal is a 429 with Retry-After, and CERTS_MAX_QUERY_COST refuses an operation
that could return too many objects before any resolver runs (schema/cost.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid

import httpx
import pytest
from pymongo import monitoring

from domain.model import Role
from schema.cost import ONLINE_KEY_WEIGHTS
from tests.conftest import ApiServer, GraphQLClient, new_token
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

ATTACK_PAGE = (
    "certificates(first: 100) { edges { node { id domain "
    "reissues(first: 20) { edges { node { id status events { at } } } } } } }"
)
ATTACK = "{ " + " ".join(f"a{i}: {ATTACK_PAGE}" for i in range(30)) + " }"
ATTACK_COST = 729_030  # tests/unit/test_cost.py works it out


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
    token = await new_token(services, account)
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


# --- the query cost limit ---------------------------------------------------------------


class CommandCounter(monitoring.CommandListener):
    """Every command the service sends to the test database while enabled."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.enabled = False
        self.commands: list[str] = []

    def started(self, event):
        if self.enabled and event.database_name == self.database:
            self.commands.append(event.command_name)

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


@pytest.fixture(scope="module")
def counted_api(settings, database_uri):
    """A server (default query cost limit) whose database client reports its commands."""
    counter = CommandCounter(settings.db_name)
    monitoring.register(counter)
    server = ApiServer(dataclasses.replace(settings), database_uri).start()
    try:
        yield server, counter
    finally:
        server.stop()


async def fewest_commands(client: GraphQLClient, counter: CommandCounter, query: str, variables=None) -> int:
    """The commands of the cheapest of 6 runs: a background sweep (every 15 s, of every
    server of the run) may add some to one run."""
    counts = []
    for _ in range(6):
        counter.commands.clear()
        counter.enabled = True
        await client.raw(query, variables)
        counter.enabled = False
        counts.append(len(counter.commands))
        await asyncio.sleep(0.2)
    return min(counts)


async def test_a_query_that_could_return_too_many_objects_is_refused_before_it_runs(counted_api, owner, settings):
    server, counter = counted_api
    await upload_cert(owner, f"www.z{uuid.uuid4().hex[:10]}.com")
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
        client = GraphQLClient(http, owner.token)
        await client("{ __typename }")  # the server now knows the token (cached)

        response = await client.raw(ATTACK)

        assert response.status_code == 200
        body = response.json()
        assert body["data"] is None
        [error] = body["errors"]
        limit = settings.max_query_cost  # the default
        assert error["extensions"] == {"code": "QUERY_TOO_COSTLY", "cost": ATTACK_COST, "limit": limit}
        assert str(ATTACK_COST) in error["message"] and str(limit) in error["message"]
        # No resolver ran: not one database command, where a single page of it issues some.
        assert await fewest_commands(client, counter, ATTACK) == 0
        assert await fewest_commands(client, counter, "{ %s }" % ATTACK_PAGE.replace("100", "1", 1)) > 0


async def test_first_from_variables_counts_toward_the_query_cost(owner):
    query = """query Q($n: Int, $m: Int) { certificates(first: $n) { edges { node { id
        reissues(first: $m) { edges { node { id events { at } } } } } } } }"""
    refused = await owner.raw(query, {"n": 100, "m": 20})
    assert refused.status_code == 200
    assert [e["extensions"]["code"] for e in refused.json()["errors"]] == ["QUERY_TOO_COSTLY"]
    assert refused.json()["errors"][0]["extensions"]["cost"] == 1 + 100 * (3 + 20 * 12)
    assert (await owner(query, {"n": 100, "m": 5}))["certificates"]["edges"] == []


async def test_a_mutation_whose_answer_could_be_too_costly_is_refused_before_it_claims_or_runs(limited):
    await fresh_window()
    inner = "reissues(first: 100) { edges { node { id } } }"
    outer = "reissues(first: 100) { edges { node { certificate { %s } } } }" % inner
    document = 'mutation { cancelReissue(reissueId: "%s") { reissue { certificate { %s } } userErrors { code } } }' % (
        MISSING_REISSUE, outer,
    )
    refused = await limited.raw(document)
    assert refused.status_code == 200
    assert [e["extensions"]["code"] for e in refused.json()["errors"]] == ["QUERY_TOO_COSTLY"]
    # It claimed no rate-limit unit.
    assert is_served(await limited.raw("mutation { %s }" % cancels(30)))
    assert is_served(await limited.raw("mutation { %s }" % cancels(LIMIT - 30)))


async def test_a_max_query_cost_of_zero_turns_the_limit_off(settings, database_uri, services, new_account):
    server = ApiServer(dataclasses.replace(settings, max_query_cost=0), database_uri).start()
    try:
        token = await new_token(services, new_account("uncapped"))
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            data = await GraphQLClient(http, token)(ATTACK)
        assert [page["edges"] for page in data.values()] == [[]] * 30
    finally:
        server.stop()
