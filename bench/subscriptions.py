"""The subscriptions section: how long from a mutation's answer (HTTP, one API process) to the
subscriber's message (WebSocket, another API process on the same database), with each
change feed. One subscriber, one mutation at a time: latency, not throughput.

The subscriber watches a certificate of the reissue cycle (ORGANIZATION_OTHER_BRAND, so a
requested reissue waits for the CA and can be cancelled): `requestReissue` turns it
REISSUING, `cancelReissue` ISSUED again; each is one sample, timed from the moment the
mutation's answer has arrived to the moment the message showing the new status has."""

from __future__ import annotations

import asyncio
import json
import random
import time

import httpx
from websockets.asyncio.client import connect

from bench.scenarios import CANCEL, REQUEST, REQUEST_REASON

WATCH = (
    "subscription Watch($id: ID!) { certificateUpdated(id: $id) { id status activeReissue { id status } } }"
)
# Between samples, a pause drawn uniformly from [0, 1) s (seeded: the same every run), so a
# mutation lands at any phase of a 1 s poll: a fixed pause would lock the loop to the poller
# and measure nearly a whole period every time.
MAX_PAUSE_SECONDS = 1.0


async def _message(ws, timeout: float) -> dict:
    async with asyncio.timeout(timeout):
        while True:
            message = json.loads(await ws.recv())
            if message.get("type") == "ping":
                await ws.send(json.dumps({"type": "pong"}))
                continue
            return message


async def measure(subscriber_url: str, mutator_url: str, token: str, certificate_id: str, samples: int,
                  timeout: float = 30.0) -> dict:
    """`samples` mutations (alternately request and cancel) through `mutator_url`, each timed
    to the message of the subscription opened on `subscriber_url`."""
    ws_url = subscriber_url.replace("http://", "ws://", 1) + "/graphql"
    from_answer, from_send, mutation = [], [], []
    messages = 0
    pauses = random.Random(20261130)
    async with (
        connect(ws_url, subprotocols=["graphql-transport-ws"]) as ws,
        httpx.AsyncClient(base_url=mutator_url, timeout=timeout,
                          headers={"Authorization": f"Bearer {token}"}) as http,
    ):
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
        assert (await _message(ws, timeout))["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "w", "type": "subscribe",
                                  "payload": {"query": WATCH, "variables": {"id": certificate_id}}}))
        first = await _message(ws, timeout)
        if first.get("type") != "next" or first["payload"].get("errors"):
            raise RuntimeError(f"the subscription did not start: {first}")
        state = first["payload"]["data"]["certificateUpdated"]
        if state["activeReissue"]:  # left over by an earlier run: start from ISSUED
            await http.post("/graphql", json={"query": CANCEL, "variables": {"id": state["activeReissue"]["id"]}})
            while state["status"] != "ISSUED":
                state = (await _message(ws, timeout))["payload"]["data"]["certificateUpdated"]
        reissue_id = None
        for n in range(samples):
            if reissue_id is None:
                body, wanted = {"query": REQUEST, "variables": {"input": {"certificateId": certificate_id,
                                                                           "reason": REQUEST_REASON}}}, "REISSUING"
            else:
                body, wanted = {"query": CANCEL, "variables": {"id": reissue_id}}, "ISSUED"
            sent = time.perf_counter()
            answer = (await http.post("/graphql", json=body)).json()
            answered = time.perf_counter()
            payload = next(iter((answer.get("data") or {}).values()), None) or {}
            if answer.get("errors") or payload.get("userErrors"):
                raise RuntimeError(f"sample {n}: the mutation failed: {answer}")
            while True:
                message = await _message(ws, timeout)
                messages += 1
                data = (message.get("payload") or {}).get("data") or {}
                if (data.get("certificateUpdated") or {}).get("status") == wanted:
                    break
            arrived = time.perf_counter()
            reissue_id = payload["reissue"]["id"] if reissue_id is None else None
            from_answer.append((arrived - answered) * 1000)
            from_send.append((arrived - sent) * 1000)
            mutation.append((answered - sent) * 1000)
            await asyncio.sleep(pauses.uniform(0, MAX_PAUSE_SECONDS))
        if reissue_id is not None:
            await http.post("/graphql", json={"query": CANCEL, "variables": {"id": reissue_id}})
    return {"from_answer_ms": from_answer, "from_send_ms": from_send, "mutation_ms": mutation,
            "samples": samples, "messages": messages}
