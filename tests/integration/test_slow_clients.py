"""Slow and vanishing clients, over raw sockets against a real server with small
timeouts: a client dripping its request headers or body one byte at a time is cut off
once CERTS_HEADER_TIMEOUT_SECONDS / CERTS_BODY_TIMEOUT_SECONDS have passed (it no longer
holds a socket for as long as it likes); a normal client, slow within the bounds or idle
between kept-alive requests, is unaffected; a client that leaves while its request is read
is one log line, not a traceback."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from certreissue.logs import JsonFormatter
from tests.conftest import ApiServer, free_port, new_token

HEADER_TIMEOUT = 1.0
BODY_TIMEOUT = 1.5
MARGIN = 2.0  # scheduling slack on a busy machine; the bound, not a speed
DRIP_INTERVAL = 0.1


@pytest.fixture(scope="module")
def slow_api(settings, database_uri):
    server = ApiServer(
        dataclasses.replace(settings, header_timeout_seconds=HEADER_TIMEOUT, body_timeout_seconds=BODY_TIMEOUT),
        database_uri,
    ).start()
    try:
        yield server
    finally:
        server.stop()


@dataclasses.dataclass
class Cut:
    seconds: float  # from the first byte sent until the server closed the connection
    received: bytes  # what the server sent before closing


def drip(port: int, first: bytes, trickle: bytes, *, give_up: float) -> Cut:
    """Sends `first`, then `trickle` one byte every DRIP_INTERVAL, reading all the while,
    until the server closes the connection; fails if it is still open after `give_up` s."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(DRIP_INTERVAL)
        started = time.monotonic()
        received = bytearray()
        if first:
            sock.sendall(first)
        sent = 0
        while time.monotonic() - started < give_up:
            try:
                chunk = sock.recv(65536)
                if not chunk:
                    return Cut(time.monotonic() - started, bytes(received))
                received.extend(chunk)
                continue
            except TimeoutError:
                pass
            except ConnectionResetError:
                return Cut(time.monotonic() - started, bytes(received))
            try:
                sock.send(trickle[sent % len(trickle) : sent % len(trickle) + 1])
                sent += 1
            except (BrokenPipeError, ConnectionResetError):
                return Cut(time.monotonic() - started, bytes(received))
        raise AssertionError(f"the server still held the connection after {give_up:.0f} s (sent {sent} bytes)")


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length, read from a blocking socket."""
    data = bytearray()
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before the response headers: {bytes(data)!r}"
        data.extend(chunk)
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    body = bytearray(body)
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed in the middle of the response body"
        body.extend(chunk)
    return status, headers, bytes(body)


def status_of(raw: bytes) -> int | None:
    return int(raw.split(b" ", 2)[1]) if raw.startswith(b"HTTP/1.1 ") else None


# -- headers -------------------------------------------------------------------------------


def test_a_client_dripping_its_headers_is_disconnected_after_the_header_timeout(slow_api):
    cut = drip(
        slow_api.port,
        b"GET /healthz HTTP/1.1\r\nHost: t\r\n",
        b"X-Slow: " + b"a" * 1000,
        give_up=HEADER_TIMEOUT + MARGIN + 5,
    )
    assert cut.seconds < HEADER_TIMEOUT + MARGIN, cut
    assert status_of(cut.received) in (None, 408), cut.received[:200]


def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(slow_api):
    with socket.create_connection(("127.0.0.1", slow_api.port)) as sock:
        sock.settimeout(HEADER_TIMEOUT + MARGIN + 5)
        started = time.monotonic()
        try:
            leftover = sock.recv(65536)
        except ConnectionResetError:
            leftover = b""
        assert time.monotonic() - started < HEADER_TIMEOUT + MARGIN
        assert leftover == b""  # nothing was asked: closed without an answer


def test_a_kept_alive_connection_dripping_its_next_request_is_disconnected(slow_api):
    with socket.create_connection(("127.0.0.1", slow_api.port)) as sock:
        sock.settimeout(10)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        assert read_response(sock)[0] == 200
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")  # the next request starts, then drips
        sock.settimeout(DRIP_INTERVAL)
        started = time.monotonic()
        while True:
            assert time.monotonic() - started < HEADER_TIMEOUT + MARGIN, "still open"
            try:
                if not sock.recv(65536):
                    break
            except TimeoutError:
                try:
                    sock.send(b"a")
                except (BrokenPipeError, ConnectionResetError):
                    break
            except ConnectionResetError:
                break


def test_a_slow_client_answered_408_for_its_headers_learns_why(slow_api):
    """A partial request that stops gets 408 with a JSON error, then the close."""
    with socket.create_connection(("127.0.0.1", slow_api.port)) as sock:
        sock.settimeout(HEADER_TIMEOUT + MARGIN + 5)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Half: ")
        status, headers, body = read_response(sock)
    assert status == 408
    assert headers.get("connection") == "close"
    error = json.loads(body)["errors"][0]
    assert error["extensions"]["code"] == "REQUEST_TIMEOUT" and "header" in error["message"]


# -- body ----------------------------------------------------------------------------------


def test_a_client_dripping_its_body_is_cut_off_after_the_body_timeout(slow_api):
    head = (
        b"POST /graphql HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer crt1_whatever\r\nContent-Length: 100000\r\n\r\n"
    )
    cut = drip(slow_api.port, head, b'{"query": "{ __typename }"' + b" " * 1000, give_up=BODY_TIMEOUT + MARGIN + 5)
    assert cut.seconds < BODY_TIMEOUT + MARGIN, cut
    head, _, body = cut.received.partition(b"\r\n\r\n")
    assert status_of(cut.received) == 408, cut.received[:300]
    assert b"connection: close" in head.lower()
    payload = json.loads(body)
    assert payload["data"] is None
    assert payload["errors"][0]["extensions"] == {"code": "REQUEST_TIMEOUT"}
    assert "body" in payload["errors"][0]["message"]


def test_a_client_dripping_a_body_no_route_reads_is_disconnected_after_the_body_timeout(slow_api):
    """/healthz answers without reading the body: the rest may not hold the socket."""
    cut = drip(
        slow_api.port,
        b"GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n",
        b"x" * 1000,
        give_up=BODY_TIMEOUT + MARGIN + 5,
    )
    assert cut.seconds < BODY_TIMEOUT + MARGIN, cut
    assert status_of(cut.received) == 200  # it was answered first


# -- normal clients ------------------------------------------------------------------------


async def test_a_normal_client_is_unaffected_even_slow_within_the_bounds_or_idle_between_requests(slow_api, services):
    token = await new_token(services, f"slow-{uuid.uuid4().hex[:8]}")
    body = json.dumps({"query": "{ certificates { totalCount } }"}).encode()
    post = (
        b"POST /graphql HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + token.encode() + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    )

    def converse() -> list[int]:
        statuses = []
        with socket.create_connection(("127.0.0.1", slow_api.port)) as sock:
            sock.settimeout(10)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            statuses.append(read_response(sock)[0])
            time.sleep(HEADER_TIMEOUT * 1.5)  # idle on a kept-alive connection: no request started
            sock.sendall(b"GET /healthz HTTP/1.1\r\n")
            time.sleep(HEADER_TIMEOUT / 3)  # headers in two parts, within the bound
            sock.sendall(b"Host: t\r\n\r\n")
            statuses.append(read_response(sock)[0])
            sock.sendall(post + body[:10])
            time.sleep(BODY_TIMEOUT / 3)  # the body in two parts, within the bound
            sock.sendall(body[10:])
            status, _, answer = read_response(sock)
            statuses.append(status)
            assert json.loads(answer) == {"data": {"certificates": {"totalCount": 0}}}
        return statuses

    assert await asyncio.to_thread(converse) == [200, 200, 200]


# -- clients that leave ----------------------------------------------------------------------


class JsonLines(logging.Handler):
    """Formats each record as the service does, when it is emitted (in the request's context)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def server_log():
    """Every line the in-thread server logs (our loggers, uvicorn's, asyncio's) during the test."""
    handler = JsonLines()
    loggers = [logging.getLogger(name) for name in ("certreissue", "strawberry", "uvicorn", "asyncio")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        for logger, level in zip(loggers, levels):
            logger.removeHandler(handler)
            logger.setLevel(level)


def lines_of(handler: JsonLines, request_id: str, *, wait: float = 5.0) -> list[dict]:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        entries = [json.loads(line) for line in handler.lines]
        mine = [e for e in entries if e.get("request_id") == request_id]
        if mine:
            time.sleep(0.5)  # anything else this request logs (a traceback) comes right after
            entries = [json.loads(line) for line in handler.lines]
            return [e for e in entries if e.get("request_id") == request_id]
        time.sleep(0.05)
    return []


def assert_no_traceback(handler: JsonLines) -> None:
    for line in handler.lines:
        entry = json.loads(line)
        assert "error" not in entry and "Traceback" not in line, line
        assert entry["level"] not in ("error", "critical"), line


def test_a_client_that_disconnects_while_its_body_is_read_is_one_log_line(slow_api, server_log):
    request_id = f"gone-{uuid.uuid4().hex[:12]}"
    with socket.create_connection(("127.0.0.1", slow_api.port)) as sock:
        sock.sendall(
            b"POST /graphql HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nX-Request-ID: "
            + request_id.encode()
            + b"\r\nContent-Length: 1000\r\n\r\n"
            + b'{"query": "{ __typename }"'
        )
        time.sleep(0.3)  # the server is reading the body
    [entry] = lines_of(server_log, request_id)
    assert entry["message"] == "client disconnected"
    assert entry["path"] == "/graphql" and entry["method"] == "POST"
    assert_no_traceback(server_log)


def test_a_client_that_disconnects_right_after_sending_its_request_is_one_log_line(slow_api, server_log):
    request_id = f"gone-{uuid.uuid4().hex[:12]}"
    body = b'{"query": "{ __typename }"}'
    with socket.create_connection(("127.0.0.1", slow_api.port)) as sock:
        sock.sendall(
            b"POST /graphql HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nX-Request-ID: "
            + request_id.encode()
            + b"\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body
        )
    [entry] = lines_of(server_log, request_id)
    # Whether the server noticed before or after reading the body, one line says so.
    assert entry["message"] in ("client disconnected", "request"), entry
    assert_no_traceback(server_log)


# -- the same deadlines in `certreissue serve` ------------------------------------------------


def test_certreissue_serve_cuts_off_a_client_dripping_its_headers(settings, database_uri):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CERTS_", "MONGODB_"))}
    env.update(
        MONGODB_URI=database_uri, CERTS_DB_NAME=settings.db_name, CERTS_DATA_DIR=str(settings.data_dir),
        CERTS_HEADER_TIMEOUT_SECONDS=str(HEADER_TIMEOUT),
    )
    cli = str(Path(sys.executable).parent / "certreissue")
    process = subprocess.Popen([cli, "serve", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and process.poll() is None, "serve did not start"
            time.sleep(0.2)
        cut = drip(port, b"GET /healthz HTTP/1.1\r\nHost: t\r\n", b"X-Slow: " + b"a" * 1000,
                   give_up=HEADER_TIMEOUT + MARGIN + 5)
        assert cut.seconds < HEADER_TIMEOUT + MARGIN, cut
    finally:
        process.terminate()
        process.wait(30)
