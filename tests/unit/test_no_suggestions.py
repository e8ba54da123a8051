"""With introspection off (CERTS_GRAPHIQL=false) no error message hints at the schema: no
"Did you mean ...?" of any kind (enum values, types, arguments, input fields in literals
and in variables, fragment type conditions), while the rest of each message stays. With
introspection on, the hints are there: the cases below do produce them."""

from __future__ import annotations

import asyncio

import pytest

from schema import build_schema

CASES = {
    "enum value literal": (
        '{ previewReissue(input: {certificateId: "crt_1", keyAlgorithm: RS}) { manualReviewRequired } }',
        None,
        "Value 'RS' does not exist in 'KeyAlgorithm' enum.",
    ),
    "enum value in variables": (
        "query($i: RequestReissueInput!) { previewReissue(input: $i) { manualReviewRequired } }",
        {"i": {"certificateId": "crt_1", "keyAlgorithm": "RS"}},
        "Value 'RS' does not exist in 'KeyAlgorithm' enum.",
    ),
    "unknown type": (
        "query($f: CertificateFilte) { certificates(filter: $f) { totalCount } }",
        None,
        "Unknown type 'CertificateFilte'.",
    ),
    "unknown argument": (
        "{ certificates(frist: 1) { totalCount } }",
        None,
        "Unknown argument 'frist' on field 'Query.certificates'.",
    ),
    "input field literal": (
        '{ certificates(filter: {domainContain: "x"}) { totalCount } }',
        None,
        "not to include unknown field 'domainContain'.",
    ),
    "input field in variables": (
        "query($f: CertificateFilter) { certificates(filter: $f) { totalCount } }",
        {"f": {"domainContain": "x"}},
        "not to include unknown field 'domainContain'.",
    ),
    "fragment type condition": (
        "{ certificates { edges { node { ...F } } } } fragment F on Certificat { id }",
        None,
        "Unknown type 'Certificat'.",
    ),
    "field": (
        "{ certificatez { totalCount } }",
        None,
        "Cannot query field 'certificatez' on type 'Query'.",
    ),
}


def messages(introspection: bool, document: str, variables: dict | None) -> list[str]:
    schema = build_schema(introspection=introspection)
    result = asyncio.run(schema.execute(document, variable_values=variables))
    assert result.errors, "the document was expected to be refused"
    return [error.message for error in result.errors]


@pytest.mark.parametrize("case", [c for c in CASES if c != "field"])
def test_with_introspection_on_the_cases_do_hint(case):
    document, variables, _ = CASES[case]
    assert any("Did you mean" in m for m in messages(True, document, variables))


@pytest.mark.parametrize("case", list(CASES))
def test_with_introspection_off_no_message_hints_at_the_schema(case):
    document, variables, kept = CASES[case]
    found = messages(False, document, variables)
    assert not any("did you mean" in m.lower() for m in found), found
    assert any(kept in m for m in found), found  # what was wrong is still said


def test_a_message_keeps_what_follows_the_hint():
    document, variables, _ = CASES["input field in variables"]
    [message] = messages(False, document, variables)
    assert message == (
        "Variable '$f' has invalid value: Expected value of type 'CertificateFilter' "
        "not to include unknown field 'domainContain'. Found: {'domainContain': 'x'}."
    )
