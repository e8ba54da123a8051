"""How many fields a document asks for once its fragments are spread, counted without
spreading them: each fragment is sized once (memoised), so the count is linear in the
document however often fragments spread each other.

Strawberry's depth and alias limiters spread fragments literally: `...F0` spreading
`...F1 ...F1`, twenty-four levels down, is a 1 KB document they would walk 2^24 times
(minutes of CPU on the event loop, every client waiting). The document is refused here
first, and the walking rules stand aside for it.
"""

from __future__ import annotations

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    ValidationRule,
)

MAX_EXPANDED_FIELDS = 10_000


def expanded_fields(document, limit: int = MAX_EXPANDED_FIELDS) -> int:
    """Fields of every operation with fragments spread; stops counting past `limit`.
    Unknown fragments and cycles count nothing (graphql-core's own rules report them)."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    sizes: dict[str, int] = {}

    def size(selection_set, spreading: frozenset[str]) -> int:
        total = 0
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                total += 1 + size(selection.selection_set, spreading)
            elif isinstance(selection, InlineFragmentNode):
                total += size(selection.selection_set, spreading)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in spreading or name not in fragments:
                    continue
                if name not in sizes:
                    sizes[name] = size(fragments[name].selection_set, spreading | {name})
                total += sizes[name]
            if total > limit:
                return total
        return total

    total = 0
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            total += size(definition.selection_set, frozenset())
            if total > limit:
                break
    return total


class ExpandedFieldsLimit(ValidationRule):
    """Refuses a document of more than MAX_EXPANDED_FIELDS fields once spread."""

    def __init__(self, context) -> None:
        super().__init__(context)
        if expanded_fields(context.document) > MAX_EXPANDED_FIELDS:
            context.report_error(GraphQLError(
                f"the document asks for more than {MAX_EXPANDED_FIELDS} fields once its fragments are spread",
                extensions={"code": "QUERY_TOO_COSTLY"},
            ))


def stands_aside_for_huge_documents(rule: type[ValidationRule]) -> type[ValidationRule]:
    """`rule` as it is, except for a document ExpandedFieldsLimit refuses (it would walk
    every spread), and for a spread of an unknown fragment (Strawberry's depth limiter
    fails with a KeyError on it; graphql-core's KnownFragmentNamesRule reports it)."""

    class StandsAside(ValidationRule):
        def __new__(cls, context):
            if expanded_fields(context.document) > MAX_EXPANDED_FIELDS:
                return ValidationRule(context)
            try:
                return rule(context)
            except KeyError:
                return ValidationRule(context)

    StandsAside.__name__ = f"StandsAside{rule.__name__}"
    return StandsAside
