"""The GraphQL layer: the contract's types (schema.types, schema.reissue_types, schema.inputs)
and its root fields (schema.root). Each root field calls one resolver."""

from schema.root import build_schema

__all__ = ["build_schema"]
