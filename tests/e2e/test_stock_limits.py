"""Stock and amounts at the edge of GraphQL's Int: refused as input, never a poison record.

These tests run on a gateway of their own: a change that no region can project
would stall the shared gateway's streams and fail every test after it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.support import (
    Gateway,
    error_type,
    free_base_port,
    gateway_cli,
    post,
    start_gateway,
    stop_gateway,
    unique,
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

INT_MAX = 2**31 - 1
CREATE = """
mutation($input: CreateProductInput!) { createProduct(input: $input) { id stock version } }"""
ADJUST = """
mutation($input: AdjustStockInput!) { adjustStock(input: $input) { id stock version } }"""
PRODUCT = "query($id: ID!) { product(id: $id) { id stock version } }"
REGISTER = "mutation($input: RegisterCustomerInput!) { registerCustomer(input: $input) { id } }"
PLACE = "mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { id totalCents } }"
CUSTOMER = """
query($id: ID!) {
  customer(id: $id) { orderCount lifetimeValueCents fullLifetimeValueCents recentOrders { id } }
  ordersByCustomer(customerId: $id) { items { id totalCents } }
}"""
REPLICATION_TIMEOUT_S = 10.0


@pytest.fixture
def own_gateway(tmp_path: Path) -> Iterator[Gateway]:
    running = start_gateway(tmp_path / "gateway-dev.log", free_base_port(2))
    yield running
    assert stop_gateway(running) == 0, running.text()


def product_input(stock: int) -> dict[str, object]:
    return {
        "sku": unique("BIN"),
        "name": "Storage bin",
        "category": unique("bins"),
        "priceCents": 999,
        "currency": "USD",
        "stock": stock,
    }


def has_version(gateway: Gateway, url: str, product_id: str, version: int) -> bool:
    product = gateway.query(url, PRODUCT, {"id": product_id})["product"] or {}
    return bool(product.get("version", 0) >= version)


def visible_everywhere(gateway: Gateway, product_id: str, version: int) -> dict[str, bool]:
    """For each region: does its projection reach ``version`` of the product in time?"""
    seen = {}
    for url in (gateway.primary, gateway.replica):
        try:
            wait_until(
                partial(has_version, gateway, url, product_id, version),
                REPLICATION_TIMEOUT_S,
                f"{product_id} v{version} at {url}",
            )
            seen[url] = True
        except AssertionError:
            seen[url] = False
    return seen


def test_stock_pushed_past_int_max_is_refused_and_the_product_stays_readable(
    own_gateway: Gateway,
) -> None:
    """
    GIVEN a product holding 2^31 - 1 in stock, the most a GraphQL Int can say
    WHEN adjustStock adds 1
    THEN it gets ValidationError and nothing is written: once a product created
         afterwards is visible in both regions, the first still reads as 2^31 - 1 at
         version 1 in both, taking 1 out makes version 2, and the log has no traceback
    """
    gateway = own_gateway
    full = gateway.query(gateway.primary, CREATE, {"input": product_input(INT_MAX)})
    full_id = full["createProduct"]["id"]

    status, body = post(
        gateway.primary, ADJUST, {"input": {"id": full_id, "delta": 1}}, gateway.staff()
    )
    # Changes reach each region in order: once this one shows, any earlier one has too.
    later = gateway.query(gateway.primary, CREATE, {"input": product_input(1)})
    later_seen = visible_everywhere(gateway, later["createProduct"]["id"], 1)
    reads = {
        url: post(url, PRODUCT, {"id": full_id}, gateway.public())[1]
        for url in (gateway.primary, gateway.replica)
    }
    put_back = post(
        gateway.primary, ADJUST, {"input": {"id": full_id, "delta": -1}}, gateway.staff()
    )[1]

    assert error_type(status, body) == "ValidationError", body
    assert later_seen == {gateway.primary: True, gateway.replica: True}
    unchanged = {"data": {"product": {"id": full_id, "stock": INT_MAX, "version": 1}}}
    assert reads == {gateway.primary: unchanged, gateway.replica: unchanged}
    assert put_back == {
        "data": {"adjustStock": {"id": full_id, "stock": INT_MAX - 1, "version": 2}}
    }, "the refused adjustment was written anyway"
    assert "Traceback" not in gateway.text(), gateway.text()


def order_input(customer_id: str, product_id: str, quantity: int) -> dict[str, Any]:
    return {
        "customerId": customer_id,
        "lines": [{"productId": product_id, "quantity": quantity}],
        "idempotencyKey": unique("order"),
    }


def test_an_order_past_int_is_refused_and_takes_nothing(own_gateway: Gateway) -> None:
    """
    GIVEN a lamp at 1,000.00 with 30,000 in stock, and a registered customer
    WHEN the customer orders 25,000 lamps (2,500,000,000 cents, past Int's 2,147,483,647)
    THEN ValidationError naming the limit; and once a later order of 1 lamp reads back in
         both regions, the lamp holds 29,999 everywhere (the refused order took nothing),
         the customer has that one order, and no region dead-lettered a record
    """
    gateway = own_gateway
    lamp = product_input(30_000) | {"priceCents": 100_000}
    lamp_id = gateway.query(gateway.primary, CREATE, {"input": lamp})["createProduct"]["id"]
    customer = {"email": f"{unique('big')}@example.com", "name": "Big spender"}
    registered = gateway.query(gateway.primary, REGISTER, {"input": customer})
    customer_id = registered["registerCustomer"]["id"]

    big = order_input(customer_id, lamp_id, 25_000)
    status, body = post(gateway.primary, PLACE, {"input": big}, gateway.staff())
    small = order_input(customer_id, lamp_id, 1)
    placed = gateway.query(gateway.primary, PLACE, {"input": small})["placeOrder"]
    expected = {
        "customer": {
            "orderCount": 1,
            "lifetimeValueCents": 100_000,
            "fullLifetimeValueCents": "100000",
            "recentOrders": [{"id": placed["id"]}],
        },
        "ordersByCustomer": {"items": [placed]},
    }

    def customer_read(url: str) -> dict[str, Any] | None:
        read: dict[str, Any] = gateway.query(url, CUSTOMER, {"id": customer_id})
        return read if read["customer"] and read["customer"]["orderCount"] else None

    reads = {
        url: wait_until(partial(customer_read, url), REPLICATION_TIMEOUT_S, f"orders at {url}")
        for url in (gateway.primary, gateway.replica)
    }
    later_seen = visible_everywhere(gateway, lamp_id, 2)
    stock = {
        url: gateway.query(url, PRODUCT, {"id": lamp_id})["product"]["stock"]
        for url in (gateway.primary, gateway.replica)
    }
    status_report = gateway_cli(gateway, "status", "--json")

    assert error_type(status, body) == "ValidationError", body
    assert "2147483647" in body["errors"][0]["message"]
    assert reads == {gateway.primary: expected, gateway.replica: expected}
    assert later_seen == {gateway.primary: True, gateway.replica: True}
    assert stock == {gateway.primary: 29_999, gateway.replica: 29_999}
    regions = json.loads(status_report.stdout)["regions"]
    assert [region["deadLetters"] for region in regions] == [0, 0], status_report.stdout
