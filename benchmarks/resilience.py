"""Recovery in `gateway dev`: RTO of a forced failover, RPO at 200 ms lag, and catch-up.

* RTO: the primary fails (``gateway chaos outage``); from the start of
  ``gateway failover --to <replica> --force`` to the first write acknowledged after it.
* RPO: writes acknowledged by the primary, one after another, with
  ``--replication-lag-ms 200``; the primary fails; the window is the span of
  acknowledged writes the replica did not have when the primary was lost.
* Catch-up: replication paused while 10,000 events are written in the primary; from
  resume to the replica's replication and projection backlogs both at 0.
"""

from __future__ import annotations

import json
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from boto3.dynamodb.types import TypeSerializer

from benchmarks.freshness import free_base_port, post, staff_token, start_gateway
from domain import events, records
from domain.products import Product
from emulator import statefile

REGIONS = ("us-east-1", "eu-west-1")
RTO_ROUNDS = 3
RPO_LAG_MS = 200
CATCH_UP_EVENTS = 10_000
CREATE = (
    'mutation($sku: String!) { createProduct(input: {sku: $sku, name: "Bench", '
    'category: "bench", priceCents: 100, currency: "USD", stock: 0}) { id } }'
)
ADJUST = "mutation($id: ID!) { adjustStock(input: {id: $id, delta: 1}) { version } }"
VERSION = "query($id: ID!) { product(id: $id) { version } }"
_serializer = TypeSerializer()


class Dev:
    """One `gateway dev` for a measurement, and the commands an operator runs on it."""

    def __init__(self, folder: Path, lag_ms: int) -> None:
        self.port = free_base_port(len(REGIONS))
        self.state_dir = folder / "state"
        self.process = start_gateway(self.port, lag_ms, folder / "gateway.log", self.state_dir)
        self.staff = {"Authorization": staff_token(self.state_dir)}

    def port_of(self, region: str) -> int:
        return self.port + REGIONS.index(region)

    def cli(self, *words: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "emulator.cli", *words, "--state-dir", str(self.state_dir)]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    def status(self) -> dict[str, Any]:
        answer: dict[str, Any] = json.loads(self.cli("status", "--json").stdout)
        return answer

    def settled(self) -> bool:
        """Every region caught up: nothing waiting to replicate or to project."""
        regions = self.status()["regions"]
        return all(
            region["replication"]["backlog"] == 0 and region["projection"]["backlog"] == 0
            for region in regions
        )

    def graphql(self, region: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        return post(self.port_of(region), query, variables, self.staff)

    def product(self, region: str) -> str:
        created = self.graphql(region, CREATE, {"sku": f"BENCH-{time.time_ns()}"})
        product_id: str = created["data"]["createProduct"]["id"]
        wait(lambda: all(self.version(r, product_id) for r in REGIONS), 30, "the product")
        return product_id

    def version(self, region: str, product_id: str) -> int | None:
        found = self.graphql(region, VERSION, {"id": product_id})["data"]["product"]
        return None if found is None else int(found["version"])

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        self.process.wait(60)


def wait(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(0.05)


def measure_rto(dev: Dev) -> list[float]:
    """Seconds from a forced failover's start to the first acknowledged write after it."""
    product_id = dev.product(REGIONS[0])
    times = []
    for round_ in range(RTO_ROUNDS):
        old, new = REGIONS[round_ % 2], REGIONS[(round_ + 1) % 2]
        assert dev.cli("chaos", "outage", "--region", old).returncode == 0
        started = time.perf_counter()
        failover = dev.cli("failover", "--to", new, "--force")
        assert failover.returncode == 0, failover.stderr
        while not (dev.graphql(new, ADJUST, {"id": product_id}).get("data") or {}).get(
            "adjustStock"
        ):
            time.sleep(0.02)
        times.append(time.perf_counter() - started)
        assert dev.cli("chaos", "clear", "--all").returncode == 0
        wait(dev.settled, 60, "recovery")
    return times


def measure_rpo(dev: Dev) -> tuple[float, int, bool]:
    """(window ms, writes missing in the replica, all arrived after recovery)."""
    primary, replica = REGIONS
    product_id = dev.product(primary)
    acknowledged: list[tuple[int, float]] = []
    lost = threading.Event()

    def write() -> None:
        while not lost.is_set():
            answer = dev.graphql(primary, ADJUST, {"id": product_id})
            done = (answer.get("data") or {}).get("adjustStock")
            if done:
                acknowledged.append((int(done["version"]), time.perf_counter()))
            else:
                lost.set()

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    wait(lambda: len(acknowledged) > 30, 30, "a steady load")
    assert dev.cli("chaos", "outage", "--region", primary).returncode == 0
    writer.join(30)
    # What the replica holds once everything that left the primary has landed.
    time.sleep(RPO_LAG_MS / 1000 * 5)
    wait(lambda: dev.status()["regions"][1]["replication"]["backlog"] == 0, 30, "in flight")
    held = dev.version(replica, product_id) or 0
    last_version, last_at = acknowledged[-1]
    held_at = next((at for version, at in acknowledged if version == held), acknowledged[0][1])
    missing = last_version - held
    assert dev.cli("chaos", "clear", "--all").returncode == 0
    arrived = bool(
        wait(lambda: dev.version(replica, product_id) == last_version, 60, "late arrivals")
    )
    return (last_at - held_at) * 1000, missing, arrived


def measure_catch_up(dev: Dev) -> float:
    """Seconds for the replica to replicate and project CATCH_UP_EVENTS events."""
    running = statefile.find(dev.state_dir)
    settings = running.settings(REGIONS[0])
    client = boto3.client(
        "dynamodb",
        region_name=REGIONS[0],
        endpoint_url=running.endpoint_url,
        aws_access_key_id=running.credentials.access_key_id,
        aws_secret_access_key=running.credentials.secret_access_key,
    )
    assert dev.cli("chaos", "replication", "--pause").returncode == 0
    items = [_product_created(index) for index in range(CATCH_UP_EVENTS)]
    for start in range(0, len(items), 25):
        batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        request: Any = {settings.write_table: batch}
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems")
    # Stream records are applied in order: the last one projected means all were.
    last = f"catch-up-{CATCH_UP_EVENTS - 1}"
    wait(lambda: dev.version(REGIONS[0], last), 1800, "the primary's own projections")
    started = time.perf_counter()
    assert dev.cli("chaos", "replication", "--resume").returncode == 0
    wait(lambda: dev.version(REGIONS[1], last), 1800, "the replica's catch-up")
    wait(dev.settled, 60, "the replica's backlogs at 0")
    return time.perf_counter() - started


def _product_created(index: int) -> dict[str, Any]:
    now = "2026-11-23T00:00:00.000Z"
    product = Product(
        f"catch-up-{index}", f"CU-{index}", "Catch-up", "", "catch-up", 100, "USD", 1, 1, now, now
    )
    item = events.to_item(events.ProductCreated(product, correlation_id="bench"))
    assert item[records.RECORD_KIND] == records.EVENT_RECORD
    return {key: _serializer.serialize(value) for key, value in item.items()}


def rows() -> list[dict[str, str]]:
    with tempfile.TemporaryDirectory() as folder:
        dev = Dev(Path(folder), lag_ms=0)
        try:
            rto = measure_rto(dev)
            catch_up = measure_catch_up(dev)
        finally:
            dev.stop()
    with tempfile.TemporaryDirectory() as folder:
        dev = Dev(Path(folder), lag_ms=RPO_LAG_MS)
        try:
            window_ms, missing, arrived = measure_rpo(dev)
        finally:
            dev.stop()
    median = statistics.median(rto)
    return [
        {
            "figure": f"RTO, forced failover: {median:.1f} s (min {min(rto):.1f}, "
            f"max {max(rto):.1f}, n={len(rto)}), CLI start included",
            "against": "the control cache: 5 s",
            "ratio": f"{median / 5:.2f}",
            "limit": "record",
            "verdict": "recorded",
        },
        {
            "figure": f"RPO at --replication-lag-ms {RPO_LAG_MS}: {window_ms:.0f} ms of "
            f"acknowledged writes ({missing} writes) missing in the replica at the loss; "
            f"{'all' if arrived else 'NOT all'} arrived once the primary returned",
            "against": f"replication lag {RPO_LAG_MS} ms",
            "ratio": f"{window_ms / RPO_LAG_MS:.2f}",
            "limit": "record",
            "verdict": "recorded",
        },
        {
            "figure": f"catch-up of {CATCH_UP_EVENTS:,} events (replicate + project): "
            f"{catch_up:.1f} s ({CATCH_UP_EVENTS / catch_up:.0f} events/s)",
            "against": "replication paused while they were written",
            "ratio": "n/a",
            "limit": "record",
            "verdict": "recorded",
        },
    ]


if __name__ == "__main__":
    for row in rows():
        print(row)
