"""Every GraphQL operation of the web console (console/src/operations.ts) is valid against
the schema the service serves, checked here by graphql-core as well as by the console's
build (graphql-codegen, then tsc): a change of the schema that breaks the console fails
the suite, whether or not the console was rebuilt."""

from __future__ import annotations

import re
from pathlib import Path

from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse, validate

from schema import build_schema

CONSOLE = Path(__file__).resolve().parents[2] / "console"
SOURCE = (CONSOLE / "src" / "operations.ts").read_text()
DOCUMENTS = re.findall(r"graphql\(`(.*?)`\)", SOURCE, re.S)


def test_the_console_has_its_operations():
    assert len(DOCUMENTS) >= 20
    kinds = {d.operation.value for doc in DOCUMENTS for d in parse(doc).definitions if isinstance(d, OperationDefinitionNode)}
    assert kinds == {"query", "mutation", "subscription"}


def test_every_operation_with_its_fragments_validates_against_the_served_schema():
    fragments = {}
    for doc in DOCUMENTS:
        for d in parse(doc).definitions:
            if isinstance(d, FragmentDefinitionNode):
                fragments[d.name.value] = doc
    schema = build_schema()._schema
    for doc in DOCUMENTS:
        document = parse(doc)
        if not any(isinstance(d, OperationDefinitionNode) for d in document.definitions):
            continue
        used = set(re.findall(r"\.\.\.(\w+)", doc))
        while True:  # fragments spread by the fragments used
            more = {name for f in used for name in re.findall(r"\.\.\.(\w+)", fragments[f])} - used
            if not more:
                break
            used |= more
        whole = parse("\n".join([doc, *(fragments[name] for name in sorted(used))]))
        assert validate(schema, whole) == [], doc.split("{")[0].strip()
