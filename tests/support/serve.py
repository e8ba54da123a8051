"""`certreissue serve` in a process of its own, for tests that need the real command."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import free_port


class ServeProcess:
    """`certreissue serve` on the tests' database and data dir (so it shares the master key,
    and so the API tokens, with the tests). `env` adds or overrides variables."""

    def __init__(self, settings, database_uri: str, logs: Path, env: dict | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = logs / f"serve-{self.port}.log"
        environment = {
            **os.environ,
            "MONGODB_URI": database_uri,
            "CERTS_DB_NAME": settings.db_name,
            "CERTS_DATA_DIR": str(settings.data_dir),
            "CERTS_GRAPHIQL": "false",
            "CERTS_RATE_LIMIT_PER_MINUTE": "0",
            **(env or {}),
        }
        executable = Path(sys.executable).with_name("certreissue")
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [str(executable), "serve", "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"],
                env=environment, stdout=log, stderr=subprocess.STDOUT,
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    async def wait_ready(self, within: float = 30) -> ServeProcess:
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(base_url=self.url, timeout=2) as client:
            while True:
                if self.process.poll() is not None:
                    raise AssertionError(f"certreissue serve exited with {self.process.returncode}:\n{self.log()}")
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"certreissue serve was not ready within {within} s:\n{self.log()}")
                await asyncio.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(60)  # a loaded machine can be slow to shut down
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
