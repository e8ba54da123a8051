"""The JSON of a GraphQL request, checked before Strawberry reads it: strict UTF-8, valid
JSON, nested at most MAX_DEPTH levels. Anything else is a BadRequest that says what was
wrong (never a RecursionError or UnicodeDecodeError turning into a 500)."""

from __future__ import annotations

import json

MAX_DEPTH = 64  # containers inside one another, the outermost included; GraphQL requests need few


class BadRequest(ValueError):
    """The request is not a GraphQL request in JSON; the message says why."""


def parse_json(raw: bytes | str, what: str = "the request body") -> object:
    """The JSON value of `raw` (bytes must be UTF-8, without a byte order mark)."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")  # strict: no surrogates, no overlong forms
        except UnicodeDecodeError as exc:
            raise BadRequest(f"{what} is not valid UTF-8 (bad byte at offset {exc.start}); send JSON in UTF-8") from None
    else:
        text = raw
    try:
        value = json.loads(text)
    except RecursionError:
        raise BadRequest(f"{what} nests JSON arrays and objects deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        raise BadRequest(f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise BadRequest(f"{what} holds a JSON value that cannot be read ({exc})") from None
    if _deeper_than(value, MAX_DEPTH):
        raise BadRequest(f"{what} nests JSON arrays and objects deeper than {MAX_DEPTH} levels")
    return value


def parse_request_object(raw: bytes | str, what: str = "the request body") -> dict:
    """A GraphQL request: one JSON object (batches are not accepted)."""
    value = parse_json(raw, what)
    if not isinstance(value, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")
        raise BadRequest(
            f'{what} must be a JSON object such as {{"query": "...", "variables": {{...}}}}; it is {kind}'
        )
    return value


def _deeper_than(value: object, limit: int) -> bool:
    """Whether containers nest deeper than `limit`, walked with a stack (no recursion)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        if isinstance(current, dict):
            children = current.values()
        elif isinstance(current, list):
            children = current
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False
