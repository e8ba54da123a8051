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
    issued = certs.issue("secret.isolated-a.net")
    result = await upload(a, issued)
    assert result["userErrors"] == []
    b_result = await upload(b, certs.issue("mine.isolated-b.net"))
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
    assert node["domain"] == "secret.isolated-a.net"
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
        {"primaryDomain": "isolated-a.net"},
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


async def test_a_viewer_token_reads_its_accounts_certificates(two_accounts, client_for):
    # R26: viewer reads the certificates and reissues of its account
    viewer = await client_for(two_accounts["a_name"], "viewer")
    cert = two_accounts["cert"]
    found = (await viewer(CERTIFICATE, {"id": cert["id"]}))["certificate"]
    assert found["id"] == cert["id"] and found["domain"] == cert["domain"]
    listed = (await viewer(LIST))["certificates"]
    assert [e["node"]["id"] for e in listed["edges"]] == [cert["id"]]


async def test_a_viewer_token_cannot_upload_a_certificate(two_accounts, client_for):
    # R26: every mutation of a viewer is FORBIDDEN
    viewer = await client_for(two_accounts["a_name"], "viewer")
    result = await upload(viewer, certs.issue("by-viewer.isolated-a.net"))
    assert result["certificate"] is None
    assert len(result["userErrors"]) == 1
    assert result["userErrors"][0]["code"] == "FORBIDDEN"
    assert "owner" in result["userErrors"][0]["message"]
    # And nothing was stored.
    listed = (await viewer(LIST))["certificates"]
    assert listed["totalCount"] == 1


@pytest.mark.parametrize("role", ["viewer", "reviewer", "operator"])
async def test_the_private_key_is_null_for_every_role_but_owner(two_accounts, client_for, role):
    # R26: staff never see private keys; viewers read, they do not download keys
    other = await client_for(two_accounts["a_name"], role)
    cert = two_accounts["cert"]
    found = (await other(CERTIFICATE, {"id": cert["id"]}))["certificate"]
    assert found is not None and found["certificatePem"]
    assert found["privateKeyPem"] is None
    node = (await other(NODE, {"id": cert["id"]}))["node"]
    assert node["privateKeyPem"] is None


@pytest.mark.parametrize("role", ["reviewer", "operator"])
async def test_a_staff_token_reads_one_certificate_by_id_but_lists_no_accounts_certificates(
    two_accounts, client_for, role
):
    # R26: staff have no account; they read an object by its ID (to review it), never a list
    staff = await client_for("ignored", role)
    found = (await staff(CERTIFICATE, {"id": two_accounts["cert"]["id"]}))["certificate"]
    assert found["id"] == two_accounts["cert"]["id"]
    response = await staff.raw(LIST)
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "FORBIDDEN" and "staff" in error["message"]
