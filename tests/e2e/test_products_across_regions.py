"""Read local, write global: a product written anywhere is readable everywhere."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest

from tests.e2e.support import Gateway, unique, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

PRODUCT_FIELDS = "id sku name description category priceCents currency stock version"
CREATE = f"""
mutation Create($input: CreateProductInput!) {{
  createProduct(input: $input) {{ {PRODUCT_FIELDS} }}
}}"""
PRODUCT = f"query One($id: ID!) {{ product(id: $id) {{ {PRODUCT_FIELDS} }} }}"
PRODUCTS = """
query Page($category: String, $first: Int, $after: String) {
  products(category: $category, first: $first, after: $after) { items { id name } nextToken }
}"""
REPLICATION_TIMEOUT_S = 15.0


def new_product(category: str, **changes: Any) -> dict[str, Any]:
    product = {
        "sku": unique("SKU"),
        "name": "Espresso cup",
        "description": "Porcelain, 80 ml",
        "category": category,
        "priceCents": 1250,
        "currency": "EUR",
        "stock": 7,
    }
    return {**product, **changes}


def readable(gateway: Gateway, url: str, product_id: str) -> dict[str, Any] | None:
    return gateway.query(url, PRODUCT, {"id": product_id})["product"]


def listed(gateway: Gateway, url: str, category: str) -> list[str]:
    page = gateway.query(url, PRODUCTS, {"category": category})["products"]
    return [item["id"] for item in page["items"]]


def test_product_created_through_replica_is_readable_in_both_regions(gateway: Gateway) -> None:
    """
    GIVEN two regions, us-east-1 primary and eu-west-1 replica
    WHEN a product is created through eu-west-1
    THEN the answer is version 1 with the fields sent, and both regions read it back
         by id and list it under its category, with equal fields
    """
    category = unique("cups")
    sent = new_product(category)

    created = gateway.query(gateway.replica, CREATE, {"input": sent})["createProduct"]

    assert created["version"] == 1
    assert {name: created[name] for name in sent} == sent
    for url in (gateway.primary, gateway.replica):
        seen = wait_until(
            partial(readable, gateway, url, created["id"]),
            REPLICATION_TIMEOUT_S,
            f"product {created['id']} at {url}",
        )
        assert seen == created
        assert listed(gateway, url, category) == [created["id"]]


@pytest.mark.parametrize(
    ("region", "offset"), [("us-east-1", 0), ("eu-west-1", 1)], ids=["primary", "replica"]
)
def test_region_reports_itself_and_the_primary(gateway: Gateway, region: str, offset: int) -> None:
    """
    GIVEN gateway dev on port P with us-east-1 first
    WHEN `region` is asked on port P + i
    THEN it names region i, us-east-1 as the primary, and ACTIVE
    """
    url = f"http://127.0.0.1:{gateway.port + offset}/graphql"

    info = gateway.query(url, "{ region { name primary mode } }")["region"]

    assert info == {"name": region, "primary": "us-east-1", "mode": "ACTIVE"}


def test_products_page_by_next_token(gateway: Gateway) -> None:
    """
    GIVEN three products in one category, visible in the replica
    WHEN the replica lists them two at a time, following nextToken
    THEN the first page has 2 and a token, the second has 1 and no token,
         and the pages are disjoint and together hold exactly the three
    """
    category = unique("mugs")
    created = {
        gateway.query(gateway.primary, CREATE, {"input": new_product(category, name=name)})[
            "createProduct"
        ]["id"]
        for name in ("Mug S", "Mug M", "Mug L")
    }
    wait_until(
        lambda: set(listed(gateway, gateway.replica, category)) == created,
        REPLICATION_TIMEOUT_S,
        "three products in the replica",
    )

    first = gateway.query(gateway.replica, PRODUCTS, {"category": category, "first": 2})
    token = first["products"]["nextToken"]
    second = gateway.query(
        gateway.replica, PRODUCTS, {"category": category, "first": 2, "after": token}
    )

    first_ids = [item["id"] for item in first["products"]["items"]]
    second_ids = [item["id"] for item in second["products"]["items"]]
    assert len(first_ids) == 2
    assert isinstance(token, str) and token
    assert len(second_ids) == 1
    assert second["products"]["nextToken"] is None
    assert not set(first_ids) & set(second_ids)
    assert set(first_ids) | set(second_ids) == created
