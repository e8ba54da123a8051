"""The scenarios: the GraphQL documents, the floor routes that answer the same JSON, and
the HTTP requests the load generator sends. Pure data; imported by every process."""

from __future__ import annotations

import json

SCENARIOS = ("certificate", "certificates50", "previewReissue", "reissueCycle")

CERTIFICATE = (
    "query Certificate($id: ID!) { certificate(id: $id) { "
    "id domain subjectAltNames primaryDomain brand validationLevel isFree status "
    "serialNumber notAfter keyAlgorithm reissueCount } }"
)
CERTIFICATE_FIELDS = 12

CERTIFICATES = (
    "query Certificates($first: Int) { certificates(first: $first) { totalCount "
    "edges { cursor node { id domain status "
    "activeReissue { id status events { to } } "
    "reissueEligibility { eligible flow reasons { code message } } } } "
    "pageInfo { hasNextPage endCursor } } }"
)

PREVIEW = (
    "query Preview($input: RequestReissueInput!) { previewReissue(input: $input) { "
    "eligibility { eligible flow reasons { code message field } } "
    "userErrors { code message field } "
    "domainValidationRequired manualReviewRequired waivers } }"
)

REQUEST = (
    "mutation Request($input: RequestReissueInput!) { requestReissue(input: $input) { "
    "reissue { id status } userErrors { code message field } } }"
)

CANCEL = (
    "mutation Cancel($id: ID!) { cancelReissue(reissueId: $id) { "
    "reissue { id status } userErrors { code message field } } }"
)

# The scale test: keyset pagination on a large account.
PAGE = (
    "query Page($first: Int, $after: String) { certificates(first: $first, after: $after) { "
    "totalCount edges { cursor node { id domain status } } pageInfo { hasNextPage endCursor } } }"
)

PREVIEW_INPUT = {"csrSource": "ORIGINAL", "reason": "bench preview"}
REQUEST_REASON = "bench cycle"

FLOOR_PATHS = {
    "certificate": "/floor/certificate",
    "certificates50": "/floor/certificates",
    "previewReissue": "/floor/preview",
    "request": "/floor/request",
    "cancel": "/floor/cancel",
}


def graphql_body(query: str, variables: dict | None = None) -> bytes:
    return json.dumps({"query": query, "variables": variables or {}}, separators=(",", ":")).encode()


def request_for(scenario: str, variant: str, key: str | None = None) -> tuple[str, bytes]:
    """(path, body) of one request of `scenario` ("graphql" or "floor"); `key` is the
    certificate (or, for "cancel", reissue) ID it is about."""
    if variant == "graphql":
        if scenario == "certificate":
            return "/graphql", graphql_body(CERTIFICATE, {"id": key})
        if scenario == "certificates50":
            return "/graphql", graphql_body(CERTIFICATES, {"first": 50})
        if scenario == "previewReissue":
            return "/graphql", graphql_body(PREVIEW, {"input": {"certificateId": key, **PREVIEW_INPUT}})
        if scenario == "request":
            return "/graphql", graphql_body(REQUEST, {"input": {"certificateId": key, "reason": REQUEST_REASON}})
        if scenario == "cancel":
            return "/graphql", graphql_body(CANCEL, {"id": key})
    elif variant == "floor":
        path = FLOOR_PATHS[scenario]
        if scenario == "certificates50":
            return path, json.dumps({"first": 50}).encode()
        if scenario == "previewReissue":
            return path, json.dumps({"certificateId": key, **PREVIEW_INPUT}).encode()
        if scenario == "request":
            return path, json.dumps({"certificateId": key, "reason": REQUEST_REASON}).encode()
        return path, json.dumps({"id": key}).encode()
    raise ValueError(f"unknown scenario/variant {scenario}/{variant}")


def http_request(path: str, body: bytes, token: str) -> bytes:
    """One keep-alive HTTP/1.1 POST, ready to write to a socket."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nAccept: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def payload_of(data: dict) -> dict:
    """The single top-level field of a GraphQL response's `data` (or a floor's)."""
    return next(iter((data.get("data") or {}).values()), None) or {}
