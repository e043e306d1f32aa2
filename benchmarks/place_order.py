"""placeOrder throughput against the raw TransactWriteItems it issues, on one moto server.

Both sides run in this process against the same ThreadedMotoServer, one call at a
time, interleaved in rounds so that machine noise falls on both alike. The handler's
extra cost is its read: the customer and the products, in one BatchGetItem.
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks.report import Row
from benchmarks.stats import Summary
from emulator.appsync.auth import LocalCredentials
from emulator.cloud.server import LocalCloud, create_tables
from projections.settings import Settings
from resolvers.bootstrap import build_app, build_services
from resolvers.handler import ResolverHandler

PART = "place-order"
ROUNDS = 5
ORDERS_PER_ROUND = 40


def _event(field: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "arguments": arguments,
        "identity": None,
        "source": None,
        "request": {"headers": {}},
        "info": {"parentTypeName": "Mutation", "fieldName": field, "variables": {}},
    }


def measure() -> dict[str, Any]:
    LocalCredentials().install()
    cloud = LocalCloud()
    try:
        settings = Settings("us-east-1", "us-east-1", endpoint_url=cloud.endpoint_url)
        create_tables(settings)
        services = build_services(settings)
        handler = ResolverHandler(build_app(services))
        sent: list[str] = []
        client = services.write_store.client  # type: ignore[attr-defined]
        client.meta.events.register(
            "before-send.dynamodb.*",
            lambda request, **_: sent.append(request.headers["X-Amz-Target"].decode()),
        )
        product = handler(
            _event(
                "createProduct",
                {
                    "input": {
                        "sku": "BENCH-1",
                        "name": "Bench",
                        "category": "bench",
                        "priceCents": 100,
                        "currency": "USD",
                        "stock": 1_000_000,
                    }
                },
            )
        )
        customer = handler(
            _event("registerCustomer", {"input": {"email": "b@example.com", "name": "B"}})
        )
        order_seconds: list[float] = []
        raw_seconds: list[float] = []
        transactions: list[dict[str, Any]] = []
        client.meta.events.register(
            "provide-client-params.dynamodb.TransactWriteItems",
            lambda params, **_: transactions.append(params),
        )
        counter = 0
        for _ in range(ROUNDS):
            sent.clear()
            started = time.perf_counter()
            for _ in range(ORDERS_PER_ROUND):
                counter += 1
                handler(
                    _event(
                        "placeOrder",
                        {
                            "input": {
                                "customerId": customer["id"],
                                "lines": [{"productId": product["id"], "quantity": 1}],
                                "idempotencyKey": f"bench-{counter}",
                            }
                        },
                    )
                )
            order_seconds.append((time.perf_counter() - started) / ORDERS_PER_ROUND)
            requests_per_order = len(sent) / ORDERS_PER_ROUND
            # The raw side: the same transactions' shape, as new items, so each succeeds.
            started = time.perf_counter()
            for index in range(ORDERS_PER_ROUND):
                counter += 1
                client.transact_write_items(TransactItems=_fresh(transactions[-1], counter, index))
            raw_seconds.append((time.perf_counter() - started) / ORDERS_PER_ROUND)
        return {
            "order_ms": [s * 1000 for s in order_seconds],
            "raw_ms": [s * 1000 for s in raw_seconds],
            "requests_per_order": requests_per_order,
            "operations": sorted(set(name.rsplit(".", 1)[-1] for name in sent)),
        }
    finally:
        cloud.stop()


def _fresh(template: dict[str, Any], counter: int, index: int) -> list[dict[str, Any]]:
    """The template transaction with every key made new and every put's condition
    dropped; a ConditionCheck (the write path's epoch fence) is sent as it was."""
    items = []
    for position, operation in enumerate(template["TransactItems"]):
        if "Put" not in operation:
            items.append(operation)
            continue
        put = dict(operation["Put"])
        item = dict(put["Item"])
        item["pk"] = {"S": f"RAW#{counter}#{index}#{position}"}
        items.append({"Put": {"TableName": put["TableName"], "Item": item}})
    return items


def rows(figures: dict[str, Any]) -> list[Row]:
    order = Summary.of(figures["order_ms"])
    raw = Summary.of(figures["raw_ms"])
    ratio = Summary.of([o / r for o, r in zip(figures["order_ms"], figures["raw_ms"], strict=True)])
    operations = ", ".join(figures["operations"])
    return [
        Row(
            part=PART,
            key="placeOrder (1 line) via the resolver handler",
            figure=f"placeOrder (1 line) via the resolver handler: {order.text('ms/order', 1)}; "
            f"{figures['requests_per_order']:.0f} requests: {operations}",
            against=f"raw TransactWriteItems of the same items: {raw.median:.1f} ms/order; "
            f"ratio = handler / raw, per round of {ORDERS_PER_ROUND} orders "
            f"(min {ratio.low:.2f}, max {ratio.high:.2f})",
            ratio=ratio.median,
        )
    ]


def run() -> list[Row]:
    return rows(measure())
