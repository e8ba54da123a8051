"""GraphQL documents and helpers shared by the reissue integration tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from tests import certs
from tests.integration.test_upload_certificate import SET_ORDER_FACTS, UPLOAD

REISSUE_FIELDS = """
  id status flow domain csrSource csrPem keyAlgorithm keyParameter reason waivers notAfter notAfterCapped
  domainValidationRequired manualReviewRequired privateKeyProtected deployableToCloudServices
  domainValidation { method status dns { name type value } file { url path content } lastCheckedAt lastError }
  events { at actor from to note }
  createdAt updatedAt expiresAt completedAt
  certificate {
    id status reissueCount notAfter serialNumber keyAlgorithm keyParameter certificatePem
    organization { name } activeReissue { id }
    versions { serialNumber notBefore notAfter supersededAt issuedAt }
  }
"""

REQUEST = (
    """
mutation Request($input: RequestReissueInput!) {
  requestReissue(input: $input) {
    reissue { %s }
    privateKeyPem
    userErrors { code message field }
  }
}
"""
    % REISSUE_FIELDS
)

PREVIEW = """
query Preview($input: RequestReissueInput!) {
  previewReissue(input: $input) {
    eligibility { eligible flow reasons { code message field } }
    userErrors { code message field }
    domainValidationRequired manualReviewRequired waivers waiversUnavailableReason notAfter notAfterCapped
  }
}
"""


def _action(name: str, args: str = "$id: ID!", call: str = "reissueId: $id") -> str:
    return """
mutation Act(%s) {
  %s(%s) {
    reissue { %s }
    userErrors { code message field }
  }
}
""" % (args, name, call, REISSUE_FIELDS)


CHECK = _action("checkDomainValidation")
APPROVE = _action("approveReissue", "$id: ID!, $comment: String", "reissueId: $id, comment: $comment")
REJECT = _action("rejectReissue", "$id: ID!, $reason: String!", "reissueId: $id, reason: $reason")
CONFIRM = _action("confirmCaVerification")
CANCEL = _action("cancelReissue")
REMIND = _action("remindReviewer")
GET = "query Get($id: ID!) { reissue(id: $id) { %s } }" % REISSUE_FIELDS


def unique_zone() -> str:
    """A primary domain of its own for one test."""
    return f"z{uuid.uuid4().hex[:10]}.com"


def days_ago(days: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


async def upload_cert(
    client,
    name: str,
    *,
    brand: str = "OTHER",
    level: str | None = "DV",
    free: bool = False,
    method: str = "DNS",
    org: str | None = None,
    issued_days_ago: float = 10,
    days: int | None = None,
    sans: list[str] | None = None,
    with_csr: bool = True,
    with_key: bool = True,
    key=None,
    purchased_years: int | None = None,
    **extra,
) -> tuple[dict, certs.Issued]:
    """Uploads a certificate of the tests' CA (a trusted chain) for `name`, with its key
    (R27: keyVerified) and CSR. Brand, level and organization are the certificate's own
    (R29): issued under the brand's test intermediate with the level's policy OID. Order
    facts (free, years) are set by the session's operator."""
    issued = certs.issue(
        name, sans, key=key, org=org, not_before=days_ago(issued_days_ago), days=days, brand=brand, level=level
    )
    data = {"certificatePem": issued.chain_pem, "validationMethod": method, **extra}
    if with_key:
        data["privateKeyPem"] = issued.key_pem()
    if with_csr:
        data["csrPem"] = issued.csr_pem
    result = (await client(UPLOAD, {"input": data}))["uploadCertificate"]
    assert result["userErrors"] == [], result["userErrors"]
    certificate = result["certificate"]
    facts = {"isFree": free or None, "purchasedYears": purchased_years}
    if any(v is not None for v in facts.values()):
        certificate = await set_order_facts(client.as_staff("operator"), certificate["id"], **facts)
    return certificate, issued


async def set_order_facts(operator, certificate_id: str, **facts) -> dict:
    """R29: the operator sets order facts; returns the certificate (fails on userErrors)."""
    given = {k: v for k, v in facts.items() if v is not None}
    result = (await operator(SET_ORDER_FACTS, {"input": {"certificateId": certificate_id, **given}}))["setOrderFacts"]
    assert result["userErrors"] == [], result["userErrors"]
    return result["certificate"]


async def checked_dns_provider(services, account: str, zone: str) -> None:
    """R18's fact without a DNS server: a DNS provider of `account` for `zone` whose last
    check passed, written to the database as configureDnsProvider saves one after its probe
    (tests/integration/test_dns_auto.py configures them through a real server)."""
    from adapters.mongo_auto_validation import MongoDnsProviderStore
    from domain.auto_validation import DnsProvider

    store = MongoDnsProviderStore(services.database)
    now = datetime.now(UTC)
    await store.save(DnsProvider(
        id=store.new_id(), account=account, zone=zone, server="192.0.2.53", port=53, key_name="test-key",
        algorithm="hmac-sha256", sealed_secret=b"unused", created_at=now, checked_at=now, check_ok=True,
    ))


async def request(client, **input) -> dict:
    return (await client(REQUEST, {"input": input}))["requestReissue"]


async def act(client, document: str, reissue_id: str, **variables) -> dict:
    data = await client(document, {"id": reissue_id, **variables})
    return next(iter(data.values()))


def error_codes(payload: dict) -> list[str]:
    return [e["code"] for e in payload["userErrors"]]
