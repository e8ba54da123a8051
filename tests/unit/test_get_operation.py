"""GetOperation (schema/get_operation.py): a document with several operations runs only the
one operationName names; without operationName it is a request error, never "the first"."""

from __future__ import annotations

import asyncio

import pytest

from schema import build_schema

TWO = "query A { __typename } query B { __typename }"


def execute(query: str, operation_name: str | None = None):
    return asyncio.run(build_schema().execute(query, operation_name=operation_name))


@pytest.mark.parametrize("operation_name", ["A", "B"])
def test_operation_name_picks_one_of_several_operations(operation_name):
    result = execute(TWO, operation_name)
    assert result.errors is None and result.data == {"__typename": "Query"}


def test_several_operations_without_operation_name_run_none_of_them():
    result = execute(TWO)
    assert result.data is None
    [error] = result.errors
    assert "Must provide operation name" in error.message and "'A', 'B'" in error.message
    assert error.extensions == {"code": "OPERATION_RESOLUTION_FAILURE"}
    assert error.path is None  # a request error, not a field error


def test_an_operation_name_the_document_does_not_define_is_a_request_error():
    result = execute("query A { __typename }", "C")
    assert result.data is None
    assert result.errors[0].message == "Unknown operation named 'C'."


def test_a_single_operation_needs_no_name_and_a_fragment_is_not_an_operation():
    assert execute("{ __typename }").data == {"__typename": "Query"}
    assert execute("query Q { ...F } fragment F on Query { __typename }").data == {"__typename": "Query"}


def test_a_document_that_does_not_parse_keeps_its_syntax_error():
    result = execute("{")
    assert result.errors[0].message.startswith("Syntax Error")
