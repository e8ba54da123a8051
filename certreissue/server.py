"""uvicorn's HTTP/1.1 protocol (httptools) with the read deadlines uvicorn lacks.

- Headers: a timer starts when a connection opens and whenever bytes of a new request
  begin to arrive (on a kept-alive connection too) and stops once the headers are
  complete. When it fires the connection is closed, after a 408 with a JSON error if part
  of a request had arrived. Without it, a client sending its headers one byte at a time
  held a socket for as long as it liked.
- Body: the /graphql endpoint answers 408 itself when the body it reads does not arrive
  in time (certreissue/app.py). This is the backstop for bodies nobody reads (a route that
  answers without reading them): once the body deadline passes, a connection whose answer
  is sent is closed, one whose answer is still being made is closed after it.

Use `http_protocol(settings)` as uvicorn's `Config(http=...)`, or all of
`uvicorn_options(settings)` (the WebSocket settings of subscriptions too).
"""

from __future__ import annotations

import asyncio
import json
import logging

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from certreissue.settings import Settings

log = logging.getLogger("certreissue")


def _timeout_response(message: str) -> bytes:
    body = json.dumps(
        {"data": None, "errors": [{"message": message, "extensions": {"code": "REQUEST_TIMEOUT"}}]}
    ).encode()
    head = (
        b"HTTP/1.1 408 Request Timeout\r\n"
        b"content-type: application/json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n"
        b"cache-control: no-store\r\n"
        b"x-content-type-options: nosniff\r\n"
        b"connection: close\r\n\r\n"
    )
    return head + body


class DeadlineHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol with a header deadline and a body backstop (see the module)."""

    header_timeout: float = 10.0
    body_timeout: float = 30.0

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._request_begun = False

    # -- the timers ---------------------------------------------------------------------

    def _start_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout, self._header_deadline_passed)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _cancel_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _answering(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete

    def _header_deadline_passed(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        if self.flow.read_paused:
            # We stopped reading (a pipelined request waits for the one being answered):
            # what has not arrived is not the client's delay.
            self._start_header_timer()
            return
        if self._request_begun and not self._answering():
            self.transport.write(
                _timeout_response(f"the request headers did not arrive within {self.header_timeout:g} s")
            )
        log.info("connection closed: request headers not received within %g s", self.header_timeout)
        self.transport.close()

    def _body_deadline_passed(self) -> None:
        self._body_timer = None
        if self.transport.is_closing():
            return
        if self._answering():
            self.cycle.keep_alive = False  # the answer being made is the last on this connection
            return
        log.info("connection closed: request body not received within %g s", self.body_timeout)
        self.transport.close()

    # -- uvicorn's hooks ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_header_timer()  # a connection that never sends a request is closed too

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        self._cancel_body_timer()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._request_begun = True
        self._cancel_body_timer()
        self._start_header_timer()

    def on_headers_complete(self) -> None:
        self._cancel_header_timer()
        self._request_begun = False
        super().on_headers_complete()
        if not (self.parser.should_upgrade() and self._should_upgrade()):
            self._body_timer = self.loop.call_later(self.body_timeout, self._body_deadline_passed)

    def handle_websocket_upgrade(self) -> None:
        self._cancel_header_timer()  # the connection now belongs to the WebSocket protocol
        self._cancel_body_timer()
        super().handle_websocket_upgrade()

    def on_message_complete(self) -> None:
        self._cancel_body_timer()
        super().on_message_complete()


def uvicorn_options(settings: Settings) -> dict:
    """What `certreissue serve` (and the tests' server) give uvicorn: the protocol with the
    read deadlines, and an idle keep-alive longer than clients keep theirs (httpx and most
    HTTP clients drop an idle connection after 5 s). A server that closes first races a
    client sending its next request on the connection being closed: the request is lost
    with a connection reset."""
    return {
        "http": http_protocol(settings),
        "timeout_keep_alive": settings.keep_alive_seconds,
        # Subscriptions (certreissue/graphql_ws.py): websockets' sans-I/O protocol waits for
        # the socket to drain before each send and reads one client message at a time; a
        # larger message than this closes the socket (1009); pings every 20 s, and a client
        # that does not answer one within 20 s is dropped.
        "ws": "websockets-sansio",
        "ws_max_size": settings.ws_max_message_bytes,
        "ws_ping_interval": 20.0,
        "ws_ping_timeout": 20.0,
    }


def http_protocol(settings: Settings) -> type[HttpToolsProtocol]:
    """The protocol class for uvicorn's `Config(http=...)`, with the settings' deadlines."""
    return type(
        "DeadlineHttpToolsProtocol",
        (DeadlineHttpToolsProtocol,),
        {"header_timeout": settings.header_timeout_seconds, "body_timeout": settings.body_timeout_seconds},
    )
