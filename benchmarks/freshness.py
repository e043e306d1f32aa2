"""Freshness in `gateway dev`: from a mutation's response to the other region's subscriber.

Starts `gateway dev` on free loopback ports with ``--replication-lag-ms 0``, subscribes
in the replica over graphql-transport-ws, and adjusts stock through the primary, one
change at a time.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import websockets
from websockets.typing import Subprotocol

from emulator.jwt_issuer import LocalIssuer

API_KEY = "da2-gatewaylocaldevelopmentkey"


def free_base_port(count: int) -> int:
    """A port P such that P .. P+count-1 are all free on loopback."""
    for _ in range(100):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = int(probe.getsockname()[1])
        if base + count < 65535 and all(_free(base + i) for i in range(count)):
            return base
    raise RuntimeError("no free run of loopback ports")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def start_gateway(
    port: int, lag_ms: int, log: Path, state_dir: Path | None = None
) -> subprocess.Popen[bytes]:
    """Run `gateway dev` until it says it is ready (bounded)."""
    command = [
        sys.executable,
        "-m",
        "emulator.cli",
        "dev",
        f"--port={port}",
        f"--replication-lag-ms={lag_ms}",
        f"--state-dir={state_dir or log.parent / 'state'}",
    ]
    output = log.open("wb")
    process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while b"gateway dev: ready" not in log.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"gateway dev did not start:\n{log.read_text()}")
        time.sleep(0.05)
    return process


def staff_token(state_dir: Path) -> str:
    """A staff member's token, signed with the key of the gateway using ``state_dir``."""
    return LocalIssuer.in_state_dir(state_dir).mint("bench-staff", ["staff"])


def post(
    port: int, query: str, variables: dict[str, Any] | None, headers: dict[str, str]
) -> dict[str, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={**headers, "content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        answer: dict[str, Any] = json.loads(response.read())
    return answer


async def _measure(port: int, changes: int, token: str) -> list[float]:
    staff = {"Authorization": token}
    created = post(
        port,
        'mutation($sku: String!) { createProduct(input: {sku: $sku, name: "Bench", '
        'category: "bench", priceCents: 100, currency: "USD", stock: 0}) { id } }',
        {"sku": f"BENCH-{time.time_ns()}"},
        staff,
    )
    product_id = created["data"]["createProduct"]["id"]
    replica = f"ws://127.0.0.1:{port + 1}/graphql"
    delays = []
    async with websockets.connect(
        replica, subprotocols=[Subprotocol("graphql-transport-ws")]
    ) as socket_:
        await socket_.send(
            json.dumps({"type": "connection_init", "payload": {"x-api-key": API_KEY}})
        )
        assert json.loads(await socket_.recv())["type"] == "connection_ack"
        query = "subscription($id: ID) { onProductChanged(id: $id) { id stock version } }"
        message = {
            "id": "1",
            "type": "subscribe",
            "payload": {"query": query, "variables": {"id": product_id}},
        }
        await socket_.send(json.dumps(message))
        # The creation itself reaches the replica too; wait for it, so the subscription
        # is known to be live before the timed changes begin.
        await asyncio.wait_for(socket_.recv(), 10)
        for version in range(2, changes + 2):
            adjust = "mutation($id: ID!) { adjustStock(input: {id: $id, delta: 1}) { version } }"
            answer = await asyncio.to_thread(post, port, adjust, {"id": product_id}, staff)
            answered = time.perf_counter()
            assert answer["data"]["adjustStock"]["version"] == version
            while True:
                received = json.loads(await asyncio.wait_for(socket_.recv(), 10))
                if received["payload"]["data"]["onProductChanged"]["version"] == version:
                    break
            delays.append(time.perf_counter() - answered)
    return delays


def rows(changes: int = 30, lag_ms: int = 0) -> list[dict[str, str]]:
    port = free_base_port(2)
    with tempfile.TemporaryDirectory() as folder:
        state_dir = Path(folder) / "state"
        process = start_gateway(port, lag_ms, Path(folder) / "gateway.log", state_dir)
        try:
            # The first creation pays for warm-up; measure after it.
            delays = asyncio.run(_measure(port, changes, staff_token(state_dir)))
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(30)
    delays_ms = sorted(delay * 1000 for delay in delays)
    p50 = statistics.median(delays_ms)
    p90 = delays_ms[int(len(delays_ms) * 0.9) - 1]
    return [
        {
            "figure": "mutation response (us-east-1) -> subscriber (eu-west-1): "
            f"p50 {p50:.0f} ms, p90 {p90:.0f} ms "
            f"(min {delays_ms[0]:.0f}, max {delays_ms[-1]:.0f}, n={len(delays_ms)})",
            "against": f"--replication-lag-ms {lag_ms}",
            "ratio": "n/a (recorded, no limit set)",
            "limit": "record",
            "verdict": "recorded",
        }
    ]


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    for row in rows():
        print(row)
