"""Subscriptions over WebSocket: the graphql-transport-ws protocol on /graphql
(https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md), with Strawberry's
handler and this service's authentication and limits.

- Handshake: only the `graphql-transport-ws` subprotocol (another one: accepted, then
  closed 4406). A browser's `Origin` must be this service's own or one of
  CERTS_CORS_ORIGINS (Strawberry's check; otherwise HTTP 403 before the upgrade).
- `connection_init` must arrive within CERTS_WS_INIT_TIMEOUT_SECONDS (else 4408) and carry
  the token as the HTTP API takes it, in its payload: `{"Authorization": "Bearer <token>"}`
  (the key in any case). No token or not a valid one: closed 4403 Forbidden before anything
  else (R26); the database not answering: closed 1013 (try again later).
- Only subscriptions run here: a query or a mutation is answered with an `error` message
  (OPERATION_NOT_SUPPORTED) saying to send it by HTTP, where the rate limit and status
  codes apply. A document is found as over HTTP (trusted documents, APQ by hash) and
  limited by the same schema (tokens, depth, aliases, cost); a request error is an `error`
  message, never data.
- At most CERTS_WS_MAX_CONNECTIONS sockets per process, authenticated or not (another: 503
  at the upgrade), and CERTS_WS_MAX_CONNECTIONS_PER_TOKEN authenticated ones per token and
  process (another: closed 1008 at connection_init).
- At most CERTS_WS_MAX_SUBSCRIPTIONS at once per connection (another one: an `error`
  message, SUBSCRIPTION_LIMIT_REACHED); a client message over CERTS_WS_MAX_MESSAGE_BYTES
  closes the socket (1009, uvicorn: certreissue/server.py).
- The token is checked again every second through the token cache, so a revoked or expired
  token is seen within CERTS_TOKEN_CACHE_SECONDS + 1 s, and before every message: then the
  socket is closed 4403 and nothing more is sent. (While the database is away a token not
  in the cache cannot be checked; nothing can be read either.)
- Each message is a snapshot of the whole selection; one equal to the operation's previous
  message is not sent. A slow client holds back its subscriptions' reads, not a queue of
  messages (adapters/mongo_changes.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import secrets
import time
from datetime import timedelta

from graphql import GraphQLError
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import GraphQL
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
    _OperationStreamClosed,
)
from strawberry.types.execution import ExecutionResult, PreExecutionError
from strawberry.types.graphql import OperationType
from strawberry.utils.aio import aclosing

from certreissue import logs
from certreissue.graphql_http import _parameters
from certreissue.persisted_documents import DocumentRefusal, Documents, Resolved
from certreissue.request_json import BadRequest
from certreissue.settings import Settings
from domain.model import Caller
from resolvers.context import Context, Tuning

log = logging.getLogger("certreissue")
TOKEN_RECHECK_SECONDS = 1.0
SHUTDOWN_WAIT_SECONDS = 2.0
FORBIDDEN = 4403
POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013
ONLY_SUBSCRIPTIONS = (
    "only subscriptions run over this socket: send queries and mutations to POST /graphql "
    "(where the rate limit and HTTP status codes apply)"
)


def bearer_token(payload: dict) -> str | None:
    """The token of `{"Authorization": "Bearer <token>"}`, the key and the scheme in any case."""
    values = [v for k, v in payload.items() if isinstance(k, str) and k.lower() == "authorization"]
    if len(values) != 1 or not isinstance(values[0], str):
        return None
    scheme, _, token = values[0].strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


class ConnectionContext:
    """One connection's state; Strawberry hands it to the handler as its `context` (each
    operation runs with a Context of its own, built from it)."""

    def __init__(self) -> None:
        self.connection_params: dict | None = None
        self.caller: Caller | None = None
        self.token: str | None = None


class SubscriptionsHandler(BaseGraphQLTransportWSHandler):
    view: SubscriptionsView
    context: ConnectionContext

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._closing = False
        self._token_check: asyncio.Task | None = None
        self._documents: dict[str, Resolved] = {}
        self._started = time.monotonic()
        self._subscriptions = 0
        self._released = False
        self._budgets: dict[str, _SubscriptionBudget] = {}
        self._recancels: set[asyncio.Task] = set()

    # -- the connection -------------------------------------------------------------------

    async def handle_connection_init(self, message) -> None:
        if self.connection_timed_out:
            return
        if self.connection_init_timeout_task:
            self.connection_init_timeout_task.cancel()
        payload = message.get("payload")
        if payload is None:
            payload = {}
        if not isinstance(payload, dict):
            await self.close(4400, "Invalid connection init payload")
            return
        if self.connection_init_received:
            await self.close(4429, "Too many initialisation requests")
            return
        self.connection_init_received = True
        token = bearer_token(payload)
        services = self.view.services
        try:
            caller = await services.tokens.authenticate(token, services.clock.now()) if token else None
        except Exception as error:
            if not services.database_unavailable(error):
                raise
            log.warning("subscriptions: database unavailable while authenticating")
            await self.close(TRY_AGAIN_LATER, "the database is unavailable; try again shortly")
            return
        if caller is None:
            log.info("subscriptions: connection refused (%s token)", "invalid" if token else "no")
            await self.close(FORBIDDEN, "Forbidden")
            return
        if not self.view.hold_token(token):
            log.info("subscriptions: connection refused (too many for its token)")
            await self.close(
                POLICY_VIOLATION,
                f"too many connections for this token (CERTS_WS_MAX_CONNECTIONS_PER_TOKEN={self.view.per_token_limit})",
            )
            return
        self.context.caller, self.context.token = caller, token
        await self.send_message({"type": "connection_ack"})
        self.connection_acknowledged = True
        self._token_check = asyncio.create_task(self._check_token_forever())

    async def _authorised(self) -> bool:
        """The token still valid (R26); True when the database cannot say (nothing can be read then)."""
        services = self.view.services
        try:
            return await services.tokens.authenticate(self.context.token, services.clock.now()) is not None
        except Exception as error:
            if services.database_unavailable(error):
                return True
            raise

    async def _check_token_forever(self) -> None:
        while not self._closing:
            await asyncio.sleep(TOKEN_RECHECK_SECONDS)
            if not await self._authorised():
                await self._forbid()
                return

    async def _forbid(self) -> None:
        """The token was revoked or has expired: stop every subscription, then close 4403."""
        if self._closing:
            return
        log.info("subscriptions: token no longer valid; closing the connection")
        current = asyncio.current_task()
        for operation_id, operation in list(self.operations.items()):
            if operation.task is not current:
                await self.cleanup_operation(operation_id)
        await self.close(FORBIDDEN, "Forbidden: the token was revoked or has expired")

    def _release_slot(self) -> None:
        """Gives back this connection's place among its token's (once)."""
        if self.context.token is not None and not self._released:
            self._released = True
            self.view.release_token(self.context.token)

    async def close(self, code: int, reason: str) -> None:
        if not self._closing:
            self._closing = True
            self._release_slot()  # before the close frame: a client that reconnects at once finds it free
            # The client may be gone already: then there is nobody to tell.
            with contextlib.suppress(WebSocketDisconnect, WebSocketDisconnected, RuntimeError, OSError):
                await self.websocket.close(code=code, reason=reason)

    async def handle_connection_init_timeout(self) -> None:
        await asyncio.sleep(self.connection_init_wait_timeout.total_seconds())
        if not self.connection_init_received:
            self.connection_timed_out = True
            await self.close(4408, "Connection initialisation timeout")

    async def send_message(self, message) -> None:
        if self._closing:  # nothing is sent after the close frame
            return
        try:
            await super().send_message(message)
        except (WebSocketDisconnect, WebSocketDisconnected, OSError):
            # The client left while a message was on its way: nothing to send, nothing wrong
            # (the read loop sees it leave and ends every operation).
            self._closing = True

    async def handle_message(self, message) -> None:
        # A message must be a JSON object with a string `type`: anything else ([1], 5, "x",
        # null) is a protocol error, 4400, not a TypeError deep in the handler.
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            await self.handle_invalid_message("a message must be a JSON object with a string `type`")
            return
        await super().handle_message(message)

    async def handle_invalid_message(self, error_message: str) -> None:
        await self.close(4400, error_message[:120])

    async def shutdown(self) -> None:
        """Strawberry's shutdown, bounded: every operation is cancelled and awaited for at
        most SHUTDOWN_WAIT_SECONDS (cancelled again meanwhile: a stream cancelled while it
        starts can miss the first), so a connection the server closed (4400, 4409...) always
        ends, gives back its token's and the process's slots, and never holds up the
        server's own shutdown."""
        try:
            if self._token_check is not None:
                self._token_check.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._token_check
            if self.connection_init_timeout_task:
                self.connection_init_timeout_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self.connection_init_timeout_task
            tasks = [op.task for op in self.operations.values() if op.task]
            for operation_id in list(self.operations):
                await self.cleanup_operation(operation_id)
            deadline = time.monotonic() + SHUTDOWN_WAIT_SECONDS
            pending = {task for task in tasks if not task.done()}
            while pending and time.monotonic() < deadline:
                for task in pending:
                    task.cancel()
                _, pending = await asyncio.wait(pending, timeout=0.2)
            if pending:
                log.warning("subscriptions: %d operations did not stop when their connection closed", len(pending))
        finally:
            self._release_slot()
            log.info(
                "subscriptions: connection closed (%d subscriptions)", self._subscriptions,
                extra={"path": "/graphql", "duration_ms": round((time.monotonic() - self._started) * 1000, 1),
                       "account": self.context.caller.account if self.context.caller else None},
            )

    # -- operations -----------------------------------------------------------------------

    async def handle_subscribe(self, message) -> None:
        if not self.connection_acknowledged:
            await self.close(4401, "Unauthorized")
            return
        id = message["id"]
        if not isinstance(id, str) or not id:
            await self.close(4400, "a subscribe message needs an id")
            return
        if id in self.operations:
            await self.close(4409, f"Subscriber for {id[:64]} already exists")
            return
        payload = message["payload"]
        try:
            if not isinstance(payload, dict):
                raise BadRequest("its payload must be an object")
            params = _parameters("WS", payload)
        except BadRequest as exc:
            await self.close(4400, f"Invalid subscribe message: {exc}"[:120])
            return
        limit = self.max_subscriptions_per_connection
        if limit is not None and len(self.operations) >= limit:
            await self._refuse(
                id, f"Subscription limit reached: at most {limit} subscriptions at once on one connection; "
                "complete one first, or open another connection", "SUBSCRIPTION_LIMIT_REACHED",
            )
            return
        try:
            found = self.view.documents.resolve(params.query, params.extensions, self.context.caller)
        except BadRequest as exc:
            await self._refuse(id, str(exc), "BAD_REQUEST")
            return
        if found is None:
            await self._refuse(id, "the subscribe message has no `query`", "BAD_REQUEST")
            return
        if isinstance(found, DocumentRefusal):
            await self._refuse(id, found.message, found.code)
            return
        if not found.text.strip():
            await self._refuse(id, "the document is empty", "BAD_REQUEST")
            return
        operation = Operation(self, id, found.text, params.variables, params.operation_name)
        self._documents[id] = found
        self._subscriptions += 1
        operation.task = asyncio.create_task(self.run_operation(operation))
        operation.task.add_done_callback(self._task_done)
        self.operations[id] = operation

    async def cleanup_operation(self, operation_id: str) -> None:
        """Completed by the client or at the end: its share of the account's budget comes back
        at once, and its task is cancelled until it has stopped (a cancel that arrives while
        the stream is starting can be lost; cancelled again, it is not)."""
        operation = self.operations.get(operation_id)
        budget = self._budgets.pop(operation_id, None)
        if budget is not None:
            budget.release()
        await super().cleanup_operation(operation_id)
        if operation is not None and operation.task is not None and not operation.task.done():
            recancel = asyncio.create_task(_cancel_until_done(operation.task))
            self._recancels.add(recancel)
            recancel.add_done_callback(self._recancels.discard)

    async def _handle_pre_execution_error(self, operation: Operation, result: PreExecutionError) -> None:
        # An `error` message for this operation, even for a document that does not parse
        # (Strawberry closes the socket 4400 then): the connection's other subscriptions live on.
        await operation.send_initial_errors(result.errors or [])

    async def _refuse(self, id: str, message: str, code: str) -> None:
        await self.send_message(
            {"id": id, "type": "error", "payload": [{"message": message, "extensions": {"code": code}}]}
        )

    async def run_operation(self, operation: Operation) -> None:
        caller = self.context.caller
        budget = _SubscriptionBudget(self.view, caller.account or f"staff:{caller.token_id}")  # staff: per token
        self._budgets[operation.id] = budget
        context = Context(
            services=self.view.services, caller=self.context.caller, tuning=self.view.tuning,
            subscription_budget=budget,
        )
        try:
            source = await self.schema.stream(
                operation.query,
                variable_values=operation.variables,
                context_value=context,
                root_value=self.root_value,
                operation_name=operation.operation_name,
                allowed_operation_types=(OperationType.SUBSCRIPTION,),
            )
            async with aclosing(source):
                await self._send_result_stream(operation, source, context)
            await operation.send_operation_message({"id": operation.id, "type": "complete"})
        except _OperationStreamClosed:
            return
        except GraphQLError as error:
            # Raised by a parse-time extension (the parser cache, the token limit) before the
            # stream could make it a result: a request error all the same.
            await operation.send_initial_errors([error])
        except Exception as error:  # a bug: logged with its traceback, the operation completed
            await self.handle_task_exception(error)
            with contextlib.suppress(Exception):
                await operation.send_operation_message({"id": operation.id, "type": "complete"})
            self.operations.pop(operation.id, None)
        finally:
            budget.release()
            self._documents.pop(operation.id, None)

    async def _send_result_stream(self, operation: Operation, result_source, context: Context) -> None:
        first = True
        previous: str | None = None
        async for result in result_source:
            if first and (isinstance(result, PreExecutionError) or _request_error(result)):
                errors = _explained(result.errors or [])
                if isinstance(result, PreExecutionError):
                    await self._handle_pre_execution_error(operation, PreExecutionError(data=None, errors=errors))
                else:
                    await operation.send_initial_errors(errors)
                return
            if not isinstance(result, ExecutionResult):
                await self._reject_incremental_delivery(operation)
                return
            if not first and _database_unavailable(result) and context.updates is not None:
                # A nested read found the database away: not a state to show; read again soon.
                context.updates.read_again_later()
                continue
            first = False
            payload = {"data": result.data}
            if result.errors:
                payload["errors"] = [error.formatted for error in result.errors]
            encoded = json.dumps(payload, sort_keys=True, default=str)
            if encoded == previous:
                continue  # the change did not touch the selection
            if not await self._authorised():
                await self._forbid()
                raise _OperationStreamClosed
            await operation.send_next(result)
            previous = encoded
            found = self._documents.pop(operation.id, None)
            if found is not None:
                self.view.documents.ran(found)  # APQ may now find it by its hash


async def _cancel_until_done(task: asyncio.Task) -> None:
    deadline = time.monotonic() + SHUTDOWN_WAIT_SECONDS
    while not task.done() and time.monotonic() < deadline:
        await asyncio.wait({task}, timeout=0.1)
        task.cancel()
    if not task.done():
        log.warning("subscriptions: an operation did not stop when it was completed")


def _request_error(result) -> bool:
    """Refused before anything ran (a limit raised in on_execute): no data, no error with a path."""
    errors = getattr(result, "errors", None) or []
    return getattr(result, "data", None) is None and bool(errors) and not any(e.path for e in errors)


def _database_unavailable(result: ExecutionResult) -> bool:
    errors = result.errors or []
    return bool(errors) and all((e.extensions or {}).get("code") == "DATABASE_UNAVAILABLE" for e in errors)


def _explained(errors: list[GraphQLError]) -> list[GraphQLError]:
    return [
        GraphQLError(ONLY_SUBSCRIPTIONS, extensions={"code": "OPERATION_NOT_SUPPORTED"})
        if isinstance(error.original_error, InvalidOperationTypeError) else error
        for error in errors
    ]


class _SubscriptionBudget:
    """One operation's share of its account's CERTS_WS_MAX_SUBSCRIPTION_COST_PER_ACCOUNT in
    this process: claimed by the cost check before the stream starts, given back when it ends."""

    def __init__(self, view: SubscriptionsView, account: str) -> None:
        self._view, self._account, self._units = view, account, 0
        self.limit = view.cost_limit

    @property
    def held(self) -> int:
        return self._view._cost_by_account.get(self._account, 0)  # noqa: SLF001

    def claim(self, units: int) -> bool:
        if self._units or not self._view.claim_cost(self._account, units):
            return bool(self._units)
        self._units = units
        return True

    def release(self) -> None:
        if self._units:
            self._view.release_cost(self._account, self._units)
            self._units = 0


class SubscriptionsView(GraphQL):
    """Strawberry's ASGI view for the WebSocket scope of /graphql only (the HTTP side is
    certreissue/graphql_http.py), sharing the HTTP side's schema and documents."""

    graphql_transport_ws_handler_class = SubscriptionsHandler

    def __init__(
        self, schema, services_ref: dict, documents: Documents, settings: Settings, tuning: Tuning = Tuning()
    ) -> None:
        super().__init__(
            schema,
            graphql_ide=None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=settings.ws_init_timeout_seconds),
            max_subscriptions_per_connection=settings.ws_max_subscriptions,
            allowed_origins=settings.cors_origins,
        )
        self._services_ref = services_ref
        self.documents = documents
        self.tuning = tuning
        self.connection_limit = settings.ws_max_connections
        self.per_token_limit = settings.ws_max_connections_per_token
        self._open = 0
        self._by_token: dict[str, int] = {}
        self.cost_limit = settings.ws_max_subscription_cost_per_account
        self._cost_by_account: dict[str, int] = {}

    def hold_token(self, token: str) -> bool:
        """Counts one more authenticated socket of `token` in this process; False past the cap."""
        key = hashlib.sha256(token.encode()).hexdigest()  # the token itself is not kept here
        if self._by_token.get(key, 0) >= self.per_token_limit:
            return False
        self._by_token[key] = self._by_token.get(key, 0) + 1
        return True

    def claim_cost(self, account: str, units: int) -> bool:
        held = self._cost_by_account.get(account, 0)
        if held + units > self.cost_limit:
            return False
        self._cost_by_account[account] = held + units
        return True

    def release_cost(self, account: str, units: int) -> None:
        left = self._cost_by_account.get(account, 0) - units
        if left > 0:
            self._cost_by_account[account] = left
        else:
            self._cost_by_account.pop(account, None)

    def release_token(self, token: str) -> None:
        key = hashlib.sha256(token.encode()).hexdigest()
        left = self._by_token.get(key, 0) - 1
        if left > 0:
            self._by_token[key] = left
        else:
            self._by_token.pop(key, None)

    @property
    def services(self):
        return self._services_ref["services"]

    async def get_context(self, request, response) -> ConnectionContext:
        return ConnectionContext()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._open >= self.connection_limit:
            await _refuse_upgrade(scope, send, self.connection_limit)
            return
        self._open += 1
        token = logs.request_id.set("ws-" + secrets.token_hex(6))  # every log line of the connection
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._open -= 1
            logs.request_id.reset(token)


async def _refuse_upgrade(scope: Scope, send: Send, limit: int) -> None:
    """503 before the upgrade (ASGI's denial response where the server has it, else the
    close uvicorn turns into 403): the process already holds CERTS_WS_MAX_CONNECTIONS sockets."""
    log.warning("subscriptions: connection refused, %d sockets open (CERTS_WS_MAX_CONNECTIONS)", limit)
    if "websocket.http.response" in (scope.get("extensions") or {}):
        body = json.dumps({"errors": [{
            "message": "too many WebSocket connections on this process; try again shortly",
            "extensions": {"code": "SERVICE_UNAVAILABLE"},
        }]}).encode()
        await send({"type": "websocket.http.response.start", "status": 503,
                    "headers": [(b"content-type", b"application/json"), (b"retry-after", b"5")]})
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": TRY_AGAIN_LATER})
