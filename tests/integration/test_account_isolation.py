"""R26: a token belongs to one account; another account's objects do not exist for it,
and a role that is missing is FORBIDDEN."""

from __future__ import annotations

import pytest

from tests import certs
from tests.integration.test_upload_certificate import upload

CERTIFICATE = """
query One($id: ID!) {
  certificate(id: $id) { id domain primaryDomain privateKeyPem certificatePem }
}
"""

NODE = """
query Node($id: ID!) {
  node(id: $id) { __typename id ... on Certificate { domain privateKeyPem } }
}
"""

LIST = """
query List($filter: CertificateFilter) {
  certificates(first: 100, filter: $filter) { edges { node { id domain } } totalCount }
}
"""


@pytest.fixture
async def two_accounts(client_for, new_account):
    """Account A with one certificate (and its key), account B with one of its own."""
    a_name, b_name = new_account("a"), new_account("b")
    a = await client_for(a_name, "owner")
    b = await client_for(b_name, "owner")
    issued = certs.issue("secret.isolated-a.example")
    result = await upload(a, issued)
    assert result["userErrors"] == []
    b_result = await upload(b, certs.issue("mine.isolated-b.example"))
    assert b_result["userErrors"] == []
    return {
        "a_name": a_name,
        "a": a,
        "b": b,
        "issued": issued,
        "cert": result["certificate"],
        "b_cert": b_result["certificate"],
    }


async def test_another_accounts_certificate_is_null_by_id(two_accounts):
    a, b, cert = two_accounts["a"], two_accounts["b"], two_accounts["cert"]
    assert (await a(CERTIFICATE, {"id": cert["id"]}))["certificate"]["id"] == cert["id"]
    assert (await b(CERTIFICATE, {"id": cert["id"]}))["certificate"] is None


async def test_another_accounts_certificate_is_null_as_a_node(two_accounts):
    b, cert = two_accounts["b"], two_accounts["cert"]
    assert (await b(NODE, {"id": cert["id"]}))["node"] is None


async def test_the_owners_node_lookup_returns_the_certificate(two_accounts):
    a, cert = two_accounts["a"], two_accounts["cert"]
    node = (await a(NODE, {"id": cert["id"]}))["node"]
    assert node["__typename"] == "Certificate"
    assert node["id"] == cert["id"]
    assert node["domain"] == "secret.isolated-a.example"
    assert node["privateKeyPem"] == two_accounts["issued"].key_pem()


async def test_a_foreign_id_looks_exactly_like_one_that_never_existed(two_accounts):
    b, cert = two_accounts["b"], two_accounts["cert"]
    unknown = "crt_" + "0" * 24
    foreign = await b.raw(CERTIFICATE, {"id": cert["id"]})
    missing = await b.raw(CERTIFICATE, {"id": unknown})
    assert foreign.status_code == missing.status_code == 200
    assert foreign.json() == missing.json() == {"data": {"certificate": None}}
    foreign_node = await b.raw(NODE, {"id": cert["id"]})
    missing_node = await b.raw(NODE, {"id": unknown})
    assert foreign_node.json() == missing_node.json() == {"data": {"node": None}}


async def test_another_accounts_certificates_are_absent_from_the_list_and_its_total(two_accounts):
    a, b, cert, b_cert = two_accounts["a"], two_accounts["b"], two_accounts["cert"], two_accounts["b_cert"]
    b_list = (await b(LIST))["certificates"]
    assert [e["node"]["id"] for e in b_list["edges"]] == [b_cert["id"]]
    assert b_list["totalCount"] == 1
    a_list = (await a(LIST))["certificates"]
    assert [e["node"]["id"] for e in a_list["edges"]] == [cert["id"]]
    assert a_list["totalCount"] == 1


async def test_filters_do_not_reach_into_another_account(two_accounts):
    b = two_accounts["b"]
    for filter in (
        {"primaryDomain": "isolated-a.example"},
        {"domainContains": "secret"},
        {"status": "ISSUED", "domainContains": "isolated-a"},
    ):
        result = (await b(LIST, {"filter": filter}))["certificates"]
        assert result == {"edges": [], "totalCount": 0}, filter


async def test_uploading_a_certificate_another_account_holds_gives_no_hint_of_it(two_accounts):
    b, issued, cert = two_accounts["b"], two_accounts["issued"], two_accounts["cert"]
    result = await upload(b, issued)
    # The same certificate is a new one for B: no "already uploaded as <A's id>".
    assert result["userErrors"] == []
    assert result["certificate"]["id"] != cert["id"]
    assert cert["id"] not in str(result)


async def test_a_reviewer_token_reads_its_accounts_certificates(two_accounts, client_for):
    reviewer = await client_for(two_accounts["a_name"], "reviewer")
    cert = two_accounts["cert"]
    found = (await reviewer(CERTIFICATE, {"id": cert["id"]}))["certificate"]
    assert found["id"] == cert["id"] and found["domain"] == cert["domain"]
    listed = (await reviewer(LIST))["certificates"]
    assert [e["node"]["id"] for e in listed["edges"]] == [cert["id"]]


async def test_a_reviewer_token_cannot_upload_a_certificate(two_accounts, client_for):
    reviewer = await client_for(two_accounts["a_name"], "reviewer")
    result = await upload(reviewer, certs.issue("by-reviewer.isolated-a.example"))
    assert result["certificate"] is None
    assert len(result["userErrors"]) == 1
    assert result["userErrors"][0]["code"] == "FORBIDDEN"
    assert "owner" in result["userErrors"][0]["message"]
    # And nothing was stored.
    listed = (await reviewer(LIST))["certificates"]
    assert listed["totalCount"] == 1


@pytest.mark.parametrize("roles", [("reviewer",), ("operator",), ("reviewer", "operator")])
async def test_the_private_key_is_null_for_a_token_without_the_owner_role(two_accounts, client_for, roles):
    other = await client_for(two_accounts["a_name"], *roles)
    cert = two_accounts["cert"]
    found = (await other(CERTIFICATE, {"id": cert["id"]}))["certificate"]
    assert found is not None and found["certificatePem"]
    assert found["privateKeyPem"] is None
    node = (await other(NODE, {"id": cert["id"]}))["node"]
    assert node["privateKeyPem"] is None


async def test_the_owner_role_alongside_others_still_downloads_the_key(two_accounts, client_for):
    both = await client_for(two_accounts["a_name"], "owner", "reviewer")
    found = (await both(CERTIFICATE, {"id": two_accounts["cert"]["id"]}))["certificate"]
    assert found["privateKeyPem"] == two_accounts["issued"].key_pem()
