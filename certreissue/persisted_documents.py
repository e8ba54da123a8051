"""Persisted documents: which GraphQL document a request runs.

- **Automatic persisted queries** (Apollo's APQ protocol): a request may send, instead of
  `query`, `extensions.persistedQuery = {"version": 1, "sha256Hash": "<hex>"}`. The
  service answers `PersistedQueryNotFound` (code PERSISTED_QUERY_NOT_FOUND) until the
  client has sent the query with its hash once (and it ran); after that the hash alone
  runs it. A hash that is not the SHA-256 of the query sent with it is refused. The cache
  is per process, bounded: AutomaticPersistedQueries.
- **Trusted documents** (CERTS_TRUSTED_DOCUMENTS): when set, only the documents listed in
  that file run, by hash or by their exact text; anything else is refused, except for the
  roles the operator allows to send ad-hoc documents (CERTS_ADHOC_DOCUMENT_ROLES).

The document found runs like any other: authentication has already happened, and every
limit (depth, aliases, tokens, cost, rate limit) is the schema's.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from certreissue.request_json import BadRequest
from domain.model import Caller, Role

SHA256_HEX = re.compile(r"[0-9a-f]{64}")
APQ_VERSION = 1
GRANTS_PER_DOCUMENT = 10  # token/hash pairs remembered per document slot
APOLLO_MANIFEST_FORMAT = "apollo-persisted-query-manifest"


def sha256_hex(text: str) -> str:
    """The SHA-256 of a document's UTF-8, in lowercase hex (what APQ clients send)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Resolved:
    """The document to run; `learn` is the (scope, hash) to remember once it has run."""

    text: str
    learn: tuple[str, str] | None = None


@dataclass(frozen=True)
class DocumentRefusal:
    """No document runs: a GraphQL request error with this code and message."""

    code: str
    message: str


class AutomaticPersistedQueries:
    """APQ documents by SHA-256, learned from requests, in this process's memory. Bounded:
    at most `max_documents` documents, the least recently used leaving first, none larger
    than `max_document_bytes` (UTF-8; a larger one runs but is not kept). A caller finds
    only the documents its own token sent (a grant per token and hash, at most
    GRANTS_PER_DOCUMENT per document slot): whether a hash is known tells a caller nothing
    about what other callers sent, and a document can hold literals (an inline key
    password, say). The text of a document sent by many tokens is kept once."""

    def __init__(self, max_documents: int = 1000, max_document_bytes: int = 32 * 1024) -> None:
        if max_documents < 1:
            raise ValueError("an APQ cache holds at least one document")
        self.max_documents = max_documents
        self.max_document_bytes = max_document_bytes
        self._documents: OrderedDict[str, str] = OrderedDict()
        self._grants: OrderedDict[tuple[str, str], None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._documents)

    @property
    def grants(self) -> int:
        return len(self._grants)

    def fits(self, text: str) -> bool:
        return len(text) <= self.max_document_bytes and len(text.encode("utf-8")) <= self.max_document_bytes

    def get(self, scope: str, sha: str) -> str | None:
        text = self._documents.get(sha)
        if text is None or (scope, sha) not in self._grants:
            return None
        self._documents.move_to_end(sha)
        self._grants.move_to_end((scope, sha))
        return text

    def put(self, scope: str, sha: str, text: str) -> None:
        if not self.fits(text):
            return
        self._documents[sha] = text
        self._documents.move_to_end(sha)
        while len(self._documents) > self.max_documents:
            self._documents.popitem(last=False)
        self._grants[(scope, sha)] = None
        self._grants.move_to_end((scope, sha))
        while len(self._grants) > GRANTS_PER_DOCUMENT * self.max_documents:
            self._grants.popitem(last=False)


class TrustedDocuments:
    """The documents the service runs when CERTS_TRUSTED_DOCUMENTS is set, by SHA-256."""

    def __init__(self, documents: Mapping[str, str]) -> None:
        self._documents = dict(documents)

    def __len__(self) -> int:
        return len(self._documents)

    def get(self, sha: str) -> str | None:
        return self._documents.get(sha)

    @classmethod
    def load(cls, path: Path) -> TrustedDocuments:
        """Reads graphql-codegen's `persisted-documents.json` (client preset,
        `persistedDocuments: true`): one JSON object mapping each document's SHA-256 (hex,
        optionally `sha256:`-prefixed) to the document; or Apollo's persisted query manifest
        (`{"format": "apollo-persisted-query-manifest", "version": 1, "operations": [{"id",
        "body", ...}]}`). Every hash must be the SHA-256 of its document's UTF-8, so that a
        list built with another hash (codegen's `hashAlgorithm: "sha1"`, custom ids) is
        refused here rather than matching nothing. ValueError says what is wrong."""
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise ValueError(f"{path} cannot be read ({exc.strerror or exc})") from None
        try:
            value = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ValueError(f"{path} is not valid JSON in UTF-8 ({exc})") from None
        if isinstance(value, dict) and value.get("format") == APOLLO_MANIFEST_FORMAT:
            pairs = _apollo_manifest_pairs(path, value)
        elif isinstance(value, dict):
            pairs = list(value.items())
        else:
            raise ValueError(
                f"{path} must be a JSON object mapping document hashes (SHA-256) to documents, "
                "as graphql-codegen's persisted-documents.json does"
            )
        documents: dict[str, str] = {}
        for key, text in pairs:
            sha = key.lower().removeprefix("sha256:") if isinstance(key, str) else ""
            if not SHA256_HEX.fullmatch(sha):
                raise ValueError(f"{path}: {str(key)[:80]!r} is not a SHA-256 in hex")
            if not isinstance(text, str):
                raise ValueError(f"{path}: the document of {sha} is not a string")
            if sha256_hex(text) != sha:
                raise ValueError(f"{path}: {sha} is not the SHA-256 of its document (hashed with another algorithm?)")
            documents[sha] = text
        if not documents:
            raise ValueError(f"{path} lists no documents: nothing could run")
        return cls(documents)


def _apollo_manifest_pairs(path: Path, manifest: dict) -> list[tuple[Any, Any]]:
    if manifest.get("version") != 1 or not isinstance(manifest.get("operations"), list):
        raise ValueError(f"{path}: only version 1 of Apollo's persisted query manifest, with `operations`, is read")
    pairs = []
    for operation in manifest["operations"]:
        if not isinstance(operation, dict):
            raise ValueError(f"{path}: each operation must be an object with `id` and `body`")
        pairs.append((operation.get("id"), operation.get("body")))
    return pairs


class Documents:
    """Finds the document a request runs (module docstring). `apq` None turns APQ off
    (PersistedQueryNotSupported); `trusted` set restricts every caller whose role is not
    in `adhoc_roles` to the listed documents."""

    def __init__(
        self,
        apq: AutomaticPersistedQueries | None = None,
        trusted: TrustedDocuments | None = None,
        adhoc_roles: frozenset[Role] = frozenset(),
    ) -> None:
        self.apq = apq
        self.trusted = trusted
        self.adhoc_roles = adhoc_roles

    def resolve(self, query: str | None, extensions: Mapping[str, Any] | None, caller: Caller) -> Resolved | DocumentRefusal | None:
        """The document, a refusal (a GraphQL request error), or None when the request has
        neither a query nor a persisted query. BadRequest for a malformed persistedQuery or
        a hash that is not the query's."""
        sha = _persisted_query_hash(extensions)
        restricted = self.trusted is not None and caller.role not in self.adhoc_roles
        if query is not None:
            digest = sha256_hex(query)
            if sha is not None and sha != digest:
                raise BadRequest(
                    "provided sha does not match query: extensions.persistedQuery.sha256Hash must be the "
                    "SHA-256 (hex) of the UTF-8 of `query`"
                )
            if restricted and self.trusted.get(digest) is None:
                return DocumentRefusal(
                    "QUERY_NOT_IN_SAFELIST",
                    "this API runs only its trusted documents, and this document is not one of them: send a "
                    "listed document, by its hash (extensions.persistedQuery.sha256Hash) or its exact text",
                )
            if sha is not None and self.apq is not None and not restricted and self.apq.fits(query):
                return Resolved(query, learn=(_scope(caller), sha))
            return Resolved(query)
        if sha is None:
            return None
        if self.trusted is not None:
            listed = self.trusted.get(sha)
            if listed is not None:
                return Resolved(listed)
            if restricted:
                return DocumentRefusal(
                    "PERSISTED_QUERY_NOT_IN_LIST",
                    f"the persisted document {sha} is not one of the trusted documents this API runs",
                )
        if self.apq is None:
            return DocumentRefusal("PERSISTED_QUERY_NOT_SUPPORTED", "PersistedQueryNotSupported")
        found = self.apq.get(_scope(caller), sha)
        if found is None:
            # The exact message is what Apollo clients look for before sending the query.
            return DocumentRefusal("PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound")
        return Resolved(found)

    def ran(self, resolved: Resolved) -> None:
        """The document ran (it parsed, validated and executed): APQ may now find it."""
        if resolved.learn is not None and self.apq is not None:
            scope, sha = resolved.learn
            self.apq.put(scope, sha, resolved.text)


def _scope(caller: Caller) -> str:
    """Whose APQ documents: the caller's token."""
    return caller.token_id or f"{caller.account}/{caller.role.value if caller.role else ''}"


def _persisted_query_hash(extensions: Mapping[str, Any] | None) -> str | None:
    persisted = (extensions or {}).get("persistedQuery")
    if persisted is None:
        return None
    if not isinstance(persisted, dict):
        raise BadRequest('`extensions.persistedQuery` must be an object: {"version": 1, "sha256Hash": "<hex>"}')
    version = persisted.get("version")
    if type(version) is not int or version != APQ_VERSION:
        raise BadRequest("unsupported persisted query version: only version 1 (automatic persisted queries) is known")
    sha = persisted.get("sha256Hash")
    if not isinstance(sha, str) or not SHA256_HEX.fullmatch(sha.lower()):
        raise BadRequest("`extensions.persistedQuery.sha256Hash` must be the SHA-256 of the document, in hex")
    return sha.lower()
