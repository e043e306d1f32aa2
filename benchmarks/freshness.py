"""Freshness in `gateway dev`: from a mutation's response to the other region's subscriber.

Starts `gateway dev` on free loopback ports, once with each of :data:`LAGS_MS` as
``--replication-lag-ms``, subscribes in the replica over graphql-transport-ws, and
adjusts stock through the primary, one change at a time. The figure is the distribution
of the delays (p50, p99); the limit is the configured lag.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

import websockets
from websockets.typing import Subprotocol

from benchmarks.devserver import (
    PUBLIC_TOKEN,
    free_base_port,
    post,
    staff_token,
    start_gateway,
    stop_gateway,
)
from benchmarks.report import Row
from benchmarks.stats import percentile

PART = "freshness"
LAGS_MS = (0, 200)
CHANGES = 100


CREATE = (
    "mutation($sku: String!, $category: String!) { createProduct(input: {sku: $sku, "
    'name: "Bench", category: $category, priceCents: 100, currency: "USD", stock: 0}) '
    "{ id version } }"
)
ADJUST = "mutation($id: ID!) { adjustStock(input: {id: $id, delta: 1}) { version } }"
SUBSCRIBE = (
    "subscription($category: String) { onProductChanged(category: $category) { id stock version } }"
)


async def _measure(port: int, changes: int, token: str) -> list[float]:
    staff = {"Authorization": token}
    category = f"fresh-{time.time_ns()}"
    replica = f"ws://127.0.0.1:{port + 1}/graphql"
    delays = []
    async with websockets.connect(
        replica, subprotocols=[Subprotocol("graphql-transport-ws")]
    ) as socket_:

        async def heard(version: int) -> None:
            while True:
                received = json.loads(await asyncio.wait_for(socket_.recv(), 30))
                if received.get("type") != "next":
                    continue
                if received["payload"]["data"]["onProductChanged"]["version"] == version:
                    return

        await socket_.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": PUBLIC_TOKEN}})
        )
        assert json.loads(await socket_.recv())["type"] == "connection_ack"
        variables = {"category": category}
        message = {
            "id": "1",
            "type": "subscribe",
            "payload": {"query": SUBSCRIBE, "variables": variables},
        }
        await socket_.send(json.dumps(message))
        # A ping is answered only after the subscribe before it was handled: from the
        # pong on, the subscription is live.
        await socket_.send(json.dumps({"type": "ping"}))
        while json.loads(await asyncio.wait_for(socket_.recv(), 30)).get("type") != "pong":
            pass
        # The creation pays for warm-up; it is heard, then the timed changes begin.
        sku = {"sku": f"BENCH-{time.time_ns()}", "category": category}
        created = await asyncio.to_thread(post, port, CREATE, sku, staff)
        product_id = created["data"]["createProduct"]["id"]
        await heard(1)
        for version in range(2, changes + 2):
            answer = await asyncio.to_thread(post, port, ADJUST, {"id": product_id}, staff)
            answered = time.perf_counter()
            assert answer["data"]["adjustStock"]["version"] == version, answer
            await heard(version)
            delays.append(time.perf_counter() - answered)
    return delays


def measure(changes: int = CHANGES, lag_ms: int = 0) -> list[float]:
    """Seconds from each change's mutation response to the replica's subscriber."""
    port = free_base_port(2)
    with tempfile.TemporaryDirectory() as folder:
        state_dir = Path(folder) / "state"
        process = start_gateway(port, lag_ms, Path(folder) / "gateway.log", state_dir)
        try:
            return asyncio.run(_measure(port, changes, staff_token(state_dir)))
        finally:
            stop_gateway(process)


def rows(delays_by_lag: dict[int, list[float]]) -> list[Row]:
    """One row per configured lag: the delivery delays' distribution beside the lag."""
    table = []
    for lag_ms, delays in delays_by_lag.items():
        delays_ms = [delay * 1000 for delay in delays]
        p50, p99 = statistics.median(delays_ms), percentile(delays_ms, 99)
        figure = (
            f"mutation response (us-east-1) -> subscriber (eu-west-1) at lag {lag_ms} ms: "
            f"p50 {p50:.0f} ms, p99 {p99:.0f} ms (min {min(delays_ms):.0f}, "
            f"max {max(delays_ms):.0f}, n={len(delays_ms)})"
        )
        if lag_ms:
            against = (
                f"the configured lag, --replication-lag-ms {lag_ms}; ratio = p50 / lag "
                f"(p99 / lag {p99 / lag_ms:.2f}); the excess over the lag is the pipeline's: "
                "stream polls, projection, publish, fan-out"
            )
            ratio: float | None = p50 / lag_ms
            verdict = f"recorded; p50 {p50 - lag_ms:+.0f} ms over the lag"
        else:
            against = (
                "the configured lag, --replication-lag-ms 0: no ratio to a lag of 0; this is "
                "the pipeline's own delay, which the lag-200 row's ratio also carries"
            )
            ratio, verdict = None, "recorded"
        table.append(
            Row(
                part=PART,
                key=f"lag {lag_ms} ms",
                figure=figure,
                against=against,
                ratio=ratio,
                limit=f"the lag: {lag_ms} ms",
                verdict=verdict,
            )
        )
    return table


def run() -> list[Row]:
    return rows({lag_ms: measure(CHANGES, lag_ms) for lag_ms in LAGS_MS})
