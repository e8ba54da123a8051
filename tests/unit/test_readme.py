"""Every ```graphql block of the README is a whole operation (or several) that pastes into
GraphiQL as it is: it parses and validates against the served schema."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from graphql import OperationDefinitionNode, parse, validate

from schema import build_schema

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCKS = re.findall(r"```graphql\n(.*?)```", README.read_text(), re.S)


def test_the_readme_has_its_walkthrough():
    assert len(BLOCKS) >= 10


@pytest.mark.parametrize("block", BLOCKS, ids=[b.strip().splitlines()[0][:40] for b in BLOCKS])
def test_each_graphql_block_is_a_valid_pasteable_document(block):
    document = parse(block)
    assert any(isinstance(d, OperationDefinitionNode) for d in document.definitions)
    names = [d.name.value for d in document.definitions if isinstance(d, OperationDefinitionNode) and d.name]
    assert len(names) == len(set(names))
    assert validate(build_schema()._schema, document) == []
