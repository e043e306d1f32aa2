"""Emulator HTTP overhead: a query through ``POST /graphql`` against the handler called directly.

Starts ``gateway dev``, creates one product and waits for us-east-1 to project it. Then
``product(id)`` is asked, in alternating rounds, through us-east-1's ``POST /graphql``
(client token, one kept-alive connection, as a client library holds one) and straight from
the resolver Lambda's handler built in this process on the same moto server. The
difference is the emulator's HTTP, auth, GraphQL parse, validation and execution, and
its event building; it also includes sharing one process (and its GIL) with moto, the
stream pollers and replication, as ``gateway dev`` does.

Ratio = HTTP time / direct time, per round; lower is better.
"""

from __future__ import annotations

import http.client
import json
import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from benchmarks import inprocess
from benchmarks.freshness import PUBLIC_TOKEN, free_base_port, post, staff_token, start_gateway
from benchmarks.report import Row
from benchmarks.stats import Summary
from emulator import statefile
from resolvers.bootstrap import build_app, build_services
from resolvers.handler import ResolverHandler

PART = "emulator-http"
ROUNDS = 15
CALLS = 20
REGION = "us-east-1"
QUERY = "query($id: ID!) { product(id: $id) { id name stock version } }"
CREATE = (
    'mutation { createProduct(input: {sku: "HTTP-1", name: "Lamp", category: "bench", '
    'priceCents: 100, currency: "EUR", stock: 1}) { id } }'
)


class Timings(NamedTuple):
    """Seconds per query in each round: through HTTP, and through the handler directly."""

    http: list[float]
    direct: list[float]


def measure(rounds: int = ROUNDS, calls: int = CALLS) -> Timings:
    port = free_base_port(2)
    with tempfile.TemporaryDirectory() as folder:
        state_dir = Path(folder) / "state"
        process = start_gateway(port, 0, Path(folder) / "gateway.log", state_dir)
        try:
            return _measure(port, state_dir, rounds, calls)
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(60)


def _measure(port: int, state_dir: Path, rounds: int, calls: int) -> Timings:
    created = post(port, CREATE, None, {"Authorization": staff_token(state_dir)})
    product_id = created["data"]["createProduct"]["id"]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    body = json.dumps({"query": QUERY, "variables": {"id": product_id}}).encode()
    headers = {"Authorization": PUBLIC_TOKEN, "content-type": "application/json"}

    def through_http() -> dict[str, Any] | None:
        connection.request("POST", "/graphql", body=body, headers=headers)
        answer: dict[str, Any] = json.loads(connection.getresponse().read())
        found: dict[str, Any] | None = answer["data"]["product"]
        return found

    deadline = time.monotonic() + 30
    while through_http() is None:
        if time.monotonic() > deadline:
            raise TimeoutError("us-east-1 did not project the product within 30 s")
        time.sleep(0.05)
    running = statefile.find(state_dir)
    running.credentials.install()
    handler = ResolverHandler(build_app(build_services(running.settings(REGION))))
    event = inprocess.event("Query", "product", {"id": product_id})
    event["info"]["selectionSetList"] = ["id", "name", "stock", "version"]

    def direct() -> None:
        handler(event, None)

    http_s: list[float] = []
    direct_s: list[float] = []
    try:
        for number in range(rounds + 1):
            sides: list[tuple[Callable[[], Any], list[float]]] = [
                (through_http, http_s),
                (direct, direct_s),
            ]
            for call, into in sides if number % 2 else reversed(sides):
                started = time.perf_counter()
                for _ in range(calls):
                    call()
                into.append((time.perf_counter() - started) / calls)
    finally:
        connection.close()
    # The first round warms both sides up and is left out.
    return Timings(http_s[1:], direct_s[1:])


def rows(timings: Timings) -> list[Row]:
    through = Summary.of([s * 1000 for s in timings.http])
    direct = Summary.of([s * 1000 for s in timings.direct])
    ratio = Summary.of([h / d for h, d in zip(timings.http, timings.direct, strict=True)])
    return [
        Row(
            part=PART,
            key="product(id) over POST /graphql",
            figure=f"product(id) over POST /graphql (client token, kept-alive connection): "
            f"{through.text('ms', 1)}",
            against=f"the resolver handler called directly on the same moto: "
            f"{direct.median:.1f} ms; ratio = HTTP / direct, per round (min {ratio.low:.2f}, "
            f"max {ratio.high:.2f})",
            ratio=ratio.median,
        )
    ]


def run() -> list[Row]:
    return rows(measure())
