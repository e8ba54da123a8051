"""GraphQL over HTTP (https://graphql.github.io/graphql-over-http/draft/) for /graphql.

- Responses: `application/graphql-response+json` when the client's Accept prefers it,
  else `application/json` (also for no Accept and for `*/*`), both `; charset=utf-8`;
  nothing acceptable is 406.
- Requests: POST with `Content-Type: application/json` in UTF-8 (no charset or
  `charset=utf-8`; anything else is 415), one JSON object (a batch is 400); GET with the
  parameters in the query string (UTF-8, `variables` and `extensions` as JSON); a mutation
  by GET is 405 with `Allow: POST`.
- Status codes: with `application/json`, every GraphQL result is 200 (the spec's legacy
  rule), `data` included; with `application/graphql-response+json`, a result whose
  operation never ran (a *request error*: the document does not parse or validate, the
  operation cannot be determined, the variables do not coerce, a limit or a persisted
  document refused it) has no `data` and is 400 (404 for PersistedQueryNotFound, 500/503
  for an internal fault or a database outage), a result of execution is 200 whatever its
  field errors. A status an operation set itself (429 RATE_LIMITED) is kept in both.

A request error is told from a result of execution as the GraphQL spec draws the line:
execution produces `data` (maybe null) and field errors, each with a `path`; an error
raised before execution has none and comes without `data`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes

from graphql import GraphQLError
from starlette.responses import Response
from strawberry.exceptions import MissingQueryError
from strawberry.http.temporal_response import TemporalResponse
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from certreissue.persisted_documents import DocumentRefusal, Documents, Resolved
from certreissue.request_json import BadRequest, parse_json
from domain.model import Caller
from resolvers.context import Context, Tuning

if TYPE_CHECKING:
    import strawberry

JSON = "application/json"
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
# What the service answers in, most preferred first (a tie between ranges that both name a
# type goes to the first; a tie between wildcards to application/json, see negotiate).
SERVED_MEDIA_TYPES = (GRAPHQL_RESPONSE_JSON, JSON)
UTF8 = ("utf-8", "utf8")
GET_PARAMETERS = ("query", "operationName", "variables", "extensions")
MAX_QUERY_STRING_FIELDS = 64
# A request error's status with application/graphql-response+json, by its code.
REQUEST_ERROR_STATUS = {"PERSISTED_QUERY_NOT_FOUND": 404, "INTERNAL_ERROR": 500, "DATABASE_UNAVAILABLE": 503}

SUBSCRIPTIONS_OVER_WEBSOCKET = (
    "subscriptions are served over a WebSocket on /graphql (the graphql-transport-ws protocol, the token in "
    'connection_init\'s payload as {"Authorization": "Bearer <token>"}), not over HTTP'
)

_QVALUE = re.compile(r"0(\.\d{0,3})?|1(\.0{0,3})?")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


class UnsupportedMediaType(ValueError):
    """The body of a POST is not in a media type the service reads (HTTP 415)."""


@dataclass(frozen=True)
class GraphQLRequest:
    """The GraphQL-over-HTTP request parameters, read from a POST body or a GET query string.
    `query` may be None here: a persisted query comes without it (persisted_documents.py)."""

    method: str
    query: str | None = None
    operation_name: str | None = None
    variables: dict[str, Any] | None = None
    extensions: dict[str, Any] | None = None


# -- media types ------------------------------------------------------------------------------


def _media_type(value: str) -> tuple[str, dict[str, str]] | None:
    """`type/subtype` (lowercased) and its parameters (names lowercased, quotes removed)."""
    kind, *parts = value.split(";")
    kind = kind.strip().lower()
    main, slash, sub = kind.partition("/")
    if not (slash and _TOKEN.fullmatch(main) and _TOKEN.fullmatch(sub)):
        return None
    parameters = {}
    for part in parts:
        name, equals, raw = part.partition("=")
        name = name.strip().lower()
        if name:
            parameters.setdefault(name, raw.strip().strip('"') if equals else "")
    return kind, parameters


def negotiate(accept: str | None) -> str | None:
    """The media type to answer in, from the request's Accept header (RFC 9110 12.5.1):
    each served type takes the q-value of the most specific range that matches it (a range
    with a charset other than UTF-8 matches nothing: only UTF-8 is served); the highest q
    wins, then the more specific range. When both are matched only by a wildcard (`*/*`,
    `application/*`) the answer is application/json; when both are named with the same q,
    application/graphql-response+json. No Accept (or one with no media range) is taken as
    `application/json`: the spec's legacy default, kept for the clients and scripts that
    send none. None when nothing served is acceptable (answer 406)."""
    ranges = []
    for item in (accept or "").split(","):
        if not item.strip():
            continue
        parsed = _media_type(item)
        if parsed is None:
            continue
        kind, parameters = parsed
        q = parameters.pop("q", "1")
        if not _QVALUE.fullmatch(q):
            continue  # not a q-value: the range says nothing we can read
        ranges.append((kind, parameters, float(q)))
    if not ranges:
        return None if (accept or "").strip(" ,\t") else JSON

    def preference(served: str) -> tuple[float, int, int]:
        main = served.split("/")[0]
        best: tuple[int, float] | None = None  # (specificity, q)
        for kind, parameters, q in ranges:
            if parameters.get("charset", "utf-8").lower() not in UTF8:
                continue
            specificity = 2 if kind == served else 1 if kind == f"{main}/*" else 0 if kind == "*/*" else -1
            if specificity >= 0 and (best is None or (specificity, q) > best):
                best = (specificity, q)
        if best is None:
            return (0.0, -1, 0)
        specificity, q = best
        named = specificity == 2
        return (q, specificity, int(named == (served == GRAPHQL_RESPONSE_JSON)))

    chosen = max(SERVED_MEDIA_TYPES, key=preference)
    return chosen if preference(chosen)[0] > 0 else None


def check_content_type(content_type: str | None) -> None:
    """A POST body must be `application/json` in UTF-8 (the spec's one request type; UTF-8
    when no charset is given); raises UnsupportedMediaType saying what to send otherwise."""
    wanted = 'send the request as JSON in UTF-8 with "Content-Type: application/json"'
    if not content_type or not content_type.strip():
        raise UnsupportedMediaType(f"a POST needs a Content-Type header: {wanted}")
    parsed = _media_type(content_type)
    if parsed is None or parsed[0] != JSON:
        shown = content_type.split(";")[0].strip()[:100]
        raise UnsupportedMediaType(f"the content type {shown!r} is not supported: {wanted}")
    charset = parsed[1].get("charset")
    if charset is not None and charset.lower() not in UTF8:
        raise UnsupportedMediaType(f"the body is declared charset={charset[:40]}; only UTF-8 is read: {wanted}")


# -- request parameters -----------------------------------------------------------------------


def _parameters(method: str, values: Mapping[str, Any]) -> GraphQLRequest:
    """The four parameters checked for their types; null is the same as absent, and so is
    an empty operationName (no operation has an empty name)."""
    query = values.get("query")
    if query is not None and not isinstance(query, str):
        raise BadRequest("`query` must be a string: the GraphQL document")
    name = values.get("operationName")
    if name is not None and not isinstance(name, str):
        raise BadRequest("`operationName` must be a string: the name of the operation to run")
    for key in ("variables", "extensions"):
        if values.get(key) is not None and not isinstance(values[key], dict):
            raise BadRequest(f"`{key}` must be an object (a JSON map) or null")
    return GraphQLRequest(method, query, name or None, values.get("variables"), values.get("extensions"))


def read_post(body: bytes) -> GraphQLRequest:
    """The parameters of a POST body: one JSON object in UTF-8 (request_json.py's checks:
    valid JSON, nesting at most 64 deep)."""
    value = parse_json(body)
    if isinstance(value, list):
        raise BadRequest(
            'the request body must be a JSON object such as {"query": "..."}; it is an array: '
            "batches of operations are not accepted, send one operation per request"
        )
    if not isinstance(value, dict):
        kind = {str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")
        raise BadRequest(f'the request body must be a JSON object such as {{"query": "...", "variables": {{...}}}}; it is {kind}')
    return _parameters("POST", value)


def read_get(query_string: bytes) -> GraphQLRequest:
    """The parameters of a GET, from its query string as URLSearchParams encodes them (UTF-8,
    `+` for space); `variables` and `extensions` are JSON. A parameter given twice is
    refused rather than one of its values guessed; other parameters are ignored."""
    pairs = [pair for pair in query_string.split(b"&") if pair]
    if len(pairs) > MAX_QUERY_STRING_FIELDS:
        raise BadRequest(f"the query string has more than {MAX_QUERY_STRING_FIELDS} parameters")
    values: dict[str, Any] = {}
    for pair in pairs:
        raw_name, _, raw_value = pair.partition(b"=")
        try:
            name, value = (unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8") for raw in (raw_name, raw_value))
        except UnicodeDecodeError:
            raise BadRequest("the query string is not valid UTF-8 once percent-decoded") from None
        if name not in GET_PARAMETERS:
            continue
        if name in values:
            raise BadRequest(f"the query string gives `{name}` more than once")
        values[name] = value
    for key in ("variables", "extensions"):
        if values.get(key):
            values[key] = parse_json(values[key], f"the `{key}` query parameter")
        else:
            values.pop(key, None)
    return _parameters("GET", values)


# -- responses --------------------------------------------------------------------------------


def _executed(result: ExecutionResult) -> bool:
    """Whether the operation ran: it gave data (even null) or field errors (with a path);
    errors without a path and no data are request errors, raised before execution."""
    errors = result.errors or []
    return result.data is not None or not errors or any(error.path for error in errors)


def request_error_status(errors: list[GraphQLError]) -> int:
    codes = {(error.extensions or {}).get("code") for error in errors}
    return max((REQUEST_ERROR_STATUS.get(code, 400) for code in codes), default=400)


def response_body_and_status(result: ExecutionResult, media: str, status: int) -> tuple[dict, int]:
    """The GraphQL response for `result` in `media`, and its HTTP status (`status` is what
    the operation set: 200 unless it said otherwise, as a 429 does)."""
    executed = _executed(result)
    body: dict[str, Any] = {}
    if executed or media == JSON:
        body["data"] = result.data
    if result.errors:
        body["errors"] = [error.formatted for error in result.errors]
    if result.extensions:
        body["extensions"] = result.extensions
    if executed or media == JSON or status != 200:
        return body, status
    return body, request_error_status(result.errors or [])


def json_response(body: dict, status: int, media: str, headers: Mapping[str, str] | None = None) -> Response:
    """JSON (ASCII-escaped, so any text, even a lone surrogate, encodes) in UTF-8."""
    content = json.dumps(body, separators=(",", ":")).encode("utf-8")
    return Response(content, status_code=status, headers=dict(headers or {}), media_type=f"{media}; charset=utf-8")


def error_response(
    status: int, code: str, message: str, media: str = JSON, headers: Mapping[str, str] | None = None
) -> Response:
    """A refusal before any operation runs: one error with `extensions.code`; `data: null`
    with application/json (as it always was), no `data` with graphql-response+json."""
    body: dict[str, Any] = {"errors": [{"message": message, "extensions": {"code": code}}]}
    if media == JSON:
        body = {"data": None, **body}
    return json_response(body, status, media, headers)


def _request_error(message: str, code: str | None = None) -> ExecutionResult:
    return ExecutionResult(data=None, errors=[GraphQLError(message, extensions={"code": code} if code else None)])


# -- execution --------------------------------------------------------------------------------


class GraphQLOverHTTP:
    """Runs the request of an authenticated caller: finds its document (the query, or a
    persisted one), executes it with the schema (every limit is the schema's: depth,
    aliases, tokens, cost, rate limit) and answers in the negotiated media type."""

    def __init__(
        self, schema: strawberry.Schema, services_ref: dict, documents: Documents, tuning: Tuning = Tuning()
    ) -> None:
        self._schema = schema
        self._services_ref = services_ref
        self._documents = documents
        self._tuning = tuning

    async def respond(self, request: GraphQLRequest, caller: Caller, media: str, *, base_url: str = "") -> Response:
        try:
            found = self._documents.resolve(request.query, request.extensions, caller)
        except BadRequest as exc:
            return error_response(400, "BAD_REQUEST", str(exc), media)
        if found is None:
            return error_response(
                400, "BAD_REQUEST", "the request has no `query`: send the GraphQL document in `query` "
                "(or a persisted query's hash in extensions.persistedQuery)", media,
            )
        sub_response = TemporalResponse()
        if isinstance(found, DocumentRefusal):
            result = _request_error(found.message, found.code)
        else:
            outcome = await self._execute(request, found, caller, media, sub_response, base_url)
            if isinstance(outcome, Response):
                return outcome
            result = outcome
            if _executed(result):
                self._documents.ran(found)
        body, status = response_body_and_status(result, media, sub_response.status_code)
        return json_response(body, status, media, sub_response.headers)

    async def _execute(
        self, request: GraphQLRequest, document: Resolved, caller: Caller, media: str, sub_response: TemporalResponse,
        base_url: str = "",
    ) -> ExecutionResult | Response:
        if not document.text:
            return _request_error("Syntax Error: Unexpected <EOF>: the document is empty.")
        context = Context(
            services=self._services_ref["services"], caller=caller, tuning=self._tuning, response=sub_response,
            base_url=base_url,
        )
        try:
            return await self._schema.execute(
                document.text,
                variable_values=request.variables,
                context_value=context,
                operation_name=request.operation_name,
                # Subscriptions run over the WebSocket (certreissue/graphql_ws.py), not here.
                allowed_operation_types=OperationType.from_http(request.method) - {OperationType.SUBSCRIPTION},
                operation_extensions=request.extensions,
            )
        except InvalidOperationTypeError as exc:
            if exc.operation_type is OperationType.MUTATION:
                return error_response(
                    405, "METHOD_NOT_ALLOWED", "a mutation cannot be sent with GET: send it with POST",
                    media, {"Allow": "POST"},
                )
            if exc.operation_type is OperationType.SUBSCRIPTION:
                return _request_error(SUBSCRIPTIONS_OVER_WEBSOCKET, "OPERATION_NOT_SUPPORTED")
            return _request_error(exc.as_http_error_reason(request.method))
        except CannotGetOperationTypeError as exc:
            return _request_error(exc.as_http_error_reason(), "OPERATION_RESOLUTION_FAILURE")
        except MissingQueryError:
            return _request_error("Syntax Error: Unexpected <EOF>: the document is empty.")
