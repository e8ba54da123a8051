"""A document spreading a fragment it does not define is a validation error like any other,
not an internal fault of the depth limiter."""

from __future__ import annotations

import asyncio
import logging

import pytest

from schema import build_schema


@pytest.mark.parametrize(
    "document",
    ["{ ...Fx }", "query { certificates { ...Fx } }", "query { certificates { edges { node { ...on Certificate { ...Fx } } } } }"],
)
def test_an_unknown_fragment_is_named_in_a_validation_error_and_logs_no_traceback(document, caplog):
    with caplog.at_level(logging.INFO, logger="certreissue"):
        result = asyncio.run(build_schema().execute(document))
    assert [e.message for e in result.errors] == ["Unknown fragment 'Fx'."]
    assert result.data is None
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
