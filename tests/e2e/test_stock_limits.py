"""Stock at the edge of GraphQL's Int: refused as input, never a poison record.

These tests run on a gateway of their own: a change that no region can project
would stall the shared gateway's streams and fail every test after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from tests.e2e.support import (
    Gateway,
    error_type,
    free_base_port,
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
        url: post(url, PRODUCT, {"id": full_id}, gateway.key())[1]
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
