"""The operation a request runs, as the GraphQL spec's GetOperation() picks it: the one
named by operationName; with no operationName, the document's only operation. A document
with several operations and no operationName, or an operationName the document does not
define, is a request error: nothing runs (Strawberry alone would run the first operation).
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import GraphQLError, OperationDefinitionNode
from strawberry.extensions import SchemaExtension

CODE = "OPERATION_RESOLUTION_FAILURE"


class GetOperation(SchemaExtension):
    """Checked right after parsing (so before the HTTP method's check of the operation's
    type: a GET with a query and a mutation and no operationName is this error, not a 405)."""

    def on_parse(self) -> Iterator[None]:
        yield
        ctx = self.execution_context
        if ctx.graphql_document is None:
            return  # the document did not parse: that is the error
        operations = [d for d in ctx.graphql_document.definitions if isinstance(d, OperationDefinitionNode)]
        wanted = ctx._provided_operation_name  # noqa: SLF001 - what the request named (ctx.operation_name falls back to the first)
        if wanted is None:
            if len(operations) > 1:
                names = ", ".join(repr(o.name.value) for o in operations if o.name)
                raise GraphQLError(
                    "Must provide operation name if query contains multiple operations: set `operationName` to "
                    + (f"one of {names}." if names else "the name of one of them (name them first)."),
                    extensions={"code": CODE},
                )
            return
        if not any(o.name is not None and o.name.value == wanted for o in operations):
            raise GraphQLError(f"Unknown operation named '{wanted}'.", extensions={"code": CODE})
