"""R3/R4 under real concurrency: many requestReissue calls at once, over HTTP, against one
and against two API processes sharing the database. Exactly one reissue per primary
domain may be in progress; the locks come free again on cancel and on issuance (R23, R24).
"""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx

from adapters.invariants import check_invariants
from domain.model import Role
from domain.reissues import ACTIVE_STATUSES
from tests.conftest import GraphQLClient, new_token
from tests.support.serve import ServeProcess
from tests.integration.reissue_api import APPROVE, CANCEL, REQUEST, act, request, unique_zone, upload_cert

REQUESTS = 50
CERTIFICATES = 20
BLOCKED = {"PRIMARY_DOMAIN_LOCKED", "REISSUE_IN_PROGRESS"}
ACTIVE = [s.value for s in ACTIVE_STATUSES]
PENDING = dict(csrSource="ONLINE", keyAlgorithm="ECC", reason="concurrency")  # needs validation: stays pending
AT_ONCE = dict(csrSource="ORIGINAL", reason="concurrency")  # SAME_CSR, R19: issued in the request


async def upload_many(client, zone: str, count: int = CERTIFICATES) -> list[dict]:
    """`count` paid DV certificates h0..h{count-1}.<zone>, issued 10 days ago (R17: a new
    CSR needs domain validation), with their CSR on file (ORIGINAL is possible)."""
    uploaded = await asyncio.gather(*(upload_cert(client, f"h{i}.{zone}") for i in range(count)))
    return [cert for cert, _ in uploaded]


async def flood(clients: list[GraphQLClient], certificates: list[dict], count: int = REQUESTS, **input) -> list[dict]:
    """`count` concurrent requestReissue calls spread over the certificates and clients.
    Returns the payloads; any transport or GraphQL error fails the test."""

    async def one(i: int) -> dict:
        client = clients[i % len(clients)]
        variables = {"input": {"certificateId": certificates[i % len(certificates)]["id"], **input}}
        response = await client.raw(REQUEST, variables)
        assert response.status_code == 200, f"request {i}: HTTP {response.status_code}: {response.text[:500]}"
        body = response.json()
        assert not body.get("errors"), f"request {i}: {body['errors']}"
        return body["data"]["requestReissue"]

    return list(await asyncio.gather(*(one(i) for i in range(count))))


def split(payloads: list[dict]) -> tuple[list[dict], Counter]:
    """The successful reissues, and how many of the others failed with which code."""
    won = [p["reissue"] for p in payloads if not p["userErrors"]]
    codes = Counter(e["code"] for p in payloads for e in p["userErrors"])
    return won, codes


def assert_only_blocked(codes: Counter) -> None:
    assert set(codes) <= BLOCKED, f"unexpected failures: {dict(codes)}"


async def active_reissues(services, account: str, zone: str) -> list[dict]:
    query = {"account": account, "primaryDomain": zone, "status": {"$in": ACTIVE}}
    return await services.database.db.reissues.find(query).to_list()


async def assert_invariants(services, account: str) -> None:
    assert await check_invariants(services.database.db, accounts=[account]) == []


async def assert_exactly_one_winner(payloads: list[dict], services, account: str, zone: str) -> dict:
    won, codes = split(payloads)
    assert len(won) == 1, f"{len(won)} requests won: {[w['id'] for w in won]}; failures {dict(codes)}"
    assert sum(codes.values()) == REQUESTS - 1
    assert_only_blocked(codes)
    assert won[0]["status"] == "PENDING_DOMAIN_VALIDATION"
    assert [r["_id"] for r in await active_reissues(services, account, zone)] == [won[0]["id"]]
    await assert_invariants(services, account)
    return won[0]


# -- (a) one process ------------------------------------------------------------------


async def test_fifty_concurrent_requests_under_one_primary_domain_start_exactly_one_reissue(owner, services):
    zone = unique_zone()
    certificates = await upload_many(owner, zone)
    payloads = await flood([owner], certificates, **PENDING)
    await assert_exactly_one_winner(payloads, services, owner.account, zone)


# -- (b) two processes ------------------------------------------------------------------


async def test_fifty_requests_split_between_two_api_processes_start_exactly_one_reissue(
    owner, services, settings, database_uri, tmp_path
):
    zone = unique_zone()
    certificates = await upload_many(owner, zone)
    processes: list[ServeProcess] = []
    try:
        processes = [ServeProcess(settings, database_uri, tmp_path) for _ in range(2)]
        await asyncio.gather(*(p.wait_ready() for p in processes))
        token = await new_token(services, owner.account)
        async with (
            httpx.AsyncClient(base_url=processes[0].url, timeout=60) as first,
            httpx.AsyncClient(base_url=processes[1].url, timeout=60) as second,
        ):
            clients = [GraphQLClient(first, token, owner.account), GraphQLClient(second, token, owner.account)]
            payloads = await flood(clients, certificates, **PENDING)
    finally:
        for p in processes:
            p.stop()
    await assert_exactly_one_winner(payloads, services, owner.account, zone)
    for p in processes:
        assert p.process.returncode == 0, f"serve ended with {p.process.returncode}:\n{p.log()}"


# -- (c) the locks come free on cancel and on issuance -------------------------------------


async def test_the_primary_domain_is_free_again_after_cancel_and_after_issuance(
    client_for, new_account, services
):
    account = new_account("owner")
    owner = await client_for(account, "owner")
    reviewer = await client_for(account, "reviewer")
    zone = unique_zone()
    certificates = await upload_many(owner, zone)
    reviewed, _ = await upload_cert(owner, f"review.{zone}", brand="WOTRUS", level="OV", org="Old Ltd")

    async def fresh_owner() -> GraphQLClient:
        return await client_for(account, "owner")  # a token per round: rate limits are per token

    # Round 1, then cancel (R24): the next round has exactly one winner again.
    winner = await assert_exactly_one_winner(
        await flood([await fresh_owner()], certificates, **PENDING), services, account, zone
    )
    assert (await act(owner, CANCEL, winner["id"]))["reissue"]["status"] == "CANCELLED"
    await assert_invariants(services, account)
    winner = await assert_exactly_one_winner(
        await flood([await fresh_owner()], certificates, **PENDING), services, account, zone
    )
    assert (await act(owner, CANCEL, winner["id"]))["reissue"]["status"] == "CANCELLED"

    # Manual review (R13) holds the domain; approval issues it while 50 requests race it.
    started = await request(owner, certificateId=reviewed["id"], reason="rename", organizationName="New Ltd")
    assert started["reissue"]["status"] == "PENDING_MANUAL_REVIEW"
    blocked, codes = split(await flood([await fresh_owner()], certificates, count=CERTIFICATES, **PENDING))
    assert blocked == [] and codes == {"PRIMARY_DOMAIN_LOCKED": CERTIFICATES}
    approval, raced = await asyncio.gather(
        act(reviewer, APPROVE, started["reissue"]["id"]),
        flood([await fresh_owner()], certificates, **PENDING),
    )
    assert approval["userErrors"] == [] and approval["reissue"]["status"] == "ISSUED"
    assert approval["reissue"]["certificate"]["reissueCount"] == 1
    won, codes = split(raced)
    assert len(won) <= 1, f"{len(won)} requests won while the approval released the locks"
    assert_only_blocked(codes)
    await assert_invariants(services, account)
    for reissue in won:
        assert (await act(owner, CANCEL, reissue["id"]))["reissue"]["status"] == "CANCELLED"

    # Issued at once (R19): each success releases the domain before its response, so
    # several may succeed one after another, but every one is applied exactly once.
    won, codes = split(await flood([await fresh_owner()], certificates, **AT_ONCE))
    assert won and all(r["status"] == "ISSUED" for r in won)
    assert_only_blocked(codes)
    assert await active_reissues(services, account, zone) == []
    await assert_invariants(services, account)
    per_certificate = Counter(r["certificate"]["id"] for r in won)
    stored = {
        c["_id"]: c
        for c in await services.database.db.certificates.find({"account": account, "primaryDomain": zone}).to_list()
    }
    for cert in certificates:
        doc = stored[cert["id"]]
        assert doc["reissueCount"] == per_certificate[cert["id"]], cert["id"]
        assert len(doc["versions"]) == per_certificate[cert["id"]] + 1, cert["id"]

    # And one after another: right after an immediate issuance the next certificate can start.
    first = await request(owner, certificateId=certificates[0]["id"], **AT_ONCE)
    assert first["userErrors"] == [] and first["reissue"]["status"] == "ISSUED"
    second = await request(owner, certificateId=certificates[1]["id"], **AT_ONCE)
    assert second["userErrors"] == [] and second["reissue"]["status"] == "ISSUED"
    third = await request(owner, certificateId=certificates[2]["id"], **PENDING)
    assert third["userErrors"] == [] and third["reissue"]["status"] == "PENDING_DOMAIN_VALIDATION"
    assert [r["_id"] for r in await active_reissues(services, account, zone)] == [third["reissue"]["id"]]
    await assert_invariants(services, account)
