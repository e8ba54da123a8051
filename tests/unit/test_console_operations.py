"""Every GraphQL operation of the web console (console/src/operations.ts) is valid against
the schema the service serves, checked here by graphql-core as well as by the console's
build (graphql-codegen, then tsc): a change of the schema that breaks the console fails
the suite. The live-status subscriptions follow console/subscriptions.graphql, the
contract the console was built against, until the served schema has them; from then on,
the contract must say what the served schema says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from graphql import (
    FragmentDefinitionNode,
    OperationDefinitionNode,
    build_ast_schema,
    extend_schema,
    parse,
    print_type,
    validate,
)

from schema import build_schema

CONSOLE = Path(__file__).resolve().parents[2] / "console"
SOURCE = (CONSOLE / "src" / "operations.ts").read_text()
DOCUMENTS = re.findall(r"graphql\(`(.*?)`\)", SOURCE, re.S)
CONTRACT = (CONSOLE / "subscriptions.graphql").read_text()


def served():
    return build_schema()._schema


def schema_for_the_console():
    schema = served()
    if schema.subscription_type:
        return schema
    # As graphql-codegen reads the two files: the type named Subscription is the root.
    return extend_schema(schema, parse(CONTRACT + "\nextend schema { subscription: Subscription }"))


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
    schema = schema_for_the_console()
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


def test_the_subscription_contract_is_what_the_served_schema_says_once_it_serves_one():
    schema = served()
    if schema.subscription_type is None:
        pytest.skip("the served schema has no Subscription type yet: the console builds against the contract")
    contract = build_ast_schema(parse("type Query { x: Int } type Reissue { id: ID } type Certificate { id: ID }\n" + CONTRACT))
    want = {name: (str(f.type), {a: str(arg.type) for a, arg in f.args.items()}) for name, f in contract.subscription_type.fields.items()}
    have = {name: (str(f.type), {a: str(arg.type) for a, arg in f.args.items()}) for name, f in schema.subscription_type.fields.items()}
    assert {name: have.get(name) for name in want} == want, print_type(schema.subscription_type)
