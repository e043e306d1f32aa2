"""Orders from command to both regions' projections and publishers, in moto in-process."""

from __future__ import annotations

from typing import Any

import pytest

from domain.errors import GatewayError, InvalidTransition, NotFound, ValidationError
from tests.integration.conftest import Cloud, Region, appsync_event, counted_handler

LAMP = {"sku": "LAMP-1", "name": "Desk lamp", "category": "lighting", "priceCents": 4500}
SHADE = {"sku": "SHADE-1", "name": "Linen shade", "category": "lighting", "priceCents": 1200}


def _shop(cloud: Cloud) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A customer registered in eu-west-1, and a lamp (stock 4) and a shade (stock 10)."""
    customer = cloud.replica.call(
        "Mutation", "registerCustomer", {"input": {"email": "ana@example.com", "name": "Ana"}}
    )
    lamp = cloud.replica.call(
        "Mutation", "createProduct", {"input": {**LAMP, "currency": "EUR", "stock": 4}}
    )
    shade = cloud.replica.call(
        "Mutation", "createProduct", {"input": {**SHADE, "currency": "EUR", "stock": 10}}
    )
    return customer, lamp, shade


def _place(region: Region, customer_id: str, lines: list[tuple[str, int]], key: str) -> Any:
    order = {
        "customerId": customer_id,
        "lines": [{"productId": product, "quantity": quantity} for product, quantity in lines],
        "idempotencyKey": key,
    }
    return region.call("Mutation", "placeOrder", {"input": order})


def _move(region: Region, field: str, order: dict[str, Any], version: int) -> Any:
    return region.call(
        "Mutation", field, {"input": {"id": order["id"], "expectedVersion": version}}
    )


def _stock(region: Region, *products: dict[str, Any]) -> list[int]:
    return [region.call("Query", "product", {"id": product["id"]})["stock"] for product in products]


def _write_items(cloud: Cloud) -> int:
    """How many items the primary's write table holds, counted across every page."""
    client = cloud.primary.settings.dynamodb(cloud.primary.settings.region)
    pages = client.get_paginator("scan").paginate(
        TableName=cloud.primary.settings.write_table, Select="COUNT"
    )
    return sum(int(page["Count"]) for page in pages)


def test_an_order_placed_in_the_replica_reads_the_same_in_both_regions(cloud: Cloud) -> None:
    """GIVEN a customer and two products WHEN eu-west-1 places 2 lamps and 1 shade and the
    streams are drained THEN both regions answer the order as placed, count it on the
    customer, list it for the customer, and show the stock it took."""
    customer, lamp, shade = _shop(cloud)

    placed = _place(cloud.replica, customer["id"], [(lamp["id"], 2), (shade["id"], 1)], "k1")
    cloud.settle()

    assert (placed["status"], placed["version"], placed["totalCents"]) == ("PLACED", 1, 10200)
    assert [(line["productName"], line["lineTotalCents"]) for line in placed["lines"]] == [
        ("Desk lamp", 9000),
        ("Linen shade", 1200),
    ]
    assert placed["customer"] == {"id": customer["id"], "name": "Ana", "email": "ana@example.com"}
    for region in (cloud.primary, cloud.replica):
        assert region.call("Query", "order", {"id": placed["id"]}) == placed
        seen = region.call("Query", "customer", {"id": customer["id"]})
        assert (seen["orderCount"], seen["lifetimeValueCents"]) == (1, 10200)
        assert seen["fullLifetimeValueCents"] == "10200"
        assert seen["recentOrders"] == [placed]
        listing = region.call("Query", "ordersByCustomer", {"customerId": customer["id"]})
        assert (listing["items"], listing["nextToken"]) == ([placed], None)
        assert _stock(region, lamp, shade) == [2, 9]


def test_an_order_shipped_in_the_primary_is_shipped_everywhere_and_stays_shipped(
    cloud: Cloud,
) -> None:
    """GIVEN an order placed through eu-west-1 WHEN us-east-1 ships it THEN both regions read
    it SHIPPED at version 2, each region published PLACED then SHIPPED, and a cancel is
    refused with InvalidTransition."""
    customer, lamp, _ = _shop(cloud)
    placed = _place(cloud.replica, customer["id"], [(lamp["id"], 1)], "k1")
    cloud.settle()

    shipped = _move(cloud.primary, "shipOrder", placed, 1)
    cloud.settle()

    assert (shipped["status"], shipped["version"]) == ("SHIPPED", 2)
    for region in (cloud.primary, cloud.replica):
        assert region.call("Query", "order", {"id": placed["id"]}) == shipped
        seen = region.call("Query", "customer", {"id": customer["id"]})
        assert [order["status"] for order in seen["recentOrders"]] == ["SHIPPED"]
        by_status = {"customerId": customer["id"], "status": "SHIPPED"}
        listing = region.call("Query", "ordersByCustomer", by_status)
        assert [order["id"] for order in listing["items"]] == [placed["id"]]
        heard = [(o["status"], o["version"]) for o in region.publisher.orders]
        assert heard == [("PLACED", 1), ("SHIPPED", 2)], region.settings.region
    with pytest.raises(InvalidTransition):
        _move(cloud.replica, "cancelOrder", placed, 2)


def test_a_cancelled_order_gives_its_stock_back_and_leaves_the_lifetime_value(
    cloud: Cloud,
) -> None:
    """GIVEN a shipped order and a second placed order WHEN the second is cancelled THEN
    both regions show its stock back, count both orders, and value only the shipped one."""
    customer, lamp, shade = _shop(cloud)
    kept = _place(cloud.replica, customer["id"], [(lamp["id"], 1)], "k1")
    _move(cloud.primary, "shipOrder", kept, 1)
    second = _place(cloud.primary, customer["id"], [(lamp["id"], 3), (shade["id"], 4)], "k2")
    cloud.settle()
    assert _stock(cloud.replica, lamp, shade) == [0, 6]

    cancelled = _move(cloud.replica, "cancelOrder", second, 1)
    cloud.settle()

    assert (cancelled["status"], cancelled["version"]) == ("CANCELLED", 2)
    for region in (cloud.primary, cloud.replica):
        assert _stock(region, lamp, shade) == [3, 10]
        seen = region.call("Query", "customer", {"id": customer["id"]})
        assert (seen["orderCount"], seen["lifetimeValueCents"]) == (2, kept["totalCents"])
        statuses = {order["id"]: order["status"] for order in seen["recentOrders"]}
        assert statuses == {kept["id"]: "SHIPPED", second["id"]: "CANCELLED"}


@pytest.mark.parametrize("field", ["customer", "order"])
def test_a_customer_or_an_order_costs_at_most_two_dynamodb_requests(
    cloud: Cloud, field: str
) -> None:
    """GIVEN a projected order with two lines WHEN eu-west-1 resolves customer(id) (recent
    orders with lines and product names) or order(id) (customer and lines) THEN the
    resolver Lambda sends one GetItem to DynamoDB, within the budget of two."""
    customer, lamp, shade = _shop(cloud)
    placed = _place(cloud.replica, customer["id"], [(lamp["id"], 1), (shade["id"], 2)], "k1")
    cloud.settle()
    handler, sent = counted_handler(cloud.replica.settings)
    asked = {"customer": customer["id"], "order": placed["id"]}[field]

    view = handler(appsync_event("Query", field, {"id": asked}), None)

    order = view["recentOrders"][0] if field == "customer" else view
    assert order["customer"]["name"] == "Ana"
    assert [line["productName"] for line in order["lines"]] == ["Desk lamp", "Linen shade"]
    assert sent == ["DynamoDB_20120810.GetItem"]
    assert len(sent) <= 2


def test_min_version_reads_a_shipped_order_through_to_the_primary(cloud: Cloud) -> None:
    """GIVEN an order shipped in us-east-1 that has not reached eu-west-1 WHEN eu-west-1 is
    asked for it with minVersion 2 THEN it answers version 2, SHIPPED, never version 1."""
    customer, lamp, _ = _shop(cloud)
    placed = _place(cloud.replica, customer["id"], [(lamp["id"], 1)], "k1")
    cloud.settle()
    _move(cloud.primary, "shipOrder", placed, 1)

    plain = cloud.replica.call("Query", "order", {"id": placed["id"]})
    fresh = cloud.replica.call("Query", "order", {"id": placed["id"], "minVersion": 2})

    assert (plain["version"], plain["status"]) == (1, "PLACED")
    assert (fresh["version"], fresh["status"]) == (2, "SHIPPED")
    assert fresh.keys() == plain.keys()


@pytest.mark.parametrize(
    ("case", "error", "mentions"),
    [
        ("unknown customer", NotFound, "nobody"),
        ("unknown product", NotFound, "no-such-product"),
        ("quantity 0", ValidationError, "quantity"),
        ("duplicate products", ValidationError, "only one line"),
        ("49 lines", ValidationError, "48"),
    ],
)
def test_a_bad_order_is_refused_and_writes_nothing(
    cloud: Cloud, case: str, error: type[GatewayError], mentions: str
) -> None:
    """GIVEN a customer and a lamp WHEN an order names an unknown customer or product, asks
    for 0, repeats a product, or has 49 lines THEN it gets the typed error, naming what is
    wrong, and the primary's write table holds exactly the items it held before."""
    customer, lamp, shade = _shop(cloud)
    lines: dict[str, list[tuple[str, int]]] = {
        "unknown customer": [(lamp["id"], 1)],
        "unknown product": [(lamp["id"], 1), ("no-such-product", 1)],
        "quantity 0": [(lamp["id"], 0)],
        "duplicate products": [(lamp["id"], 1), (shade["id"], 1), (lamp["id"], 2)],
        "49 lines": [(f"product-{index}", 1) for index in range(49)],
    }
    customer_id = "nobody" if case == "unknown customer" else customer["id"]
    before = _write_items(cloud)

    with pytest.raises(error) as refused:
        _place(cloud.replica, customer_id, lines[case], "k1")

    assert mentions in refused.value.message
    assert _write_items(cloud) == before
