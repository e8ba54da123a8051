"""A document is refused when it asks for too many fields once its fragments are spread,
counted without spreading them (a 1 KB fragment bomb once held every client for minutes)."""

from __future__ import annotations

import asyncio

import pytest
from graphql import parse

from schema import build_schema
from schema.expansion import MAX_EXPANDED_FIELDS, MAX_SAME_RESPONSE_NAME, expanded_fields, most_repeated_response_name


def bomb(levels: int) -> str:
    """`...F0` spreads `...F1 ...F1`, and so on: 2^levels fields in a few hundred bytes."""
    fragments = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels))
    return f"query {{ ...F0 }} {fragments} fragment F{levels} on Query {{ __typename }}"


@pytest.mark.parametrize(
    ("document", "fields"),
    [
        ("{ __typename }", 1),
        ("{ certificates { totalCount edges { node { id domain } } } }", 6),
        ("query { ...A ...A } fragment A on Query { certificates { totalCount } }", 4),
        ("query { ... on Query { __typename } }", 1),
        (bomb(5), 32),
        ("query { ...Missing }", 0),
        ("query { ...A } fragment A on Query { ...B } fragment B on Query { ...A __typename }", 1),
    ],
)
def test_fields_are_counted_as_if_every_fragment_were_spread(document, fields):
    assert expanded_fields(parse(document)) == fields


@pytest.mark.parametrize("levels", [14, 24, 60])
def test_a_fragment_bomb_is_refused_before_any_limiter_walks_it(levels):
    assert len(bomb(levels)) < 3000
    result = asyncio.run(build_schema().execute(bomb(levels)))
    assert result.data is None
    (error,) = result.errors
    assert f"more than {MAX_EXPANDED_FIELDS} fields" in error.message
    assert error.extensions == {"code": "QUERY_TOO_COSTLY"}


def test_a_document_just_under_the_bound_is_not_refused_for_its_size():
    # 8,192 fields pass the size bound; (all the same `__typename`, they are refused as a
    # repetition instead, and only as that).
    assert expanded_fields(parse(bomb(13))) == 8192 < MAX_EXPANDED_FIELDS
    result = asyncio.run(build_schema().execute(bomb(13)))
    (error,) = result.errors
    assert "`__typename` 8192 times" in error.message


def repeated(times: int, field: str = "versions { serialNumber }") -> str:
    return "{ certificates(first: 1) { edges { node { " + " ".join([field] * times) + " } } } }"


def test_a_field_repeated_hundreds_of_times_in_one_selection_is_refused_before_validation_compares_them():
    # graphql-core's OverlappingFieldsCanBeMerged compares every pair of fields that share a
    # response name: 700 of them were seconds of CPU on the event loop in a 3,000-token document.
    document = repeated(700)
    result = asyncio.run(build_schema().execute(document))
    assert result.data is None
    (error,) = result.errors
    assert "`versions` 700 times" in error.message and f"at most {MAX_SAME_RESPONSE_NAME}" in error.message
    assert error.extensions == {"code": "QUERY_TOO_COSTLY"}


def test_fields_spread_from_fragments_count_towards_the_repetition_limit():
    spreads = " ".join(f"...F{i}" for i in range(MAX_SAME_RESPONSE_NAME + 1))
    fragments = " ".join(f"fragment F{i} on Query {{ __typename }}" for i in range(MAX_SAME_RESPONSE_NAME + 1))
    assert most_repeated_response_name(parse(f"query {{ {spreads} }} {fragments}")) == ("__typename", MAX_SAME_RESPONSE_NAME + 1)


def test_the_overlap_check_stands_aside_for_a_refused_repetition():
    # Conflicting repetitions (the same name, other arguments) would also give the overlap
    # rule's own error, after comparing every pair; only the repetition error is given.
    field = " ".join(f"c: certificate(id: \"crt_{i}\") {{ id }}" for i in range(MAX_SAME_RESPONSE_NAME + 1))
    result = asyncio.run(build_schema().execute("{ " + field + " }"))
    (error,) = result.errors
    assert "`c`" in error.message and error.extensions == {"code": "QUERY_TOO_COSTLY"}


def test_a_field_repeated_a_few_times_still_merges_and_runs():
    result = asyncio.run(build_schema().execute("{ __typename __typename ...on Query { __typename } }"))
    assert result.errors is None and result.data == {"__typename": "Query"}


def test_fields_that_merge_count_their_sub_selections_together():
    # 20 `node` fields merge into one, so their 20 x 20 `versions` are 400 in one set.
    inner = " ".join(["versions { serialNumber }"] * 20)
    node = f'node(id: $id) {{ ... on Certificate {{ {inner} }} }}'
    document = "query($id: ID!) { " + " ".join([node] * 20) + " }"
    assert most_repeated_response_name(parse(document), limit=10_000) == ("versions", 400)
    result = asyncio.run(build_schema().execute(document, variable_values={"id": "crt_x"}))
    (error,) = result.errors
    assert "`versions` 400 times" in error.message and error.extensions == {"code": "QUERY_TOO_COSTLY"}
