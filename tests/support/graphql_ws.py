"""A graphql-transport-ws client for the tests, over the `websockets` library (a real
WebSocket client: handshake, framing, close codes), speaking the protocol's few messages
itself: https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import defaultdict
from collections.abc import AsyncIterator

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

PROTOCOL = "graphql-transport-ws"
WAIT = 20.0  # seconds a test waits for a message before it fails (a bound, not a measurement)


def ws_url(http_url: str) -> str:
    return http_url.replace("http://", "ws://", 1) + "/graphql"


class Closed(Exception):
    """The server closed the socket; `code` and `reason` are its close frame's."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"closed {code} {reason!r}")
        self.code = code
        self.reason = reason


class GraphQLWebSocket:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self._by_id: dict[str, list[dict]] = defaultdict(list)
        self._other: list[dict] = []

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls, http_url: str, token: str | None = None, *, init: bool = True, payload: dict | None = None,
        origin: str | None = None, subprotocols: tuple[str, ...] = (PROTOCOL,), **options,
    ) -> AsyncIterator[GraphQLWebSocket]:
        """Connects to `/graphql`; with `init`, sends connection_init with the token in its
        payload ({"Authorization": "Bearer <token>"}, or `payload`) and waits for the ack."""
        async with connect(ws_url(http_url), subprotocols=list(subprotocols), origin=origin, **options) as ws:
            client = cls(ws)
            if init:
                await client.init(payload if payload is not None else {"Authorization": f"Bearer {token}"})
            yield client

    async def init(self, payload: dict) -> None:
        await self.send({"type": "connection_init", "payload": payload})
        message = await self._receive()
        assert message["type"] == "connection_ack", message

    async def send(self, message: dict) -> None:
        await self.ws.send(json.dumps(message))

    async def subscribe(self, id: str, query: str, variables: dict | None = None, **payload) -> None:
        await self.send({"id": id, "type": "subscribe", "payload": {"query": query, "variables": variables or {}, **payload}})

    async def complete(self, id: str) -> None:
        await self.send({"id": id, "type": "complete"})

    async def _receive(self, timeout: float = WAIT) -> dict:
        try:
            async with asyncio.timeout(timeout):
                raw = await self.ws.recv()
        except ConnectionClosed as exc:
            raise Closed(exc.rcvd.code if exc.rcvd else None, exc.rcvd.reason if exc.rcvd else "") from None
        message = json.loads(raw)
        if message.get("type") == "ping":
            await self.send({"type": "pong"})
        return message

    async def message(self, id: str, timeout: float = WAIT) -> dict:
        """The next message (next, error or complete) of operation `id`."""
        async with asyncio.timeout(timeout):
            while not self._by_id[id]:
                message = await self._receive()
                if "id" in message:
                    self._by_id[message["id"]].append(message)
                else:
                    self._other.append(message)
        return self._by_id[id].pop(0)

    async def next_data(self, id: str, timeout: float = WAIT) -> dict:
        """The data of operation `id`'s next `next` message; fails on anything else."""
        message = await self.message(id, timeout)
        assert message["type"] == "next", message
        assert not message["payload"].get("errors"), message
        return message["payload"]["data"]

    async def ping(self, timeout: float = WAIT) -> None:
        """graphql-transport-ws ping: the server answers pong while the connection lives."""
        await self.send({"type": "ping"})
        async with asyncio.timeout(timeout):
            while True:
                while self._other:
                    if self._other.pop(0).get("type") == "pong":
                        return
                message = await self._receive()
                (self._by_id[message["id"]] if "id" in message else self._other).append(message)

    async def closed(self, timeout: float = WAIT) -> Closed:
        """Waits until the server closes the socket; every message before that is kept."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    message = await self._receive()
                    (self._by_id[message["id"]] if "id" in message else self._other).append(message)
        except Closed as closed:
            return closed

    def pending(self, id: str) -> list[dict]:
        """Messages of `id` received and not read yet."""
        return list(self._by_id[id])
