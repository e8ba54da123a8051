"""Stopping a server the tests started: SIGTERM, then SIGKILL if it has not exited in time."""

from __future__ import annotations

import subprocess


def terminate(process: subprocess.Popen | None, within: float = 10) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(within)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)
