"""A loopback HTTP server for file-validation tests: serves what the test sets per path."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FileSite:
    def __init__(self) -> None:
        # (host, path) -> (status, headers, body)
        self.routes: dict[tuple[str, str], tuple[int, dict, bytes]] = {}
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                host = (self.headers.get("Host") or "").split(":")[0].lower()
                status, headers, body = site.routes.get((host, self.path), (404, {}, b"not found"))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def serve(self, host: str, path: str, body: str | bytes, status: int = 200, headers: dict | None = None) -> None:
        self.routes[(host.lower(), path)] = (status, headers or {}, body.encode() if isinstance(body, str) else body)

    def start(self) -> FileSite:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
