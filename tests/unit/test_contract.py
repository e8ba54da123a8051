"""The schema keeps every name of ../shared/spec/contract.graphql (add, never rename)."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import build_schema as build_sdl_schema
from graphql.utilities import find_breaking_changes

from schema import build_schema

CONTRACT = Path(__file__).resolve().parents[3] / "shared" / "spec" / "contract.graphql"


@pytest.mark.skipif(not CONTRACT.exists(), reason=f"{CONTRACT} is not beside the project")
def test_schema_has_no_breaking_change_against_the_contract():
    contract = build_sdl_schema(CONTRACT.read_text())
    ours = build_schema()._schema
    changes = [f"{c.type.name}: {c.description}" for c in find_breaking_changes(contract, ours)]
    assert changes == []


def test_introspection_can_be_turned_off():
    import asyncio

    result = asyncio.run(build_schema(introspection=False).execute("{ __schema { types { name } } }"))
    assert result.errors
