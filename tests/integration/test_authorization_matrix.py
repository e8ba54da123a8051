"""R26 and the README's "Decisions where the rules are silent", as one table: every query
and mutation of the contract, called by each kind of token (the account's owner and
viewer, the staff's reviewer and operator, the owner of another account), through the
real HTTP API.

The table was written from DOMAIN.md (R14, R22, R24, R26, R29) and the README, not from
what the code answers:

- Account tokens: `owner` does everything with its account's certificates and reissues;
  `viewer` reads them, and every mutation is FORBIDDEN. Another account's objects do not
  exist for an account token (null, absent from a list, NOT_FOUND).
- Staff tokens have no account: `reviewer` approves and rejects (R22), `operator` confirms
  the CA's verification (R14) and sets order facts (R29); both read any one object by its
  ID and work through `reviewQueue`; lists of one account's objects are FORBIDDEN to them.
  They never upload, request, validate, cancel or remind (FORBIDDEN).
- A missing role is FORBIDDEN: which is what any ID gets from such a token, so it is no
  hint that the object exists. `previewReissue` is the dry run of `requestReissue` (R12),
  so it needs what `requestReissue` needs: `owner`.
- A role that is allowed, on an object whose status forbids the action: INVALID_STATE
  (the rows "<operation>@<status>").

Every cell is a test of its own, with objects of its own (fresh accounts, a primary domain
of its own). Refused mutations are checked to have changed nothing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httpx
import pytest

from tests import certs
from certreissue.bootstrap import build_services
from tests.conftest import GraphQLClient, new_token
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
from tests.integration.test_upload_certificate import SET_ORDER_FACTS, UPLOAD

OTHER = "other-account-owner"
ROLES = ("owner", "viewer", "reviewer", "operator", OTHER)
F, NF = "FORBIDDEN", "NOT_FOUND"

# operation -> role -> outcome. "ok": no userErrors and the object is there (a query
# finds it); "null": the query answers null, or a list without it; otherwise the code of
# the one userErrors entry (or of the top-level error, for a query).
EXPECTED: dict[str, dict[str, str]] = {
    # -- queries --------------------------------------------------------------------
    "node": {"owner": "ok", "viewer": "ok", "reviewer": "ok", "operator": "ok", OTHER: "null"},
    "certificate": {"owner": "ok", "viewer": "ok", "reviewer": "ok", "operator": "ok", OTHER: "null"},
    "certificates": {"owner": "ok", "viewer": "ok", "reviewer": F, "operator": F, OTHER: "null"},
    "reissue": {"owner": "ok", "viewer": "ok", "reviewer": "ok", "operator": "ok", OTHER: "null"},
    "reissues": {"owner": "ok", "viewer": "ok", "reviewer": F, "operator": F, OTHER: "null"},
    "reviewQueue@PENDING_MANUAL_REVIEW": {"owner": F, "viewer": F, "reviewer": "ok", "operator": "null", OTHER: F},
    "reviewQueue@PENDING_CA_VERIFICATION": {"owner": F, "viewer": F, "reviewer": "null", "operator": "ok", OTHER: F},
    "previewReissue": {"owner": "ok", "viewer": F, "reviewer": F, "operator": F, OTHER: NF},
    # Webhooks are the account's: staff tokens have no account, so none (R26).
    "webhookEndpoints": {"owner": "ok", "viewer": "ok", "reviewer": F, "operator": F, OTHER: "null"},
    "webhookDeliveries": {"owner": "ok", "viewer": "ok", "reviewer": F, "operator": F, OTHER: "null"},
    "expiryNotificationThresholds": {"owner": "ok", "viewer": "ok", "reviewer": F, "operator": F, OTHER: "null"},
    # An account's DNS providers (R20): read by its tokens, configured and removed by its owner.
    "dnsProviders": {"owner": "ok", "viewer": "ok", "reviewer": F, "operator": F, OTHER: "null"},
    "webroots": {"owner": "ok", "viewer": "ok", "reviewer": F, "operator": F, OTHER: "null"},
    # -- mutations ------------------------------------------------------------------
    # Uploading touches no object of another account: the other owner uploads into its own.
    "uploadCertificate": {"owner": "ok", "viewer": F, "reviewer": F, "operator": F, OTHER: "ok"},
    "requestReissue": {"owner": "ok", "viewer": F, "reviewer": F, "operator": F, OTHER: NF},
    "checkDomainValidation": {"owner": "ok", "viewer": F, "reviewer": F, "operator": F, OTHER: NF},
    "approveReissue": {"owner": F, "viewer": F, "reviewer": "ok", "operator": F, OTHER: F},
    "rejectReissue": {"owner": F, "viewer": F, "reviewer": "ok", "operator": F, OTHER: F},
    "confirmCaVerification": {"owner": F, "viewer": F, "reviewer": F, "operator": "ok", OTHER: F},
    "setOrderFacts": {"owner": F, "viewer": F, "reviewer": F, "operator": "ok", OTHER: F},
    "cancelReissue": {"owner": "ok", "viewer": F, "reviewer": F, "operator": F, OTHER: NF},
    "remindReviewer": {"owner": "ok", "viewer": F, "reviewer": F, "operator": F, OTHER: NF},
    # The other owner creates into, and sets the thresholds of, its own account.
    "createWebhookEndpoint": {"owner": "ok", "viewer": F, "reviewer": F, "operator": F, OTHER: "ok"},
    "deleteWebhookEndpoint": {"owner": "ok", "viewer": F, "reviewer": F, "operator": F, OTHER: NF},
    "rotateWebhookSecret": {"owner": "ok", "viewer": F, "reviewer": F, "operator": F, OTHER: NF},
    "redeliverWebhook": {"owner": "ok", "viewer": F, "reviewer": F, "operator": F, OTHER: NF},
    "setExpiryNotificationThresholds": {"owner": "ok", "viewer": F, "reviewer": F, "operator": F, OTHER: "ok"},
    # Configuring touches no object of another account: the other owner configures its own.
    "configureDnsProvider": {"owner": "ok", "viewer": F, "reviewer": F, "operator": F, OTHER: "ok"},
    "removeDnsProvider": {"owner": "ok", "viewer": F, "reviewer": F, "operator": F, OTHER: NF},
    "configureWebroot": {"owner": "ok", "viewer": F, "reviewer": F, "operator": F, OTHER: "ok"},
    "removeWebroot": {"owner": "ok", "viewer": F, "reviewer": F, "operator": F, OTHER: NF},
    # -- the role is allowed, the status is not -----------------------------------------
    "approveReissue@PENDING_CA_VERIFICATION": {
        "owner": F, "viewer": F, "reviewer": "INVALID_STATE", "operator": F, OTHER: F,
    },
    "rejectReissue@PENDING_CA_VERIFICATION": {
        "owner": F, "viewer": F, "reviewer": "INVALID_STATE", "operator": F, OTHER: F,
    },
    "confirmCaVerification@PENDING_MANUAL_REVIEW": {
        "owner": F, "viewer": F, "reviewer": F, "operator": "INVALID_STATE", OTHER: F,
    },
    "checkDomainValidation@PENDING_MANUAL_REVIEW": {
        "owner": "INVALID_STATE", "viewer": F, "reviewer": F, "operator": F, OTHER: NF,
    },
    "remindReviewer@PENDING_CA_VERIFICATION": {
        "owner": "INVALID_STATE", "viewer": F, "reviewer": F, "operator": F, OTHER: NF,
    },
    "cancelReissue@ISSUED": {
        "owner": "INVALID_STATE", "viewer": F, "reviewer": F, "operator": F, OTHER: NF,
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
QUEUE = """
query Queue($after: String) {
  reviewQueue(first: 100, after: $after) { edges { node { id status } } pageInfo { hasNextPage endCursor } }
}
"""
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
        "viewer": await client_for(account, "viewer"),
        "reviewer": await client_for(account, "reviewer"),
        "operator": await client_for(account, "operator"),
        OTHER: await client_for(new_account("authz-other"), "owner"),
    }
    return World(account, clients)


FACTS = "query($id: ID!) { certificate(id: $id) { purchasedYears autoValidationConfigured orderFactChanges { fact } } }"


async def in_queue(client: GraphQLClient, reissue_id: str) -> str:
    """Walks the caller's whole review queue: "ok" when the reissue is in it."""
    after = None
    while True:
        response = await client.raw(QUEUE, {"after": after})
        if response.json().get("errors"):
            return top_level_code(response)
        page = response.json()["data"]["reviewQueue"]
        if any(e["node"]["id"] == reissue_id for e in page["edges"]):
            return "ok"
        if not page["pageInfo"]["hasNextPage"]:
            return "null"
        after = page["pageInfo"]["endCursor"]


def top_level_code(response) -> str:
    body = response.json()
    assert response.status_code == 200 and body["data"] is None, body
    (error,) = body["errors"]
    assert error["message"], error
    return error["extensions"]["code"]


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

    if name == "reviewQueue":
        reissue = await world.reissue_in(status)
        return await in_queue(client, reissue["id"])

    if name in ("certificates", "reissues") and role in ("reviewer", "operator"):
        await world.reissue_in(status)
        document = CERTIFICATES if name == "certificates" else REISSUES
        return top_level_code(await client.raw(document))

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
        input = {"certificatePem": issued.chain_pem, "privateKeyPem": issued.key_pem()}
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

    if name == "setOrderFacts":
        cert = await world.certificate("PAID_DV")
        input = {"certificateId": cert["id"], "purchasedYears": 2, "isFree": False}
        outcome = payload_outcome((await client(SET_ORDER_FACTS, {"input": input}))["setOrderFacts"], "certificate")
        stored = (await world.owner(FACTS, {"id": cert["id"]}))["certificate"]
        changed = stored["purchasedYears"] == 2
        assert changed == (outcome == "ok"), "a refused setOrderFacts changed the facts"
        assert len(stored["orderFactChanges"]) == (1 if outcome == "ok" else 0)
        return outcome

    if name in WEBHOOK_OPERATIONS:
        return await call_webhooks(world, name, role, client)

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


WEBHOOK_OPERATIONS = {
    "webhookEndpoints", "webhookDeliveries", "expiryNotificationThresholds", "createWebhookEndpoint",
    "deleteWebhookEndpoint", "rotateWebhookSecret", "setExpiryNotificationThresholds", "redeliverWebhook",
}
HOOK_URL = "http://127.0.0.1:9/hooks"  # nothing listens: deliveries stay PENDING
HOOKS = "query($after: String) { webhookEndpoints(first: 100, after: $after) { totalCount edges { node { id } } } }"
HOOK_DELIVERIES = """
query($filter: WebhookDeliveryFilter) {
  webhookDeliveries(first: 100, filter: $filter) { totalCount edges { node { id endpointId retryFrom } } }
}
"""
REDELIVER = """
mutation($id: ID!) {
  redeliverWebhook(input: {deliveryId: $id}) { delivery { id status retryFrom } userErrors { code message field } }
}
"""
THRESHOLDS = "{ expiryNotificationThresholds }"
CREATE_HOOK = """
mutation($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) { webhookEndpoint { id } secret userErrors { code message field } }
}
"""
HOOK_ACTIONS = {
    "deleteWebhookEndpoint": "mutation($id: ID!) { deleteWebhookEndpoint(input: {endpointId: $id}) "
                             "{ deletedEndpointId userErrors { code message field } } }",
    "rotateWebhookSecret": "mutation($id: ID!) { rotateWebhookSecret(input: {endpointId: $id}) "
                           "{ webhookEndpoint { id } secret userErrors { code message field } } }",
}
SET_THRESHOLDS = """
mutation($input: SetExpiryNotificationThresholdsInput!) {
  setExpiryNotificationThresholds(input: $input) { thresholds userErrors { code message field } }
}
"""


async def _owner_endpoint(world: World) -> str:
    payload = (await world.owner(CREATE_HOOK, {"input": {"url": HOOK_URL, "events": ["reissue.*"]}}))
    assert payload["createWebhookEndpoint"]["userErrors"] == []
    return payload["createWebhookEndpoint"]["webhookEndpoint"]["id"]


async def call_webhooks(world: World, name: str, role: str, client: GraphQLClient) -> str:
    staff = role in ("reviewer", "operator")
    if name == "webhookEndpoints":
        endpoint = await _owner_endpoint(world)
        if staff:
            return top_level_code(await client.raw(HOOKS))
        return listed((await client(HOOKS))["webhookEndpoints"], endpoint, role == OTHER)
    if name in ("webhookDeliveries", "redeliverWebhook"):
        endpoint = await _owner_endpoint(world)
        await world.reissue_in("PENDING_CA_VERIFICATION")
        for _ in range(300):  # the relay makes the delivery within a poll or two
            mine = (await world.owner(HOOK_DELIVERIES, {"filter": {"endpointId": endpoint}}))["webhookDeliveries"]
            if mine["edges"]:
                break
            await asyncio.sleep(0.1)
        delivery = mine["edges"][0]["node"]["id"]
        if name == "redeliverWebhook":
            payload = (await client(REDELIVER, {"id": delivery}))["redeliverWebhook"]
            outcome = payload_outcome(payload, "delivery")
            if outcome == "ok":
                assert payload["delivery"]["id"] == delivery and payload["delivery"]["retryFrom"]
            after = (await world.owner(HOOK_DELIVERIES, {"filter": {"endpointId": endpoint}}))["webhookDeliveries"]
            (node,) = [e["node"] for e in after["edges"] if e["node"]["id"] == delivery]
            assert (node["retryFrom"] is not None) == (outcome == "ok"), "a refused redelivery redelivered"
            return outcome
        if staff:
            return top_level_code(await client.raw(HOOK_DELIVERIES))
        everything = (await client(HOOK_DELIVERIES))["webhookDeliveries"]
        by_endpoint = (await client(HOOK_DELIVERIES, {"filter": {"endpointId": endpoint}}))["webhookDeliveries"]
        outcomes = {listed(everything, delivery, role == OTHER), listed(by_endpoint, delivery, role == OTHER)}
        assert len(outcomes) == 1, "the filtered list disagrees with the whole list"
        return outcomes.pop()
    if name == "expiryNotificationThresholds":
        set_ = (await world.owner(SET_THRESHOLDS, {"input": {"thresholds": [45, 3]}}))
        assert set_["setExpiryNotificationThresholds"]["userErrors"] == []
        if staff:
            return top_level_code(await client.raw(THRESHOLDS))
        return "ok" if (await client(THRESHOLDS))["expiryNotificationThresholds"] == [45, 3] else "null"
    if name == "createWebhookEndpoint":
        before = (await world.owner(HOOKS))["webhookEndpoints"]["totalCount"]
        payload = (await client(CREATE_HOOK, {"input": {"url": HOOK_URL, "events": ["reissue.issued"]}}))
        outcome = payload_outcome(payload["createWebhookEndpoint"], "webhookEndpoint")
        assert (payload["createWebhookEndpoint"]["secret"] is not None) == (outcome == "ok")
        after = (await world.owner(HOOKS))["webhookEndpoints"]["totalCount"]
        assert after == before + (1 if outcome == "ok" and role != OTHER else 0), "created in the wrong account"
        return outcome
    if name == "setExpiryNotificationThresholds":
        payload = (await client(SET_THRESHOLDS, {"input": {"thresholds": [60, 2]}}))
        outcome = payload_outcome(payload["setExpiryNotificationThresholds"], "thresholds")
        mine = (await world.owner(THRESHOLDS))["expiryNotificationThresholds"]
        assert (mine == [60, 2]) == (outcome == "ok" and role != OTHER), "set in the wrong account"
        return outcome
    endpoint = await _owner_endpoint(world)
    payload = next(iter((await client(HOOK_ACTIONS[name], {"id": endpoint})).values()))
    outcome = payload_outcome(payload, "deletedEndpointId" if name == "deleteWebhookEndpoint" else "webhookEndpoint")
    still = [e["node"]["id"] for e in (await world.owner(HOOKS))["webhookEndpoints"]["edges"]]
    assert (endpoint in still) == (outcome != "ok" or name != "deleteWebhookEndpoint"), "a refused delete deleted"
    return outcome


CELLS = [
    pytest.param(operation, role, id=f"{operation}-by-{role}")
    for operation, by_role in EXPECTED.items()
    for role in ROLES
]


def test_the_table_covers_every_operation_of_the_contract_and_every_role():
    operations = {
        "node", "certificate", "certificates", "reissue", "reissues", "previewReissue", "reviewQueue",
        "uploadCertificate", "requestReissue", "checkDomainValidation", "approveReissue",
        "rejectReissue", "confirmCaVerification", "setOrderFacts", "cancelReissue", "remindReviewer",
        "webhookEndpoints", "webhookDeliveries", "expiryNotificationThresholds", "createWebhookEndpoint",
        "deleteWebhookEndpoint", "rotateWebhookSecret", "setExpiryNotificationThresholds", "redeliverWebhook",
        "dnsProviders", "configureDnsProvider", "removeDnsProvider", "webroots", "configureWebroot",
        "removeWebroot",
    }
    assert operations <= {name.partition("@")[0] for name in EXPECTED}
    assert all(set(by_role) == set(ROLES) for by_role in EXPECTED.values())


@pytest.mark.parametrize(("operation", "role"), CELLS)
async def test_authorization(world, operation, role, request):
    expected = EXPECTED[operation][role]
    if operation in DNS_PROVIDER_OPERATIONS:
        # Knot DNS and an API that sees its zone (the probe), only for these cells.
        knot, knot_api = request.getfixturevalue("knot"), request.getfixturevalue("knot_api")
        async with httpx.AsyncClient(base_url=knot_api.url, timeout=30) as knot_http:
            clients = await clients_on(request, "knot_settings", knot_http, world)
            assert await call_dns_provider(clients, operation, role, knot) == expected
        return
    if operation in WEBROOT_OPERATIONS:
        # nginx serving the webroots and an API with a webroot base, only for these cells.
        site, file_api = request.getfixturevalue("webroot_site"), request.getfixturevalue("file_api")
        dns_server = request.getfixturevalue("dns_server")
        async with httpx.AsyncClient(base_url=file_api.url, timeout=30) as file_http:
            clients = await clients_on(request, "file_settings", file_http, world)
            assert await call_webroot(clients, operation, role, site, dns_server) == expected
        return
    assert await call(world, operation, role) == expected


async def clients_on(request, settings_fixture: str, http: httpx.AsyncClient, world: World) -> dict[str, GraphQLClient]:
    """The world's roles, with tokens of their own on an API whose database is its own (the
    Knot and nginx APIs: no other process's sweeper acts between a test's steps)."""
    services = build_services(request.getfixturevalue(settings_fixture), request.getfixturevalue("database_uri"))
    made = {}
    try:
        for role in ROLES:
            account = world.clients[OTHER].account if role == OTHER else world.account
            token = await new_token(services, account, "owner" if role == OTHER else role)
            made[role] = GraphQLClient(http, token, "" if role in ("reviewer", "operator") else account, {})
    finally:
        await services.close()
    return made


DNS_PROVIDER_OPERATIONS = ("dnsProviders", "configureDnsProvider", "removeDnsProvider")
CONFIGURE = """
mutation($input: ConfigureDnsProviderInput!) {
  configureDnsProvider(input: $input) { dnsProvider { id zone } userErrors { code message field } }
}
"""
REMOVE = "mutation($id: ID!) { removeDnsProvider(id: $id) { removedId userErrors { code message field } } }"
PROVIDERS = "{ dnsProviders { id zone } }"


async def call_dns_provider(clients: dict[str, GraphQLClient], operation: str, role: str, knot) -> str:
    """The same table for DNS providers, through the API that sees the Knot server (its
    probe must be seen); a refused call changes no account's providers."""
    input = {"zone": knot.zone, "server": "127.0.0.1", "port": knot.port, "tsigKeyName": knot.key_name,
             "tsigAlgorithm": knot.algorithm, "tsigSecret": knot.secret}
    owner = clients["owner"]

    async def providers(client: GraphQLClient) -> list[str]:
        return [p["id"] for p in (await client(PROVIDERS))["dnsProviders"]]

    if operation == "configureDnsProvider":
        client = clients[role]
        before = await providers(owner)
        payload = (await client(CONFIGURE, {"input": input}))["configureDnsProvider"]
        outcome = payload_outcome(payload, "dnsProvider")
        after = await providers(owner)
        assert len(after) == len(before) + (1 if outcome == "ok" and role != OTHER else 0), \
            "the provider landed in the wrong account, or a refused one was saved"
        return outcome
    configured = (await owner(CONFIGURE, {"input": input}))["configureDnsProvider"]
    assert configured["userErrors"] == [], configured["userErrors"]
    provider_id = configured["dnsProvider"]["id"]
    client = clients[role]
    if operation == "dnsProviders":
        response = await client.raw(PROVIDERS)
        if response.json().get("errors"):
            return top_level_code(response)
        return "ok" if provider_id in [p["id"] for p in response.json()["data"]["dnsProviders"]] else "null"
    payload = (await client(REMOVE, {"id": provider_id}))["removeDnsProvider"]
    outcome = payload_outcome(payload, "removedId")
    assert (provider_id in await providers(owner)) == (outcome != "ok"), "a refused removal removed it"
    return outcome


WEBROOT_OPERATIONS = ("webroots", "configureWebroot", "removeWebroot")
CONFIGURE_WEBROOT = """
mutation($input: ConfigureWebrootInput!) {
  configureWebroot(input: $input) { webroot { id domain } userErrors { code message field } }
}
"""
REMOVE_WEBROOT = "mutation($id: ID!) { removeWebroot(id: $id) { removedId userErrors { code message field } } }"
WEBROOTS = "{ webroots { id domain } }"


async def call_webroot(clients: dict[str, GraphQLClient], operation: str, role: str, site, dns_server) -> str:
    """The same table for webroots, through an API with a webroot base whose domains nginx
    serves; a refused call changes no account's webroots."""
    domain = f"www.{unique_zone()}"
    dns_server.resolver.set(domain, "A", ["127.0.0.1"])
    owner = clients["owner"]

    async def webroots(client: GraphQLClient) -> list[str]:
        return [w["id"] for w in (await client(WEBROOTS))["webroots"]]

    if operation == "configureWebroot":
        client = clients[role]
        # nginx serves the caller's own area (the other owner configures into its own)
        site.serve(client.account or owner.account, domain)
        before = await webroots(owner)
        outcome = payload_outcome((await client(CONFIGURE_WEBROOT, {"input": {"domain": domain}}))["configureWebroot"],
                                  "webroot")
        after = await webroots(owner)
        assert len(after) == len(before) + (1 if outcome == "ok" and role != OTHER else 0), \
            "the webroot landed in the wrong account, or a refused one was saved"
        return outcome
    site.serve(owner.account, domain)
    configured = (await owner(CONFIGURE_WEBROOT, {"input": {"domain": domain}}))["configureWebroot"]
    assert configured["userErrors"] == [], configured["userErrors"]
    webroot_id = configured["webroot"]["id"]
    client = clients[role]
    if operation == "webroots":
        response = await client.raw(WEBROOTS)
        if response.json().get("errors"):
            return top_level_code(response)
        return "ok" if webroot_id in [w["id"] for w in response.json()["data"]["webroots"]] else "null"
    outcome = payload_outcome((await client(REMOVE_WEBROOT, {"id": webroot_id}))["removeWebroot"], "removedId")
    assert (webroot_id in await webroots(owner)) == (outcome != "ok"), "a refused removal removed it"
    return outcome
