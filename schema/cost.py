"""What an operation costs, read off its document before anything runs.

One walk gives both numbers the limits need (schema/extensions.py):

- `objects`, the query cost (CERTS_MAX_QUERY_COST): how many objects the operation can
  return, GitHub-style. Scalars and enums cost 0; an object field costs 1 plus what it
  selects; a connection (a field with a `first` argument) costs 1 plus what it selects,
  its `edges` being a list of `first` items (default 20, capped at 100 as the API caps
  it); any other list of objects counts NOMINAL_LIST_SIZE items. A field of an interface
  costs what its most expensive implementation selects.
- `mutation_weight`, the units a mutation claims of CERTS_RATE_LIMIT_PER_MINUTE: every
  mutation field that will run weighs 1, except `requestReissue` with csrSource ONLINE,
  which weighs what its key costs to generate (ONLINE_KEY_WEIGHTS).

Fragments (inline and named) are expanded, @skip/@include honoured, fields merged under
one response key counted once (they run once), and argument values coerced as execution
coerces them, from literals or variables (graphql-core's own coercion, defaults included).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLIncludeDirective,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSkipDirective,
    InlineFragmentNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    get_nullable_type,
    get_operation_ast,
    is_abstract_type,
    is_leaf_type,
    is_list_type,
    type_from_ast,
)
from graphql.execution.values import get_argument_values, get_directive_values, get_variable_values

from domain.certificates import MAX_PAGE_SIZE  # the API's cap on `first` (reissue lists share it)
from domain.rules import ALLOWED_PARAMETERS, PARAMETER_ALIASES

NOMINAL_LIST_SIZE = 10
"""Items counted for a list of objects that is not paginated (versions, events, reasons,
userErrors): none is bounded by the API, and most hold a handful."""

DEFAULT_PAGE_SIZE = 20  # what the resolvers take for `first: null` (the argument's default is 20 too)

# Rate-limit units of an ONLINE requestReissue, by the key it generates. Measured on the
# machine this was written on (cryptography 50.0, process CPU time per key, mean of n):
#   ECC prime256v1  0.01 ms (n=1000)     RSA 2048   41 ms (n=200, median 34)
#   ECC secp384r1   0.10 ms (n=1000)     RSA 3072  130 ms (n=100, median 113)
#                                        RSA 4096  374 ms (n=80, median 338); 466 ms in an
#                                                  earlier run (n=30): ~420 ms
# One unit is an ordinary mutation: a requestReissue with the original CSR, issued at once,
# took ~12.5 ms of the API process's CPU through HTTP. A weight is about
# (12 ms + key generation) / 12 ms: 1, 1, 4, 12, 36. ECC keys add nothing measurable; RSA
# costs ~3x more per step. (Encrypting the key with privateKeyPassword took 0.3 ms: no weight.)
ONLINE_KEY_WEIGHTS: dict[tuple[str, str], int] = {
    ("ECC", "prime256v1"): 1,
    ("ECC", "secp384r1"): 1,
    ("RSA", "2048"): 4,
    ("RSA", "3072"): 12,
    ("RSA", "4096"): 36,
}
HEAVIEST_ONLINE_WEIGHT = max(ONLINE_KEY_WEIGHTS.values())
"""Charged when the key cannot be known before the request runs: no algorithm given (the
certificate's current one is used, which only a read would tell), or a pair not in the
table (a parameter the request will be refused for, or SM2, which is refused for now)."""


@dataclass(frozen=True)
class OperationCost:
    objects: int
    mutation_weight: int


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None = None,
    variables: Mapping[str, Any] | None = None,
) -> OperationCost | None:
    """The cost of the operation execution would run; None when there is none to run (no
    such operation) or its variables do not coerce: execution then refuses it itself,
    before any resolver runs."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return None
    coerced = get_variable_values(schema, operation.variable_definitions or (), dict(variables or {}))
    if isinstance(coerced, list):
        return None
    root = schema.get_root_type(operation.operation)
    if root is None:
        return None
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    walk = _Walk(schema, fragments, coerced)
    fields = walk.collect([operation.selection_set], root)
    objects = sum(walk.field_cost(root, nodes) for nodes in fields.values())
    weight = 0
    if operation.operation == OperationType.MUTATION:
        weight = sum(walk.mutation_weight(root, nodes) for nodes in fields.values())
    return OperationCost(objects=objects, mutation_weight=weight)


def online_key_weight(algorithm: str | None, parameter: str | None) -> int:
    """What generating this key weighs; the heaviest when the key cannot be known yet."""
    if parameter is not None:
        parameter = parameter.strip().lower()
        parameter = PARAMETER_ALIASES.get(parameter, parameter)
    if algorithm is None:
        if parameter is None:
            return HEAVIEST_ONLINE_WEIGHT  # the certificate's current algorithm: unknown without a read
        found = [w for (_, p), w in ONLINE_KEY_WEIGHTS.items() if p == parameter]
        return max(found, default=HEAVIEST_ONLINE_WEIGHT)
    if parameter is None:
        allowed = next((v for k, v in ALLOWED_PARAMETERS.items() if _name(k) == algorithm), ())
        parameter = allowed[0] if allowed else None  # the service's choice (domain.rules.check_algorithm)
    return ONLINE_KEY_WEIGHTS.get((algorithm, parameter), HEAVIEST_ONLINE_WEIGHT)


def _name(value: Any) -> Any:
    """An enum member's GraphQL name; anything else as it is."""
    return getattr(value, "value", value)


class _Walk:
    def __init__(self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode], variables) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables

    def collect(self, selection_sets: Iterable[SelectionSetNode], runtime_type: GraphQLObjectType) -> dict[str, list[FieldNode]]:
        """The fields that run on an object of `runtime_type`, by response key (as
        graphql-core's execution collects them)."""
        fields: dict[str, list[FieldNode]] = {}
        visited: set[str] = set()

        def visit(selection_set: SelectionSetNode) -> None:
            for selection in selection_set.selections:
                if not self._included(selection):
                    continue
                if isinstance(selection, FieldNode):
                    key = selection.alias.value if selection.alias else selection.name.value
                    fields.setdefault(key, []).append(selection)
                elif isinstance(selection, InlineFragmentNode):
                    if self._applies(selection, runtime_type):
                        visit(selection.selection_set)
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    fragment = self.fragments.get(name)
                    if name in visited or fragment is None:
                        continue
                    visited.add(name)
                    if self._applies(fragment, runtime_type):
                        visit(fragment.selection_set)

        for selection_set in selection_sets:
            if selection_set is not None:
                visit(selection_set)
        return fields

    def _included(self, node) -> bool:
        if not node.directives:
            return True
        try:
            skip = get_directive_values(GraphQLSkipDirective, node, self.variables)
            include = get_directive_values(GraphQLIncludeDirective, node, self.variables)
        except GraphQLError:
            return True  # cannot tell: count it
        return not (skip and skip["if"]) and not (include and not include["if"])

    def _applies(self, fragment, runtime_type: GraphQLObjectType) -> bool:
        condition = fragment.type_condition
        if condition is None:
            return True
        conditional = type_from_ast(self.schema, condition)
        if conditional is runtime_type:
            return True
        return conditional is not None and is_abstract_type(conditional) and self.schema.is_sub_type(conditional, runtime_type)

    def _arguments(self, field, node: FieldNode) -> dict[str, Any] | None:
        try:
            return get_argument_values(field, node, self.variables)
        except GraphQLError:
            return None  # cannot tell: the caller assumes the worst

    def field_cost(self, parent: GraphQLObjectType, nodes: list[FieldNode], page: int | None = None) -> int:
        """Objects one field (its nodes merged) can return; `page` is the length of its
        lists when `parent` is a connection."""
        field = parent.fields.get(nodes[0].name.value)
        if field is None:  # __typename, __schema, __type: introspection is not data
            return 0
        named = get_named_type(field.type)
        if is_leaf_type(named):
            return 0
        is_list = is_list_type(get_nullable_type(field.type))
        if "first" in field.args:
            args = self._arguments(field, nodes[0])
            first = MAX_PAGE_SIZE if args is None else args.get("first")
            size = DEFAULT_PAGE_SIZE if first is None else max(0, min(int(first), MAX_PAGE_SIZE))
            if is_list:  # a paginated plain list: `first` items
                return size * (1 + self._selection_cost(nodes, named))
            return 1 + self._selection_cost(nodes, named, page=size)  # a connection: its edges are the page
        count = (NOMINAL_LIST_SIZE if page is None else page) if is_list else 1
        return count * (1 + self._selection_cost(nodes, named))

    def _selection_cost(self, nodes: list[FieldNode], type_, page: int | None = None) -> int:
        sets = [n.selection_set for n in nodes]
        runtimes = self.schema.get_possible_types(type_) if is_abstract_type(type_) else [type_]
        costs = []
        for runtime in runtimes:
            fields = self.collect(sets, runtime)
            costs.append(sum(self.field_cost(runtime, group, page) for group in fields.values()))
        return max(costs, default=0)

    def mutation_weight(self, root: GraphQLObjectType, nodes: list[FieldNode]) -> int:
        field = root.fields.get(nodes[0].name.value)
        if field is None:
            return 0  # __typename
        if nodes[0].name.value != "requestReissue":
            return 1
        args = self._arguments(field, nodes[0])
        if args is None:
            return HEAVIEST_ONLINE_WEIGHT
        request = args.get("input") or {}
        if _name(request.get("csrSource")) != "ONLINE":
            return 1
        return online_key_weight(_name(request.get("keyAlgorithm")), request.get("keyParameter"))
