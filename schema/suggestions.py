"""No hints at the schema when introspection is off: every "Did you mean ...?" is taken
out of every error message of the result (graphql-core suggests enum values, types,
arguments and input fields, in documents and in variables, and `disable_field_suggestions`
covers field names only). What was wrong is still said; only the guess goes."""

from __future__ import annotations

import re
from collections.abc import Iterator

from graphql import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import ExecutionResult

# A suggestion quotes names ('RSA', 'first', ...), which hold no "?"; it ends at the first one.
_SUGGESTION = re.compile(r"\s*Did you mean\b[^?]*\?", re.IGNORECASE)


def without_suggestions(message: str) -> str:
    return _SUGGESTION.sub("", message)


class HideSuggestions(SchemaExtension):
    """Rewrites the messages once the operation is done, whatever phase refused it."""

    def on_operation(self) -> Iterator[None]:
        yield
        _strip(self.execution_context.result)

    def on_stream_result(self, result) -> Iterator[None]:
        """A subscription's results, each before it is sent (on_operation ends with the stream)."""
        _strip(result)
        yield


def _strip(result) -> None:
    if isinstance(result, (GraphQLExecutionResult, ExecutionResult)) and result.errors:
        for error in result.errors:
            error.message = without_suggestions(error.message)
