"""Racing orders over a real moto server: stock is never oversold, a key never orders twice."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from domain import records
from domain.errors import InsufficientStock
from domain.store import DynamoWriteStore
from emulator.cloud.replication import ReplicaTable, Replicator
from emulator.cloud.server import LocalCloud, create_tables, stream_arn
from emulator.cloud.streams import StreamPoller, StreamReader
from projections.settings import Settings
from projections.stream import StreamProjector
from projections.table import ProjectionTable
from resolvers.handler import ResolverHandler, build_handler
from tests.integration.conftest import RecordingPublisher, appsync_event

pytestmark = pytest.mark.timeout(120)

PRIMARY, REPLICA = "us-east-1", "eu-west-1"
STOCK = 5
THREADS_PER_REGION = 10
JOIN_TIMEOUT_S = 60.0
DRAIN_TIMEOUT_S = 30.0


@dataclass
class ServerCloud:
    """Two regions' tables in one moto server, with their streams driven by hand."""

    settings: dict[str, Settings]
    pollers: list[StreamPoller]
    replicator: Replicator
    serial: dict[str, ResolverHandler] = field(default_factory=dict)

    def handler(self, region: str) -> ResolverHandler:
        """A fresh resolver Lambda: one per thread, as one per concurrent invocation."""
        return build_handler(self.settings[region])

    def call(self, region: str, parent: str, field: str, arguments: dict[str, Any]) -> Any:
        """Invoke the region's resolver from the test's own thread (one handler each)."""
        if region not in self.serial:
            self.serial[region] = self.handler(region)
        return self.serial[region](appsync_event(parent, field, arguments), None)

    def drain_until(self, done: Callable[[], bool], what: str) -> None:
        """Step replication and both stream handlers until ``done``, within a deadline."""
        pause = threading.Event()
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while True:
            self.pollers[0].step()
            self.replicator.step()
            self.pollers[1].step()
            if done():
                return
            assert time.monotonic() < deadline, f"timed out draining streams for {what}"
            pause.wait(0.01)

    def stored_stock(self, product_id: str) -> int:
        """The product's stock in the primary write table, read consistently."""
        settings = self.settings[PRIMARY]
        store = DynamoWriteStore(settings.dynamodb(PRIMARY), settings.write_table)
        state = store.load(records.PRODUCT, product_id)
        assert state is not None
        return int(state["stock"])


def _streams(settings: Settings) -> Any:
    return boto3.client(
        "dynamodbstreams", region_name=settings.region, endpoint_url=settings.endpoint_url
    )


def _poller(settings: Settings) -> StreamPoller:
    table = ProjectionTable(settings.dynamodb(settings.region), settings.projection_table)
    projector = StreamProjector(table, RecordingPublisher())
    reader = StreamReader(_streams(settings), stream_arn(settings))
    return StreamPoller(settings.region, reader, projector.handle)


@pytest.fixture
def server_cloud(monkeypatch: pytest.MonkeyPatch) -> Iterator[ServerCloud]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    local = LocalCloud()
    try:
        settings = {
            region: Settings(region=region, primary_region=PRIMARY, endpoint_url=local.endpoint_url)
            for region in (PRIMARY, REPLICA)
        }
        for region_settings in settings.values():
            create_tables(region_settings)
        replica = settings[REPLICA]
        replicator = Replicator(
            [
                ReplicaTable(
                    region,
                    StreamReader(_streams(each), stream_arn(each)),
                    each.dynamodb(region),
                    each.write_table,
                )
                for region, each in settings.items()
            ]
        )
        pollers = [_poller(settings[PRIMARY]), _poller(replica)]
        yield ServerCloud(settings, pollers, replicator)
    finally:
        local.stop()


def _shop(cloud: ServerCloud) -> tuple[str, str]:
    """A customer, and a product with STOCK units; their ids.

    Every moto server in one process shares moto's state, so emails and SKUs are unique.
    """
    tag = uuid.uuid4().hex[:8]
    registration = {"email": f"bo-{tag}@example.com", "name": "Bo"}
    customer = cloud.call(PRIMARY, "Mutation", "registerCustomer", {"input": registration})
    product = {"sku": f"MUG-{tag}", "name": "Mug", "category": "kitchen", "priceCents": 1800}
    product |= {"currency": "EUR", "stock": STOCK}
    created = cloud.call(REPLICA, "Mutation", "createProduct", {"input": product})
    return customer["id"], created["id"]


def _race(
    cloud: ServerCloud, regions: list[str], order: Callable[[int], dict[str, Any]]
) -> tuple[list[object], float]:
    """Each region's handler places ``order(i)`` at once; what each got, and how long it took.

    Handlers are built before the barrier, so the race is between the requests only.
    """
    outcomes: list[object] = [None] * len(regions)
    handlers = [cloud.handler(region) for region in regions]
    barrier = threading.Barrier(len(regions) + 1)

    def place(index: int) -> None:
        event = appsync_event("Mutation", "placeOrder", {"input": order(index)})
        barrier.wait()
        try:
            outcomes[index] = handlers[index](event, None)["id"]
        except Exception as error:  # every outcome is kept and judged by the test
            outcomes[index] = type(error)

    threads = [threading.Thread(target=place, args=(i,)) for i in range(len(regions))]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join(JOIN_TIMEOUT_S)
    assert not any(thread.is_alive() for thread in threads), "a placement never returned"
    return outcomes, time.perf_counter() - started


def _view(cloud: ServerCloud, region: str, product_id: str) -> dict[str, Any]:
    view = cloud.call(region, "Query", "product", {"id": product_id})
    return view or {"version": 0}


def test_twenty_buyers_of_five_units_leave_five_orders_and_no_stock(
    server_cloud: ServerCloud,
) -> None:
    """GIVEN a product with 5 in stock WHEN 20 buyers, 10 through each region, each order 1
    at the same moment THEN exactly 5 orders succeed, the other 15 get InsufficientStock,
    and the primary and both regions' projections end with 0 in stock at version 6."""
    customer_id, product_id = _shop(server_cloud)
    regions = [PRIMARY, REPLICA] * THREADS_PER_REGION

    outcomes, took = _race(
        server_cloud,
        regions,
        lambda i: {
            "customerId": customer_id,
            "lines": [{"productId": product_id, "quantity": 1}],
            "idempotencyKey": f"buyer-{i}",
        },
    )
    print(f"\n20 racing placements over the moto server took {took * 1000:.0f} ms")

    placed = [outcome for outcome in outcomes if isinstance(outcome, str)]
    refused = [outcome for outcome in outcomes if not isinstance(outcome, str)]
    assert len(set(placed)) == STOCK, outcomes
    assert refused == [InsufficientStock] * (len(regions) - STOCK), outcomes
    assert server_cloud.stored_stock(product_id) == 0
    server_cloud.drain_until(
        lambda: all(_view(server_cloud, r, product_id)["version"] == 6 for r in (PRIMARY, REPLICA)),
        "product version 6 in both regions",
    )
    for region in (PRIMARY, REPLICA):
        assert _view(server_cloud, region, product_id)["stock"] == 0, region


def test_two_requests_with_one_idempotency_key_place_one_order(
    server_cloud: ServerCloud,
) -> None:
    """GIVEN a product with 5 in stock WHEN two requests with the same idempotency key and
    lines race, one through each region THEN both answer the same order id and the stock
    drops by exactly 1."""
    customer_id, product_id = _shop(server_cloud)
    same = {
        "customerId": customer_id,
        "lines": [{"productId": product_id, "quantity": 1}],
        "idempotencyKey": "retry-me",
    }

    outcomes, _ = _race(server_cloud, [PRIMARY, REPLICA], lambda _: same)

    assert all(isinstance(outcome, str) for outcome in outcomes), outcomes
    assert outcomes[0] == outcomes[1]
    assert server_cloud.stored_stock(product_id) == STOCK - 1
