"""Recovery in `gateway dev`: RTO of a forced failover, RPO at 200 ms lag, and catch-up.

* RTO: the primary fails (``gateway chaos outage``); from the start of
  ``gateway failover --to <replica> --force`` to the first write acknowledged after it.
* RPO: writes acknowledged by the primary, one after another, with
  ``--replication-lag-ms 200``; the primary fails; the window is the span of
  acknowledged writes the replica did not have when the primary was lost.
* Catch-up: replication paused while events are written in the primary and projected
  there; from resume to the replica holding the last one in its projection (stream
  records are applied in order). ``make bench`` runs it on a sample of
  :data:`CATCH_UP_SAMPLE` events, in :data:`CATCH_UP_ROUNDS` rounds, and extrapolates to
  10,000 linearly; the part
  ``catch-up-10k`` measures all 10,000 (about 10 minutes more: see docs/decisions.md).
  The ratio sets the replica's catch-up against the primary's own projection of the
  same events in the same round.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import boto3
from boto3.dynamodb.types import TypeSerializer

from benchmarks.devserver import free_base_port, post, staff_token, start_gateway, stop_gateway
from benchmarks.report import Row
from benchmarks.stats import Summary
from domain import events, records
from domain.products import Product
from emulator import statefile

PART = "resilience"
FULL_PART = "catch-up-10k"
REGIONS = ("us-east-1", "eu-west-1")
RTO_ROUNDS = 3
RPO_LAG_MS = 200
RPO_ROUNDS = 3
CATCH_UP_EVENTS = 10_000
CATCH_UP_SAMPLE = 1_000
CATCH_UP_ROUNDS = 4
# How often the catch-up looks for the last event: each look is a query the emulator
# serves while it catches up, so a look every 50 ms would slow what it measures.
CATCH_UP_POLL_S = 0.25
CONTROL_CACHE_S = 5.0
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
        command = [sys.executable, "-m", "cli", *words, "--state-dir", str(self.state_dir)]
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
        stop_gateway(self.process)


def wait(predicate: Callable[[], Any], timeout: float, what: str, every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(every)


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
    # What the replica holds once everything that left the primary has landed. What the
    # primary had not shipped stays in its replication backlog while it is lost.
    time.sleep(RPO_LAG_MS / 1000 * 5)
    held = dev.version(replica, product_id) or 0
    last_version, last_at = acknowledged[-1]
    held_at = next((at for version, at in acknowledged if version == held), acknowledged[0][1])
    missing = last_version - held
    assert dev.cli("chaos", "clear", "--all").returncode == 0
    arrived = bool(
        wait(lambda: dev.version(replica, product_id) == last_version, 60, "late arrivals")
    )
    return (last_at - held_at) * 1000, missing, arrived


class CatchUp(NamedTuple):
    """Per round of ``events`` events: seconds for the primary to project them as they
    were written, and for the replica to replicate and project them once replication
    resumed."""

    events: int
    primary_s: list[float]
    replica_s: list[float]

    @property
    def total(self) -> int:
        return self.events * len(self.replica_s)


def measure_catch_up(dev: Dev, events: int, rounds: int = 1) -> CatchUp:
    """``rounds`` catch-ups of ``events`` events each, one after another."""
    running = statefile.find(dev.state_dir)
    settings = running.settings(REGIONS[0])
    client = boto3.client(
        "dynamodb",
        region_name=REGIONS[0],
        endpoint_url=running.endpoint_url,
        aws_access_key_id=running.credentials.access_key_id,
        aws_secret_access_key=running.credentials.secret_access_key,
    )
    primary_s: list[float] = []
    replica_s: list[float] = []
    for round_ in range(rounds):
        assert dev.cli("chaos", "replication", "--pause").returncode == 0
        items = [_product_created(f"{round_}-{index}") for index in range(events)]
        # Stream records are applied in order: the last one projected means all were.
        last = f"catch-up-{round_}-{events - 1}"
        started = time.perf_counter()
        for start in range(0, len(items), 25):
            batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
            request: Any = {settings.write_table: batch}
            while request:
                request = client.batch_write_item(RequestItems=request).get("UnprocessedItems")
        timeout = 1800
        primary_done = functools.partial(dev.version, REGIONS[0], last)
        wait(primary_done, timeout, "the primary's projection", CATCH_UP_POLL_S)
        primary_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        assert dev.cli("chaos", "replication", "--resume").returncode == 0
        replica_done = functools.partial(dev.version, REGIONS[1], last)
        wait(replica_done, timeout, "the replica's catch-up", CATCH_UP_POLL_S)
        replica_s.append(time.perf_counter() - started)
        wait(dev.settled, 60, "the replica's backlogs at 0")
    return CatchUp(events, primary_s, replica_s)


def _product_created(tag: str) -> dict[str, Any]:
    now = "2026-11-23T00:00:00.000Z"
    product = Product(
        f"catch-up-{tag}", f"CU-{tag}", "Catch-up", "", "catch-up", 100, "USD", 1, 1, now, now
    )
    item = events.to_item(events.ProductCreated(product, correlation_id="bench"))
    assert item[records.RECORD_KIND] == records.EVENT_RECORD
    return {key: _serializer.serialize(value) for key, value in item.items()}


class Recovery(NamedTuple):
    """Everything the part measured."""

    rto_s: list[float]
    rpo: list[tuple[float, int, bool]]
    catch_up: CatchUp


def measure(catch_up_events: int = CATCH_UP_SAMPLE) -> Recovery:
    with tempfile.TemporaryDirectory() as folder:
        dev = Dev(Path(folder), lag_ms=0)
        try:
            # The catch-up first, while us-east-1 is still the primary: the failovers
            # move it.
            catch_up = measure_catch_up(dev, catch_up_events // CATCH_UP_ROUNDS, CATCH_UP_ROUNDS)
            rto = measure_rto(dev)
        finally:
            dev.stop()
    with tempfile.TemporaryDirectory() as folder:
        dev = Dev(Path(folder), lag_ms=RPO_LAG_MS)
        try:
            rpo = [measure_rpo(dev) for _ in range(RPO_ROUNDS)]
        finally:
            dev.stop()
    return Recovery(rto, rpo, catch_up)


def rows(recovery: Recovery) -> list[Row]:
    rto = Summary.of(recovery.rto_s)
    windows = Summary.of([window_ms for window_ms, _, _ in recovery.rpo])
    missing = Summary.of([float(writes) for _, writes, _ in recovery.rpo])
    arrived = all(all_arrived for _, _, all_arrived in recovery.rpo)
    return [
        Row(
            part=PART,
            key="RTO, forced failover",
            figure="RTO, forced failover (the failover command's start to the first write "
            f"acknowledged after it): {rto.text('s', 1)}, CLI start included",
            against=f"the control record's cache: {CONTROL_CACHE_S:.0f} s; ratio = RTO / cache",
            ratio=rto.median / CONTROL_CACHE_S,
        ),
        Row(
            part=PART,
            key=f"RPO at lag {RPO_LAG_MS} ms",
            figure=f"RPO at --replication-lag-ms {RPO_LAG_MS}: acknowledged writes missing in "
            f"the replica at the loss, {windows.text('ms')}, {missing.median:.0f} writes "
            f"(min {missing.low:.0f}, max {missing.high:.0f}); "
            f"{'all' if arrived else 'NOT all'} arrived once the primary returned (a change "
            "still in transit when its region is lost stays there until it returns, as in "
            "DynamoDB: docs/operations.md)",
            against=f"the replication lag, {RPO_LAG_MS} ms; ratio = window / lag",
            ratio=windows.median / RPO_LAG_MS,
            verdict="recorded" if arrived else "LOST writes",
        ),
        catch_up_row(recovery.catch_up, PART),
    ]


def catch_up_row(catch_up: CatchUp, part: str) -> Row:
    """The catch-up, as measured, or extrapolated to 10,000 events from a sample."""
    caught_up_s = sum(catch_up.replica_s)
    rate = catch_up.total / caught_up_s
    ratios = Summary.of(
        [r / p for p, r in zip(catch_up.primary_s, catch_up.replica_s, strict=True)]
    )
    rounds = len(catch_up.replica_s)
    if catch_up.total == CATCH_UP_EVENTS:
        figure = (
            f"catch-up of {catch_up.total:,} events (replicate + project, after the primary "
            f"projected them): {caught_up_s:.0f} s ({rate:.0f} events/s), n={rounds}"
        )
    else:
        estimate = caught_up_s * CATCH_UP_EVENTS / catch_up.total
        each = ", ".join(f"{seconds:.1f}" for seconds in catch_up.replica_s)
        figure = (
            f"catch-up of {CATCH_UP_EVENTS:,} events, extrapolated: {estimate:.0f} s "
            f"({rate:.0f} events/s), from {rounds} rounds of {catch_up.events:,} events caught "
            f"up in {each} s, their sum scaled linearly by {CATCH_UP_EVENTS / catch_up.total:g} "
            f"(`--only {FULL_PART}` measures all {CATCH_UP_EVENTS:,})"
        )
    return Row(
        part=part,
        key="catch-up",
        figure=figure,
        against=f"the primary projecting the same events as they were written, same round: "
        f"{sum(catch_up.primary_s):.1f} s in all; ratio = catch-up / that, per round "
        f"(min {ratios.low:.2f}, max {ratios.high:.2f}, n={ratios.n})",
        ratio=ratios.median,
    )


def run() -> list[Row]:
    return rows(measure())


def run_full_catch_up() -> list[Row]:
    """The part ``catch-up-10k``: all 10,000 events, on a gateway of its own."""
    with tempfile.TemporaryDirectory() as folder:
        dev = Dev(Path(folder), lag_ms=0)
        try:
            return [catch_up_row(measure_catch_up(dev, CATCH_UP_EVENTS), FULL_PART)]
        finally:
            dev.stop()
