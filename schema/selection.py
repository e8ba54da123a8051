"""What a query selects below a field, read off the query document: resolvers use it to
skip reads nobody asked for (a count, a page's reissue data)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types.nodes import get_variable_values


def _included(node: Any, variables: dict) -> bool:
    """@skip / @include with a literal or a variable (@skip wins, as in execution)."""
    for directive in node.directives or ():
        name = directive.name.value
        if name not in ("skip", "include"):
            continue
        arg = next((a.value for a in directive.arguments if a.name.value == "if"), None)
        value = variables.get(arg.name.value) if getattr(arg, "kind", "") == "variable" else getattr(arg, "value", None)
        if (name == "skip" and value is True) or (name == "include" and value is not True):
            return False
    return True


def selected_fields(info: strawberry.Info, path: tuple[str, ...]) -> set[str]:
    """The field names the query selects at `path` below this field (fragments included),
    read off the query document."""
    raw = info._raw_info  # noqa: SLF001 - graphql-core's info: the field's AST and fragments
    variables = get_variable_values(raw) or {}
    names: set[str] = set()

    def walk(selection_set, path: tuple[str, ...]) -> None:
        for selection in selection_set.selections if selection_set else ():
            if not _included(selection, variables):
                continue
            kind = selection.kind
            if kind == "field":
                if not path:
                    names.add(selection.name.value)
                elif selection.name.value == path[0]:
                    walk(selection.selection_set, path[1:])
            elif kind == "inline_fragment":
                walk(selection.selection_set, path)
            elif kind == "fragment_spread":
                fragment = raw.fragments.get(selection.name.value)
                if fragment is not None:
                    walk(fragment.selection_set, path)

    for node in raw.field_nodes:
        walk(node.selection_set, path)
    return names
