"""The README's webhook receiver, run for real: the ```python block of its "Webhooks"
section receives a signed event from the service, and refuses a forged one."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import free_port
from tests.integration.test_webhooks import create_endpoint, pending_reissue

README = Path(__file__).resolve().parents[2] / "README.md"


def receiver_source() -> str:
    section = README.read_text().split("## Webhooks", 1)[1]
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", section, re.S) if "standardwebhooks" in b][:1]
    return block


def test_the_readme_receiver_is_at_most_15_lines():
    assert len([line for line in receiver_source().splitlines() if line.strip()]) <= 15


async def test_the_readme_receiver_verifies_and_prints_a_delivered_event_and_refuses_a_forged_one(owner, tmp_path):
    port = free_port()
    endpoint, secret = await create_endpoint(owner, f"http://127.0.0.1:{port}/", ["reissue.created"])
    script = tmp_path / "receiver.py"
    script.write_text(receiver_source())
    out = (tmp_path / "out.txt").open("w+")
    process = subprocess.Popen([sys.executable, str(script)], stdout=out, stderr=subprocess.DEVNULL,
                               env={**os.environ, "WEBHOOK_SECRET": secret, "PORT": str(port)})
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            for _ in range(200):
                try:
                    forged = await http.post(f"http://127.0.0.1:{port}/", content=b'{"type":"x"}', headers={
                        "webhook-id": "msg_forged", "webhook-timestamp": "1", "webhook-signature": "v1,AAAA"})
                    break
                except httpx.HTTPError:
                    await asyncio.sleep(0.1)
            assert forged.status_code == 400
        reissue = await pending_reissue(owner)
        for _ in range(600):
            printed = Path(out.name).read_text()
            if reissue["id"] in printed:
                break
            await asyncio.sleep(0.1)
        (line,) = [line for line in printed.splitlines() if reissue["id"] in line]
        assert line.startswith("reissue.created {"), printed
    finally:
        process.terminate()
        process.wait(10)
        out.close()
