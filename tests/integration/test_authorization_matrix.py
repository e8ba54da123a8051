"""R26 and the README's "Decisions where the rules are silent", as one table: every query
and mutation of the contract, called by each role of the account that owns the objects
and by the owner of another account, through the real HTTP API.

The table was written from the README and DOMAIN.md (R14, R22, R24, R26), not from what
the code answers:

- Reads (`node`, `certificate(s)`, `reissue(s)`) are open to every role of the account;
  another account's objects do not exist for the caller (null, or absent from a list).
- Upload, request, validate, cancel and remind need `owner`; approve and reject
  `reviewer` (R22); `confirmCaVerification` `operator` (R14). `previewReissue` is the dry
  run of `requestReissue` (R12), so it needs what `requestReissue` needs: `owner`.
- A missing role is FORBIDDEN; an object of another account is NOT_FOUND (R26). The owner
  of another account calling a reviewer's or an operator's mutation lacks that role:
  FORBIDDEN, which is what any ID gets from such a token, so it is no hint that the object
  exists.
- A role that is allowed, on an object whose status forbids the action: INVALID_STATE
  (the rows "<operation>@<status>").

Every cell is a test of its own, with objects of its own (fresh accounts, a primary domain
of its own). Refused mutations are checked to have changed nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from tests import certs
from tests.conftest import GraphQLClient
from tests.integration.reissue_api import (
    APPROVE,
    CANCEL,
    CHECK,
    CONFIRM,
    GET,
    PREVIEW,
    REJECT,
    REMIND,
    REQUEST,
    unique_zone,
    upload_cert,
)
from tests.integration.test_upload_certificate import UPLOAD

OTHER = "other-account-owner"
ROLES = ("owner", "reviewer", "operator", OTHER)

# operation -> role -> outcome. "ok": no userErrors and the object is there (a query
# finds it); "null": the query answers null, or a list without it; otherwise the code of
# the one userErrors entry.
EXPECTED: dict[str, dict[str, str]] = {
    # -- queries --------------------------------------------------------------------
    "node": {"owner": "ok", "reviewer": "ok", "operator": "ok", OTHER: "null"},
    "certificate": {"owner": "ok", "reviewer": "ok", "operator": "ok", OTHER: "null"},
    "certificates": {"owner": "ok", "reviewer": "ok", "operator": "ok", OTHER: "null"},
    "reissue": {"owner": "ok", "reviewer": "ok", "operator": "ok", OTHER: "null"},
    "reissues": {"owner": "ok", "reviewer": "ok", "operator": "ok", OTHER: "null"},
    "previewReissue": {"owner": "ok", "reviewer": "FORBIDDEN", "operator": "FORBIDDEN", OTHER: "NOT_FOUND"},
    # -- mutations ------------------------------------------------------------------
    # Uploading touches no object of another account: the other owner uploads into its own.
    "uploadCertificate": {"owner": "ok", "reviewer": "FORBIDDEN", "operator": "FORBIDDEN", OTHER: "ok"},
    "requestReissue": {"owner": "ok", "reviewer": "FORBIDDEN", "operator": "FORBIDDEN", OTHER: "NOT_FOUND"},
    "checkDomainValidation": {"owner": "ok", "reviewer": "FORBIDDEN", "operator": "FORBIDDEN", OTHER: "NOT_FOUND"},
    "approveReissue": {"owner": "FORBIDDEN", "reviewer": "ok", "operator": "FORBIDDEN", OTHER: "FORBIDDEN"},
    "rejectReissue": {"owner": "FORBIDDEN", "reviewer": "ok", "operator": "FORBIDDEN", OTHER: "FORBIDDEN"},
    "confirmCaVerification": {"owner": "FORBIDDEN", "reviewer": "FORBIDDEN", "operator": "ok", OTHER: "FORBIDDEN"},
    "cancelReissue": {"owner": "ok", "reviewer": "FORBIDDEN", "operator": "FORBIDDEN", OTHER: "NOT_FOUND"},
    "remindReviewer": {"owner": "ok", "reviewer": "FORBIDDEN", "operator": "FORBIDDEN", OTHER: "NOT_FOUND"},
    # -- the role is allowed, the status is not -----------------------------------------
    "approveReissue@PENDING_CA_VERIFICATION": {
        "owner": "FORBIDDEN", "reviewer": "INVALID_STATE", "operator": "FORBIDDEN", OTHER: "FORBIDDEN",
    },
    "rejectReissue@PENDING_CA_VERIFICATION": {
        "owner": "FORBIDDEN", "reviewer": "INVALID_STATE", "operator": "FORBIDDEN", OTHER: "FORBIDDEN",
    },
    "confirmCaVerification@PENDING_MANUAL_REVIEW": {
        "owner": "FORBIDDEN", "reviewer": "FORBIDDEN", "operator": "INVALID_STATE", OTHER: "FORBIDDEN",
    },
    "checkDomainValidation@PENDING_MANUAL_REVIEW": {
        "owner": "INVALID_STATE", "reviewer": "FORBIDDEN", "operator": "FORBIDDEN", OTHER: "NOT_FOUND",
    },
    "remindReviewer@PENDING_CA_VERIFICATION": {
        "owner": "INVALID_STATE", "reviewer": "FORBIDDEN", "operator": "FORBIDDEN", OTHER: "NOT_FOUND",
    },
    "cancelReissue@ISSUED": {
        "owner": "INVALID_STATE", "reviewer": "FORBIDDEN", "operator": "FORBIDDEN", OTHER: "NOT_FOUND",
    },
}

# The status each operation's reissue is in before the call ("ok" cells need it so).
SUBJECT_STATUS = {
    "node": "PENDING_CA_VERIFICATION",
    "certificate": "PENDING_CA_VERIFICATION",
    "certificates": "PENDING_CA_VERIFICATION",
    "reissue": "PENDING_CA_VERIFICATION",
    "reissues": "PENDING_CA_VERIFICATION",
    "checkDomainValidation": "PENDING_DOMAIN_VALIDATION",
    "approveReissue": "PENDING_MANUAL_REVIEW",
    "rejectReissue": "PENDING_MANUAL_REVIEW",
    "confirmCaVerification": "PENDING_CA_VERIFICATION",
    "cancelReissue": "PENDING_DOMAIN_VALIDATION",
    "remindReviewer": "PENDING_MANUAL_REVIEW",
}

NODE = "query Node($id: ID!) { node(id: $id) { __typename id } }"
CERTIFICATE = "query One($id: ID!) { certificate(id: $id) { id domain activeReissue { id } } }"
CERTIFICATES = """
query List($filter: CertificateFilter) {
  certificates(first: 100, filter: $filter) { totalCount edges { node { id } } }
}
"""
REISSUES = """
query Reissues($filter: ReissueFilter) {
  reissues(first: 100, filter: $filter) { totalCount edges { node { id status } } }
}
"""


@dataclass
class World:
    """Account A (owner, reviewer, operator tokens) and the owner of account B."""

    account: str
    clients: dict[str, GraphQLClient]
    made: list[dict] = field(default_factory=list)

    @property
    def owner(self) -> GraphQLClient:
        return self.clients["owner"]

    async def certificate(self, kind: str) -> dict:
        """A certificate of account A, under a primary domain of its own, issued 10 days
        ago (so R17's three days do not waive validation)."""
        zone = unique_zone()
        if kind == "WOTRUS_OV":
            cert, _ = await upload_cert(self.owner, f"corp.{zone}", brand="WOTRUS", level="OV", org="Old Org Ltd")
        elif kind == "DIGICERT_OV":
            cert, _ = await upload_cert(self.owner, f"pay.{zone}", brand="DIGICERT", level="OV", org="Pay Org Ltd")
        else:  # a paid DV certificate
            cert, _ = await upload_cert(self.owner, f"shop.{zone}", brand="SECTIGO", level="DV")
        return cert

    async def reissue_in(self, status: str) -> dict:
        """A reissue of account A in `status`, made by A's owner."""
        if status == "PENDING_MANUAL_REVIEW":
            # WoTrus OV with the original CSR (validation waived, SAME_CSR) and a new
            # organization name: manual review (R13).
            cert = await self.certificate("WOTRUS_OV")
            input = {"certificateId": cert["id"], "reason": "company renamed", "organizationName": "New Org Ltd"}
        elif status == "PENDING_CA_VERIFICATION":
            cert = await self.certificate("DIGICERT_OV")  # R14
            input = {"certificateId": cert["id"], "reason": "re-key"}
        elif status == "PENDING_DOMAIN_VALIDATION":
            # Paid DV, a new key generated online, issued 10 days ago: validation (R15, R17).
            cert = await self.certificate("PAID_DV")
            input = {"certificateId": cert["id"], "csrSource": "ONLINE", "reason": "key compromised"}
        elif status == "ISSUED":
            cert = await self.certificate("PAID_DV")  # the original CSR: waived, issued at once (R19)
            input = {"certificateId": cert["id"], "reason": "rotate"}
        else:
            raise AssertionError(status)
        payload = (await self.owner(REQUEST, {"input": input}))["requestReissue"]
        assert payload["userErrors"] == [], payload["userErrors"]
        reissue = payload["reissue"]
        assert reissue["status"] == status, reissue["status"]
        return reissue

    async def status_of(self, reissue_id: str) -> str:
        return (await self.owner(GET, {"id": reissue_id}))["reissue"]["status"]


@pytest.fixture
async def world(client_for, new_account) -> World:
    account = new_account("authz")
    clients = {
        "owner": await client_for(account, "owner"),
        "reviewer": await client_for(account, "reviewer"),
        "operator": await client_for(account, "operator"),
        OTHER: await client_for(new_account("authz-other"), "owner"),
    }
    return World(account, clients)


def payload_outcome(payload: dict, key: str) -> str:
    errors = payload["userErrors"]
    if not errors:
        assert payload[key] is not None, f"no userErrors, yet {key} is null"
        return "ok"
    assert len(errors) == 1, errors
    assert payload[key] is None, f"{errors[0]['code']} came with a {key}"
    assert errors[0]["message"], errors
    return errors[0]["code"]


def found(item: dict | None, object_id: str) -> str:
    if item is None:
        return "null"
    assert item["id"] == object_id
    return "ok"


def listed(connection: dict, object_id: str, caller_is_other: bool) -> str:
    ids = [e["node"]["id"] for e in connection["edges"]]
    if object_id in ids:
        return "ok"
    if caller_is_other:
        # Account B holds nothing: A's objects are not counted either.
        assert connection["totalCount"] == 0, connection
    return "null"


async def call(world: World, operation: str, role: str) -> str:
    """Sets up what `operation` needs, calls it as `role` and returns the outcome; checks
    that a refused mutation changed nothing."""
    client = world.clients[role]
    name, _, state = operation.partition("@")
    status = state or SUBJECT_STATUS.get(name)

    if name in ("node", "certificate", "certificates", "reissue", "reissues"):
        reissue = await world.reissue_in(status)
        cert_id = reissue["certificate"]["id"]
        if name == "node":
            node = (await client(NODE, {"id": reissue["id"]}))["node"]
            if node is not None:
                assert node["__typename"] == "Reissue"
            return found(node, reissue["id"])
        if name == "certificate":
            return found((await client(CERTIFICATE, {"id": cert_id}))["certificate"], cert_id)
        if name == "reissue":
            return found((await client(GET, {"id": reissue["id"]}))["reissue"], reissue["id"])
        if name == "certificates":
            everything = (await client(CERTIFICATES))["certificates"]
            zone = reissue["domain"].split(".", 1)[1]
            by_domain = (await client(CERTIFICATES, {"filter": {"primaryDomain": zone}}))["certificates"]
            outcomes = {listed(everything, cert_id, role == OTHER), listed(by_domain, cert_id, role == OTHER)}
            assert len(outcomes) == 1, "the filtered list disagrees with the whole list"
            return outcomes.pop()
        everything = (await client(REISSUES))["reissues"]
        by_cert = (await client(REISSUES, {"filter": {"certificateId": cert_id}}))["reissues"]
        outcomes = {listed(everything, reissue["id"], role == OTHER), listed(by_cert, reissue["id"], role == OTHER)}
        assert len(outcomes) == 1, "the filtered list disagrees with the whole list"
        return outcomes.pop()

    if name == "previewReissue":
        cert = await world.certificate("PAID_DV")
        input = {"certificateId": cert["id"], "csrSource": "ONLINE", "reason": "key compromised"}
        payload = (await client(PREVIEW, {"input": input}))["previewReissue"]
        if payload["userErrors"]:
            assert len(payload["userErrors"]) == 1, payload["userErrors"]
            return payload["userErrors"][0]["code"]
        assert payload["eligibility"]["eligible"] is True
        assert payload["domainValidationRequired"] is True
        return "ok"

    if name == "uploadCertificate":
        issued = certs.issue(f"upload.{unique_zone()}")
        input = {"certificatePem": issued.chain_pem, "privateKeyPem": issued.key_pem(),
                 "brand": "SECTIGO", "validationLevel": "DV"}
        before = (await world.owner(CERTIFICATES))["certificates"]["totalCount"]
        outcome = payload_outcome((await client(UPLOAD, {"input": input}))["uploadCertificate"], "certificate")
        after = (await world.owner(CERTIFICATES))["certificates"]["totalCount"]
        expected_growth = 1 if outcome == "ok" and role != OTHER else 0
        assert after == before + expected_growth, "the upload landed in the wrong account, or a refused one was stored"
        return outcome

    if name == "requestReissue":
        cert = await world.certificate("DIGICERT_OV")
        input = {"certificateId": cert["id"], "reason": "re-key"}
        outcome = payload_outcome((await client(REQUEST, {"input": input}))["requestReissue"], "reissue")
        active = (await world.owner(CERTIFICATE, {"id": cert["id"]}))["certificate"]["activeReissue"]
        assert (active is not None) == (outcome == "ok"), "a refused request left a reissue behind"
        return outcome

    # The mutations on one reissue.
    reissue = await world.reissue_in(status)
    document, variables = {
        "checkDomainValidation": (CHECK, {}),
        "approveReissue": (APPROVE, {"comment": "registry checked"}),
        "rejectReissue": (REJECT, {"reason": "registry says otherwise"}),
        "confirmCaVerification": (CONFIRM, {}),
        "cancelReissue": (CANCEL, {}),
        "remindReviewer": (REMIND, {}),
    }[name]
    data = await client(document, {"id": reissue["id"], **variables})
    outcome = payload_outcome(data[name], "reissue")
    if outcome != "ok":
        assert await world.status_of(reissue["id"]) == status, f"a refused {name} changed the reissue"
    else:
        after = {
            "checkDomainValidation": "PENDING_DOMAIN_VALIDATION",  # no record yet: still pending, diagnosed
            "approveReissue": "ISSUED",
            "rejectReissue": "REJECTED",
            "confirmCaVerification": "ISSUED",
            "cancelReissue": "CANCELLED",
            "remindReviewer": "PENDING_MANUAL_REVIEW",
        }[name]
        assert data[name]["reissue"]["status"] == after
        assert await world.status_of(reissue["id"]) == after
        if name == "checkDomainValidation":
            assert data[name]["reissue"]["domainValidation"]["lastError"], "a failed check says why (R21)"
    return outcome


CELLS = [
    pytest.param(operation, role, id=f"{operation}-by-{role}")
    for operation, by_role in EXPECTED.items()
    for role in ROLES
]


def test_the_table_covers_every_operation_of_the_contract_and_every_role():
    operations = {
        "node", "certificate", "certificates", "reissue", "reissues", "previewReissue",
        "uploadCertificate", "requestReissue", "checkDomainValidation", "approveReissue",
        "rejectReissue", "confirmCaVerification", "cancelReissue", "remindReviewer",
    }
    assert operations <= set(EXPECTED)
    assert all(set(by_role) == set(ROLES) for by_role in EXPECTED.values())


@pytest.mark.parametrize(("operation", "role"), CELLS)
async def test_authorization(world, operation, role):
    expected = EXPECTED[operation][role]
    assert await call(world, operation, role) == expected
