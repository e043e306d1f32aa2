"""Fan-out in `gateway dev`: 1,000 subscribers in one region, one change, everyone told.

Starts `gateway dev` on free loopback ports, opens 1,000 graphql-transport-ws connections
to eu-west-1, each subscribed to ``onProductChanged(category: "fanout")`` and known to be
registered (a ping after the subscribe is answered only once the subscribe is handled),
then creates one product in that category through us-east-1 with a staff token. Each
subscriber's figure is the time from the mutation's HTTP response to its message,
read on one client event loop, so it includes that loop's queueing across 1,000 sockets.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import signal
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from benchmarks.freshness import API_KEY, free_base_port, staff_token, start_gateway

SUBSCRIBERS = 1_000
BATCH = 100
CATEGORY = "fanout"
TRANSPORT_WS = Subprotocol("graphql-transport-ws")
SUBSCRIBE = f'subscription {{ onProductChanged(category: "{CATEGORY}") {{ id version }} }}'
CREATE = "mutation($input: CreateProductInput!) { createProduct(input: $input) { id version } }"
ANSWER_TIMEOUT_S = 30.0
DELIVERY_TIMEOUT_S = 60.0
# Each subscriber holds one socket here; the gateway holds the other end in its own process.
SPARE_FILES = 200


def raise_open_files(needed: int) -> None:
    """Lift the soft open-files limit towards the hard one, if ``needed`` is above it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


async def subscribed(url: str) -> ClientConnection:
    """A connection with one registered subscription: the pong after the subscribe proves it."""
    socket = await connect(url, subprotocols=[TRANSPORT_WS], proxy=None, ping_interval=None)
    await socket.send(json.dumps({"type": "connection_init", "payload": {"x-api-key": API_KEY}}))
    ack = json.loads(await asyncio.wait_for(socket.recv(), ANSWER_TIMEOUT_S))
    assert ack["type"] == "connection_ack", ack
    subscribe = {"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}}
    await socket.send(json.dumps(subscribe))
    await socket.send(json.dumps({"type": "ping"}))
    pong = json.loads(await asyncio.wait_for(socket.recv(), ANSWER_TIMEOUT_S))
    assert pong == {"type": "pong"}, pong
    return socket


async def heard(socket: ClientConnection) -> tuple[float, str]:
    """When this subscriber got its first change, and to which product.

    The clock is read when this process gets to the message: with a thousand sockets in
    one event loop, that includes the client's own queueing.
    """
    while True:
        message = json.loads(await socket.recv())
        if message.get("type") == "next":
            return time.perf_counter(), message["payload"]["data"]["onProductChanged"]["id"]


def create_product(port: int, token: str) -> tuple[str, float]:
    """Create the one product, as staff: its id, and when the answer was read."""
    product: dict[str, Any] = {
        "sku": f"FANOUT-{time.time_ns()}",
        "name": "Fan-out",
        "category": CATEGORY,
    }
    product |= {"priceCents": 100, "currency": "USD", "stock": 1}
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": CREATE, "variables": {"input": product}}).encode(),
        headers={"Authorization": token, "content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, Any] = json.loads(response.read())
    answered = time.perf_counter()
    assert not answer.get("errors"), answer
    return str(answer["data"]["createProduct"]["id"]), answered


async def _measure(port: int, token: str) -> tuple[list[float], int]:
    """Each delivered subscriber's delay in seconds, and how many were never told."""
    url = f"ws://127.0.0.1:{port + 1}/graphql"
    sockets: list[ClientConnection] = []
    try:
        while len(sockets) < SUBSCRIBERS:
            batch = min(BATCH, SUBSCRIBERS - len(sockets))
            sockets += await asyncio.gather(*(subscribed(url) for _ in range(batch)))
        # Listening starts before the write, so no message waits on an idle reader.
        listeners = [asyncio.create_task(heard(socket)) for socket in sockets]
        # In a thread, so the listeners take messages while the mutation is answered.
        created, answered = await asyncio.to_thread(create_product, port, token)
        done, pending = await asyncio.wait(listeners, timeout=DELIVERY_TIMEOUT_S)
        for task in pending:
            task.cancel()
        told = [task.result() for task in done if task.exception() is None]
        delays = [at - answered for at, product_id in told if product_id == created]
        return delays, SUBSCRIBERS - len(delays)
    finally:
        await asyncio.gather(*(socket.close() for socket in sockets), return_exceptions=True)


def peak_rss_mib(pid: int) -> float:
    """The process's high-water resident set (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def rows() -> list[dict[str, str]]:
    """The BENCHMARKS.md row: delivery delays across all subscribers, and peak memory."""
    raise_open_files(SUBSCRIBERS + SPARE_FILES)
    port = free_base_port(2)
    with tempfile.TemporaryDirectory() as folder:
        state_dir = Path(folder) / "state"
        process = start_gateway(port, 0, Path(folder) / "gateway.log", state_dir)
        try:
            delays, lost = asyncio.run(_measure(port, staff_token(state_dir)))
            rss = peak_rss_mib(process.pid)
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(30)
    delays_ms = sorted(delay * 1000 for delay in delays) or [float("nan")]
    p50 = statistics.median(delays_ms)
    p99 = delays_ms[max(0, round(len(delays_ms) * 0.99) - 1)]
    delivered = f"all {len(delays)}" if not lost else f"{len(delays)} of {SUBSCRIBERS}"
    return [
        {
            "figure": f"{SUBSCRIBERS} subscribers on eu-west-1: p50 {p50:.0f} ms, "
            f"p99 {p99:.0f} ms, {delivered} delivered; gateway peak RSS {rss:.0f} MiB",
            "against": "one change through us-east-1",
            "ratio": "n/a",
            "limit": "record",
            "verdict": "recorded" if not lost else f"LOST {lost}",
        }
    ]


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    for row in rows():
        print(row)
