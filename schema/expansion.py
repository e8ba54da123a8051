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
    OverlappingFieldsCanBeMergedRule,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    ValidationRule,
)

MAX_EXPANDED_FIELDS = 10_000
# Fields sharing one response name in one selection set (fragments spread). graphql-core's
# OverlappingFieldsCanBeMerged compares each pair of them (and their sub-selections): 700
# repetitions of `versions { serialNumber }`, 3,000 tokens, were seconds of CPU.
MAX_SAME_RESPONSE_NAME = 20


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


def most_repeated_response_name(document, limit: int = MAX_SAME_RESPONSE_NAME) -> tuple[str, int]:
    """The response name asked for most often in one selection set, and how often; ("", 0)
    for none. Counted as GraphQL merges fields: the fields of inline and spread fragments
    join the set they are in, and fields that share a response name merge, so their
    sub-selections count as one set (20 `node` fields of 20 `versions` each ask for
    `versions` 400 times). Stops at the first name over `limit`; a document over
    MAX_EXPANDED_FIELDS is ExpandedFieldsLimit's to refuse (its spreads are not walked)."""
    if expanded_fields(document) > MAX_EXPANDED_FIELDS:
        return ("", 0)
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    worst = ("", 0)

    def collect(selection_set, spreading: frozenset[str], into: dict[str, list[FieldNode]]) -> None:
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                into.setdefault((selection.alias or selection.name).value, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                collect(selection.selection_set, spreading, into)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in spreading and name in fragments:
                    collect(fragments[name].selection_set, spreading | {name}, into)

    def visit(selection_sets) -> bool:
        nonlocal worst
        fields: dict[str, list[FieldNode]] = {}
        for selection_set in selection_sets:
            collect(selection_set, frozenset(), fields)
        for name, nodes in fields.items():
            if len(nodes) > worst[1]:
                worst = (name, len(nodes))
                if worst[1] > limit:
                    return False
            inner = [node.selection_set for node in nodes if node.selection_set]
            if inner and not visit(inner):
                return False
        return True

    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode) and not visit([definition.selection_set]):
            break
    return worst


def _too_repetitive(document) -> tuple[str, int] | None:
    name, times = most_repeated_response_name(document)
    return (name, times) if times > MAX_SAME_RESPONSE_NAME else None


class RepeatedFieldsLimit(ValidationRule):
    """Refuses a selection set that repeats one response name more than MAX_SAME_RESPONSE_NAME
    times; graphql-core's overlap check stands aside for it (`overlap_check_standing_aside`)."""

    def __init__(self, context) -> None:
        super().__init__(context)
        found = _too_repetitive(context.document)  # (none over MAX_EXPANDED_FIELDS: that rule's to say)
        if found:
            context.report_error(GraphQLError(
                f"the document asks for `{found[0]}` {found[1]} times in one selection set "
                f"(at most {MAX_SAME_RESPONSE_NAME})",
                extensions={"code": "QUERY_TOO_COSTLY"},
            ))


def overlap_check_standing_aside(rule: type[ValidationRule]) -> type[ValidationRule]:
    """graphql-core's OverlappingFieldsCanBeMerged, except for a document that
    RepeatedFieldsLimit or ExpandedFieldsLimit refuses (it would compare every pair)."""

    class StandsAside(ValidationRule):
        def __new__(cls, context):
            if _too_repetitive(context.document) or expanded_fields(context.document) > MAX_EXPANDED_FIELDS:
                return ValidationRule(context)
            return rule(context)

    StandsAside.__name__ = f"StandsAside{rule.__name__}"
    return StandsAside


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


class ValidationRules:
    """A Strawberry extension: the request's validation rules with graphql-core's overlap
    check standing aside for documents refused here, and `extra` added (the same rule
    objects for every request, so the validation cache can hit)."""

    def __init__(self, extra: list[type[ValidationRule]]) -> None:
        self._guarded = overlap_check_standing_aside(OverlappingFieldsCanBeMergedRule)
        self._extra = tuple(extra)

    def __call__(self):
        from strawberry.extensions import SchemaExtension

        guarded, extra = self._guarded, self._extra

        class _Rules(SchemaExtension):
            def on_operation(self):
                rules = self.execution_context.validation_rules
                self.execution_context.validation_rules = tuple(
                    guarded if rule is OverlappingFieldsCanBeMergedRule else rule for rule in rules
                ) + extra
                yield

        return _Rules()
