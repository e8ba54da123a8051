"""Persisted documents (certreissue/persisted_documents.py): Apollo's automatic persisted
queries, cached per process within bounds and per token, and the trusted-documents list
(CERTS_TRUSTED_DOCUMENTS) that, when set, is all the service runs."""

from __future__ import annotations

import hashlib
import json

import pytest

from certreissue.persisted_documents import (
    AutomaticPersistedQueries,
    DocumentRefusal,
    Documents,
    Resolved,
    TrustedDocuments,
    sha256_hex,
)
from certreissue.request_json import BadRequest
from domain.model import Caller, Role

ALICE = Caller(account="a", role=Role.OWNER, token_id="tok_alice")
BOB = Caller(account="b", role=Role.OWNER, token_id="tok_bob")
REVIEWER = Caller(account=None, role=Role.REVIEWER, token_id="tok_reviewer")
QUERY = "query Certificates { certificates { totalCount } }"
HASH = hashlib.sha256(QUERY.encode()).hexdigest()


def persisted(sha: str = HASH, version=1) -> dict:
    return {"persistedQuery": {"version": version, "sha256Hash": sha}}


# -- the APQ cache ----------------------------------------------------------------------------


def test_a_hash_is_not_found_until_the_query_was_sent_with_it_and_ran():
    documents = Documents(apq=AutomaticPersistedQueries())
    assert documents.resolve(None, persisted(), ALICE) == DocumentRefusal("PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound")
    sent = documents.resolve(QUERY, persisted(), ALICE)
    assert sent == Resolved(QUERY, learn=("tok_alice", HASH))
    assert documents.resolve(None, persisted(), ALICE) == DocumentRefusal("PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound")
    documents.ran(sent)
    assert documents.resolve(None, persisted(), ALICE) == Resolved(QUERY)


def test_a_hash_in_upper_case_is_the_same_hash():
    documents = Documents(apq=AutomaticPersistedQueries())
    documents.ran(documents.resolve(QUERY, persisted(HASH.upper()), ALICE))
    assert documents.resolve(None, persisted(HASH.upper()), ALICE) == Resolved(QUERY)


def test_a_caller_finds_only_the_documents_its_own_token_sent():
    # A probe by hash must not tell whether someone else sent a document (it may hold a
    # literal: an inline key password, say).
    documents = Documents(apq=AutomaticPersistedQueries())
    documents.ran(documents.resolve(QUERY, persisted(), ALICE))
    assert documents.resolve(None, persisted(), BOB).code == "PERSISTED_QUERY_NOT_FOUND"
    documents.ran(documents.resolve(QUERY, persisted(), BOB))
    assert documents.resolve(None, persisted(), BOB) == Resolved(QUERY)


def test_a_hash_that_does_not_match_the_query_is_refused():
    documents = Documents(apq=AutomaticPersistedQueries())
    with pytest.raises(BadRequest, match="does not match"):
        documents.resolve(QUERY, persisted("0" * 64), ALICE)


@pytest.mark.parametrize(
    ("extensions", "words"),
    [
        ({"persistedQuery": "abc"}, "must be an object"),
        ({"persistedQuery": {"version": 2, "sha256Hash": HASH}}, "version"),
        ({"persistedQuery": {"version": True, "sha256Hash": HASH}}, "version"),
        ({"persistedQuery": {"sha256Hash": HASH}}, "version"),
        ({"persistedQuery": {"version": 1}}, "sha256Hash"),
        ({"persistedQuery": {"version": 1, "sha256Hash": "abc"}}, "sha256Hash"),
        ({"persistedQuery": {"version": 1, "sha256Hash": "g" * 64}}, "sha256Hash"),
    ],
)
def test_a_malformed_persisted_query_is_a_bad_request(extensions, words):
    with pytest.raises(BadRequest, match=words):
        Documents(apq=AutomaticPersistedQueries()).resolve(None, extensions, ALICE)


def test_a_request_with_neither_query_nor_hash_has_no_document():
    assert Documents(apq=AutomaticPersistedQueries()).resolve(None, {"other": 1}, ALICE) is None
    assert Documents(apq=AutomaticPersistedQueries()).resolve(None, None, ALICE) is None


def test_a_query_without_a_hash_runs_and_is_not_remembered():
    assert Documents(apq=AutomaticPersistedQueries()).resolve(QUERY, None, ALICE) == Resolved(QUERY)


def test_the_cache_keeps_the_most_recently_used_documents_up_to_its_size():
    cache = AutomaticPersistedQueries(max_documents=3)
    texts = [f"{{ d{i}: __typename }}" for i in range(4)]
    for text in texts[:3]:
        cache.put("t", sha256_hex(text), text)
    assert cache.get("t", sha256_hex(texts[0])) == texts[0]  # used: now the most recent
    cache.put("t", sha256_hex(texts[3]), texts[3])
    assert cache.get("t", sha256_hex(texts[1])) is None  # the least recently used went
    assert [cache.get("t", sha256_hex(t)) for t in (texts[0], texts[2], texts[3])] == [texts[0], texts[2], texts[3]]
    assert len(cache) == 3


def test_a_document_over_the_size_cap_runs_but_is_not_cached():
    cache = AutomaticPersistedQueries(max_document_bytes=100)
    big = "{ __typename }" + " " * 100
    documents = Documents(apq=cache)
    resolved = documents.resolve(big, persisted(sha256_hex(big)), ALICE)
    assert resolved == Resolved(big)  # nothing to learn
    documents.ran(resolved)
    assert len(cache) == 0


def test_the_size_cap_counts_utf8_bytes():
    cache = AutomaticPersistedQueries(max_document_bytes=20)
    text = "{ a(x: \"ééééééé\") }"  # 20 characters, 27 bytes
    assert not cache.fits(text)


def test_the_grants_of_many_tokens_are_bounded_too():
    cache = AutomaticPersistedQueries(max_documents=2)
    for i in range(100):
        cache.put(f"tok_{i}", HASH, QUERY)
    assert len(cache) == 1
    assert cache.grants <= 20  # ten per document slot
    assert cache.get("tok_99", HASH) == QUERY
    assert cache.get("tok_0", HASH) is None


def test_apq_off_answers_persisted_query_not_supported_and_still_runs_full_queries():
    documents = Documents(apq=None)
    assert documents.resolve(None, persisted(), ALICE) == DocumentRefusal(
        "PERSISTED_QUERY_NOT_SUPPORTED", "PersistedQueryNotSupported"
    )
    assert documents.resolve(QUERY, persisted(), ALICE) == Resolved(QUERY)


# -- trusted documents --------------------------------------------------------------------------

LISTED = "query Listed { certificates { totalCount } }"
LISTED_HASH = sha256_hex(LISTED)


def trusted(**kwargs) -> Documents:
    return Documents(apq=AutomaticPersistedQueries(), trusted=TrustedDocuments({LISTED_HASH: LISTED}), **kwargs)


def test_with_trusted_documents_a_listed_one_runs_by_hash_or_by_its_exact_text():
    documents = trusted()
    assert documents.resolve(None, persisted(LISTED_HASH), ALICE) == Resolved(LISTED)
    assert documents.resolve(LISTED, None, ALICE) == Resolved(LISTED)
    assert documents.resolve(LISTED, persisted(LISTED_HASH), ALICE) == Resolved(LISTED)


def test_with_trusted_documents_anything_else_is_refused():
    documents = trusted()
    by_hash = documents.resolve(None, persisted(HASH), ALICE)
    assert by_hash.code == "PERSISTED_QUERY_NOT_IN_LIST"
    ad_hoc = documents.resolve(QUERY, None, ALICE)
    assert ad_hoc.code == "QUERY_NOT_IN_SAFELIST" and "trusted" in ad_hoc.message
    # Not even once its text was sent with its hash: APQ cannot smuggle a document in.
    documents.ran(Resolved(QUERY, learn=("tok_alice", HASH)))
    assert documents.resolve(QUERY, persisted(HASH), ALICE).code == "QUERY_NOT_IN_SAFELIST"
    assert documents.resolve(None, persisted(HASH), ALICE).code == "PERSISTED_QUERY_NOT_IN_LIST"
    # Whitespace counts: the text must be the listed one exactly.
    assert documents.resolve(LISTED + " ", None, ALICE).code == "QUERY_NOT_IN_SAFELIST"


def test_roles_the_operator_allows_may_send_ad_hoc_documents_beside_the_trusted_ones():
    documents = trusted(adhoc_roles=frozenset({Role.REVIEWER}))
    assert documents.resolve(QUERY, None, REVIEWER) == Resolved(QUERY)
    assert documents.resolve(QUERY, None, ALICE).code == "QUERY_NOT_IN_SAFELIST"
    # ... and use APQ for them.
    sent = documents.resolve(QUERY, persisted(), REVIEWER)
    documents.ran(sent)
    assert documents.resolve(None, persisted(), REVIEWER) == Resolved(QUERY)
    assert documents.resolve(None, persisted(), ALICE).code == "PERSISTED_QUERY_NOT_IN_LIST"


# -- the trusted-documents file ------------------------------------------------------------------


def test_the_file_is_graphql_codegens_persisted_documents_map(tmp_path):
    path = tmp_path / "persisted-documents.json"
    path.write_text(json.dumps({LISTED_HASH: LISTED, sha256_hex(QUERY): QUERY}))
    loaded = TrustedDocuments.load(path)
    assert len(loaded) == 2 and loaded.get(LISTED_HASH) == LISTED


def test_hashes_may_carry_the_sha256_prefix(tmp_path):
    path = tmp_path / "docs.json"
    path.write_text(json.dumps({f"sha256:{LISTED_HASH}": LISTED}))
    assert TrustedDocuments.load(path).get(LISTED_HASH) == LISTED


def test_apollos_persisted_query_manifest_is_read_too(tmp_path):
    path = tmp_path / "persisted-query-manifest.json"
    path.write_text(json.dumps({
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": [{"id": LISTED_HASH, "name": "Listed", "type": "query", "body": LISTED}],
    }))
    assert TrustedDocuments.load(path).get(LISTED_HASH) == LISTED


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "hashes"),
        ("{}", "no documents"),
        (json.dumps({"abc": LISTED}), "SHA-256"),
        (json.dumps({"0" * 64: LISTED}), "is not the SHA-256 of its document"),
        (json.dumps({LISTED_HASH: 7}), "not a string"),
        (json.dumps({"format": "apollo-persisted-query-manifest", "version": 2, "operations": []}), "version"),
        (json.dumps({"format": "apollo-persisted-query-manifest", "version": 1,
                     "operations": [{"id": "x", "body": LISTED}]}), "SHA-256"),
    ],
)
def test_a_file_that_cannot_be_trusted_is_refused_at_start(tmp_path, content, words):
    path = tmp_path / "docs.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=words):
        TrustedDocuments.load(path)


def test_a_missing_file_is_refused_at_start(tmp_path):
    with pytest.raises(ValueError, match="cannot be read"):
        TrustedDocuments.load(tmp_path / "nowhere.json")
