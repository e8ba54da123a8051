"""The load generator: a second process that drives the server on loopback.

`python -m bench.loadgen` reads one JSON spec on stdin and prints one JSON result. Each of
`concurrency` workers holds one keep-alive HTTP/1.1 connection (asyncio protocol on uvloop,
responses parsed by httptools) and sends its next request when the previous one is
answered (closed loop). The clients run without a pause; what completes in the recording
window counts. It opens once `warmup` seconds have passed and every client has had an
answer (the pipeline is full), and closes at the `max_requests`-th completion, or after
`duration` seconds once at least `min_requests` (default 2 per client) have completed, or
after `max_window` seconds (default 30) whatever the count; then no request is started,
and the ones in flight finish unrecorded. Throughput = completions in the window
/ its length. The CPU time that the processes in `cpu_pids` (the API, the database) spent
within the window is read from /proc, so each side's cost per request can be told apart.

Modes:
  simple  rotate through the certificate IDs in `keys` (or none) for `scenario`
  cycle   requestReissue then cancelReissue, worker w on keys w, w+C, w+2C, ... so no two
          workers share a primary domain; the cancel always follows its request
  mixed   a fixed weighted schedule of the scenarios above (the memory test)
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time

from bench.scenarios import http_request, payload_of, request_for


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class Connection(asyncio.Protocol):
    def __init__(self) -> None:
        import httptools

        self.parser = httptools.HttpResponseParser(self)
        self.transport = None
        self.answered = False
        self.waiter: asyncio.Future | None = None
        self.chunks: list[bytes] = []

    # asyncio.Protocol
    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def connection_lost(self, exc) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(f"connection lost: {exc}"))

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.chunks = []

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result((self.parser.get_status_code(), b"".join(self.chunks)))

    async def reconnect(self, port: int) -> None:
        import httptools

        if self.transport is not None:
            self.transport.close()
        self.parser = httptools.HttpResponseParser(self)
        self.waiter = None
        await asyncio.get_running_loop().create_connection(lambda: self, "127.0.0.1", port)

    async def send(self, raw: bytes, timeout: float) -> tuple[int, bytes]:
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return await asyncio.wait_for(self.waiter, timeout)


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, int(round(q * (len(sorted_values) - 1)))))
    return sorted_values[index]


class Run:
    def __init__(self, spec: dict) -> None:
        self.spec = spec
        self.variant = spec["variant"]
        self.token = spec["token"]
        self.timeout = float(spec.get("timeout", 60))
        self.latencies: list[float] = []
        self.errors: dict[str, int] = {}
        self.user_errors: dict[str, int] = {}
        self.count = 0
        self.recording = False
        self.stop_at = float("inf")
        self.window_open_at = 0.0
        self.ready = 0
        self.window_start = 0.0
        self.window_end: float | None = None
        self.cpu_start: dict = {}
        self.cpu_end: dict = {}
        self.max_requests = int(spec.get("max_requests", 10**9))
        self._raw: dict[tuple[str, str | None], bytes] = {}

    def raw(self, scenario: str, key: str | None) -> bytes:
        cache_key = (scenario, key)
        raw = self._raw.get(cache_key)
        if raw is None:
            path, body = request_for(scenario, self.variant, key)
            raw = http_request(path, body, self.token)
            if scenario not in ("request", "cancel"):
                self._raw[cache_key] = raw
        return raw

    def _error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def more(self) -> bool:
        return time.perf_counter() < self.stop_at

    def _cpu(self) -> dict:
        out = {}
        for name, pid in (self.spec.get("cpu_pids") or {}).items():
            try:
                fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
                out[name] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
            except (OSError, IndexError, ValueError):
                out[name] = 0.0
        usage = resource.getrusage(resource.RUSAGE_SELF)
        out["loadgen"] = usage.ru_utime + usage.ru_stime
        return out

    def _may_open(self, now: float) -> bool:
        return now >= self.window_open_at and self.ready >= self.concurrency

    def _may_close(self, now: float) -> bool:
        elapsed = now - self.window_start
        return (
            self.count >= self.max_requests
            or (elapsed >= self.duration and self.count >= self.min_requests)
            or elapsed >= self.max_window
        )

    def _open_window(self) -> None:
        self.recording = True
        self.window_start = time.perf_counter()
        self.cpu_start = self._cpu()

    def _close_window(self, now: float) -> None:
        self.recording = False
        self.window_end = now
        self.cpu_end = self._cpu()
        self.stop_at = now  # start nothing more

    async def call(self, conn: Connection, scenario: str, key: str | None, *, parse: bool = False):
        started = time.perf_counter()
        try:
            status, body = await conn.send(self.raw(scenario, key), self.timeout)
        except (ConnectionError, OSError, asyncio.TimeoutError) as exc:
            # Counted, then the client reconnects and goes on (the run stays bounded).
            kind = "timeout" if isinstance(exc, asyncio.TimeoutError) else "connection_lost"
            if self.recording:
                self.count += 1
                self._error(kind)
            await conn.reconnect(int(self.spec["port"]))
            return {} if parse else None
        now = time.perf_counter()
        if not conn.answered:
            conn.answered = True
            self.ready += 1
        if not self.recording and self.window_end is None and self._may_open(now):
            self._open_window()
        if self.recording:
            self.latencies.append(now - started)
            self.count += 1
            if status != 200:
                self._error(f"http_{status}")
            elif b'"errors":[' in body:
                self._error("graphql_errors")
            if self._may_close(now):
                self._close_window(now)
        if parse or status != 200:
            try:
                return json.loads(body)
            except ValueError:
                return {}
        return None

    def _user_errors(self, payload: dict) -> None:
        if self.recording:
            for e in payload.get("userErrors") or []:
                self.user_errors[e.get("code", "?")] = self.user_errors.get(e.get("code", "?"), 0) + 1

    async def cycle(self, conn: Connection, cid: str) -> None:
        response = await self.call(conn, "request", cid, parse=True)
        payload = payload_of(response or {})
        self._user_errors(payload)
        reissue = payload.get("reissue")
        if reissue:
            cancelled = payload_of(await self.call(conn, "cancel", reissue["id"], parse=True) or {})
            self._user_errors(cancelled)

    async def worker(self, index: int, conn: Connection) -> None:
        mode = self.spec["mode"]
        keys = self.spec.get("keys") or [None]
        concurrency = self.spec["concurrency"]
        if mode == "cycle":
            mine = keys[index::concurrency] or [keys[index % len(keys)]]
            i = 0
            while self.more():
                await self.cycle(conn, mine[i % len(mine)])
                i += 1
        elif mode == "simple":
            scenario = self.spec["scenario"]
            i = index
            while self.more():
                await self.call(conn, scenario, keys[i % len(keys)])
                i += concurrency
        elif mode == "mixed":
            schedule = self.spec["schedule"]  # list of [scenario, weight]
            plan = [name for name, weight in schedule for _ in range(weight)]
            cycle_keys = self.spec.get("cycle_keys") or keys
            mine = cycle_keys[index::concurrency] or [cycle_keys[index % len(cycle_keys)]]
            i = index
            while self.more():
                scenario = plan[i % len(plan)]
                if scenario == "reissueCycle":
                    await self.cycle(conn, mine[(i // len(plan)) % len(mine)])
                elif scenario == "certificates50":
                    await self.call(conn, scenario, None)
                else:
                    await self.call(conn, scenario, keys[i % len(keys)])
                i += 1
        else:
            raise ValueError(f"unknown mode {mode}")

    async def ticker(self) -> None:
        """Opens and closes the window on time even when no request completes then."""
        while self.window_end is None:
            now = time.perf_counter()
            if not self.recording and self._may_open(now):
                self._open_window()
            if self.recording and self._may_close(now):
                self._close_window(now)
                return
            await asyncio.sleep(0.01)

    async def main(self) -> dict:
        loop = asyncio.get_running_loop()
        concurrency = int(self.spec["concurrency"])
        conns = []
        for _ in range(concurrency):
            _, conn = await loop.create_connection(Connection, "127.0.0.1", int(self.spec["port"]))
            conns.append(conn)
        started = time.perf_counter()
        self.concurrency = concurrency
        self.window_open_at = started + float(self.spec.get("warmup", 0))
        self.duration = float(self.spec["duration"])
        self.min_requests = int(self.spec.get("min_requests", 2 * concurrency))
        self.max_window = max(self.duration, float(self.spec.get("max_window", 30)))
        self.stop_at = float("inf")
        ticker = asyncio.create_task(self.ticker())
        await asyncio.gather(*(self.worker(i, c) for i, c in enumerate(conns)))
        await ticker
        for conn in conns:
            conn.transport.close()
        elapsed = self.window_end - self.window_start
        lat = sorted(self.latencies)
        cpu = {k: self.cpu_end[k] - self.cpu_start.get(k, 0.0) for k in self.cpu_end}
        return {
            "requests": self.count,
            "elapsed_s": elapsed,
            "rps": self.count / elapsed if elapsed > 0 else 0.0,
            "p50_ms": percentile(lat, 0.50) * 1000,
            "p90_ms": percentile(lat, 0.90) * 1000,
            "p99_ms": percentile(lat, 0.99) * 1000,
            "max_ms": (lat[-1] * 1000) if lat else 0.0,
            "errors": self.errors,
            "user_errors": self.user_errors,
            "cpu_s": cpu,
            "cpu_ms_per_request": {k: 1000 * v / self.count for k, v in cpu.items()} if self.count else {},
        }


def main() -> int:
    spec = json.loads(sys.stdin.read())
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        runner = asyncio.run
    result = runner(Run(spec).main())
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
