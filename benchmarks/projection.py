"""Projection throughput: stream records applied per second by the stream handler, against
a raw ``BatchWriteItem`` of the items they leave in the projection table.

The records are real: mutations through the resolver Lambda on moto in this process,
read back from the write table's stream as the poller delivers them, in batches of 100.
Each round starts from an empty projection table, on both sides; the sides alternate
which goes first. The publisher only counts (the publish call's cost is measured by the
fan-out and freshness parts). Each view write is conditional on its version (STYLE
rule 6), so the handler writes item by item; the raw side is the floor: the same final
items, 25 to a request, unconditionally.

Ratio = raw time / handler time = handler records/s / raw records/s: higher is better.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NamedTuple

from benchmarks import inprocess
from benchmarks.report import Row
from benchmarks.stats import Summary
from emulator.cloud.server import create_tables, stream_arn, streams_client
from emulator.cloud.streams import StreamPoller, StreamReader
from projections.settings import Settings
from projections.stream import StreamProjector
from projections.table import ProjectionTable

PART = "projection"
ROUNDS = 5
PRODUCTS = 300
CUSTOMERS = 10
ORDERS = 150
BATCH = 100
WRITE_BATCH = 25


class Throughput(NamedTuple):
    """Seconds per round on each side, for ``records`` records leaving ``items`` items."""

    records: int
    items: int
    handler_s: list[float]
    raw_s: list[float]


def measure(
    rounds: int = ROUNDS, products: int = PRODUCTS, customers: int = CUSTOMERS, orders: int = ORDERS
) -> dict[str, Throughput]:
    with inprocess.region() as here:
        records = _stream_records(here, products, customers, orders)
        workloads = {
            "product events": [r for r in records if _event_type(r) == "ProductCreated"],
            "order events": [
                r for r in records if _event_type(r) in ("CustomerRegistered", "OrderPlaced")
            ],
        }
        return {name: _rounds(here.settings, batch, rounds) for name, batch in workloads.items()}


def _stream_records(
    here: inprocess.Region, products: int, customers: int, orders: int
) -> list[dict[str, Any]]:
    """Every record the write table's stream holds after the workload, Lambda-shaped."""
    product_ids = [
        here.call("Mutation", "createProduct", {"input": _product(number)})["id"]
        for number in range(products)
    ]
    customer_ids = [
        here.call(
            "Mutation",
            "registerCustomer",
            {"input": {"email": f"p{number}@example.com", "name": f"P{number}"}},
        )["id"]
        for number in range(customers)
    ]
    for number in range(orders):
        line = {"productId": product_ids[number % len(product_ids)], "quantity": 1}
        order = {
            "customerId": customer_ids[number % len(customer_ids)],
            "lines": [line],
            "idempotencyKey": f"projection-{number}",
        }
        here.call("Mutation", "placeOrder", {"input": order})
    delivered: list[dict[str, Any]] = []

    def collect(event: dict[str, Any], context: Any) -> dict[str, Any]:
        delivered.extend(event["Records"])
        return {"batchItemFailures": []}

    settings = here.settings
    poller = StreamPoller(
        settings.region, StreamReader(streams_client(settings), stream_arn(settings)), collect
    )
    while poller.take():
        pass
    return delivered


def _rounds(settings: Settings, records: list[dict[str, Any]], rounds: int) -> Throughput:
    client = settings.dynamodb(settings.region)
    # A first round, left out: it warms both sides up and says what the handler leaves.
    _empty_projections(settings, client)
    _apply(settings, client, records)
    items = _scan(client, settings.projection_table)
    handler_s: list[float] = []
    raw_s: list[float] = []
    for number in range(rounds):
        sides: list[tuple[Callable[[], None], list[float]]] = [
            (lambda: _apply(settings, client, records), handler_s),
            (lambda: _write_raw(client, settings.projection_table, items), raw_s),
        ]
        for side, into in sides if number % 2 == 0 else reversed(sides):
            _empty_projections(settings, client)
            started = time.perf_counter()
            side()
            into.append(time.perf_counter() - started)
    return Throughput(len(records), len(items), handler_s, raw_s)


def _apply(settings: Settings, client: Any, records: list[dict[str, Any]]) -> None:
    projector = StreamProjector(
        ProjectionTable(client, settings.projection_table), inprocess.CountingPublisher()
    )
    for start in range(0, len(records), BATCH):
        answer = projector.handle({"Records": records[start : start + BATCH]})
        assert not answer["batchItemFailures"], answer


def _write_raw(client: Any, table: str, items: list[dict[str, Any]]) -> None:
    for start in range(0, len(items), WRITE_BATCH):
        batch = [{"PutRequest": {"Item": item}} for item in items[start : start + WRITE_BATCH]]
        request: dict[str, Any] = {table: batch}
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems")


def _scan(client: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    request: dict[str, Any] = {"TableName": table}
    while True:
        page = client.scan(**request)
        items += page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return items
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _empty_projections(settings: Settings, client: Any) -> None:
    client.delete_table(TableName=settings.projection_table)
    create_tables(settings)


def _event_type(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["NewImage"].get("eventType", {}).get("S", ""))


def _product(number: int) -> dict[str, Any]:
    return {
        "sku": f"PROJ-{number}",
        "name": f"Lamp {number}",
        "category": f"bench-{number % 7}",
        "priceCents": 100 + number,
        "currency": "EUR",
        "stock": 1_000,
    }


def rows(throughputs: dict[str, Throughput]) -> list[Row]:
    table = []
    for name, figures in throughputs.items():
        handler = Summary.of([figures.records / s for s in figures.handler_s])
        raw = Summary.of([figures.records / s for s in figures.raw_s])
        ratio = Summary.of([r / h for h, r in zip(figures.handler_s, figures.raw_s, strict=True)])
        table.append(
            Row(
                part=PART,
                key=name,
                figure=f"{figures.records} {name} through the stream handler: "
                f"{handler.text('records/s')}",
                against=f"raw BatchWriteItem of the {figures.items} items they leave: "
                f"{raw.median:.0f} records/s; ratio = handler rate / raw rate, per round "
                f"(min {ratio.low:.2f}, max {ratio.high:.2f})",
                ratio=ratio.median,
                better="higher",
            )
        )
    return table


def run() -> list[Row]:
    return rows(measure())
