"""A document is refused when it asks for too many fields once its fragments are spread,
counted without spreading them (a 1 KB fragment bomb once held every client for minutes)."""

from __future__ import annotations

import asyncio

import pytest
from graphql import parse

from schema import build_schema
from schema.expansion import MAX_EXPANDED_FIELDS, expanded_fields


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


def test_a_document_just_under_the_bound_runs():
    result = asyncio.run(build_schema().execute(bomb(13)))  # 8,192 fields
    assert result.errors is None and result.data == {"__typename": "Query"}
