"""idempotencyKey through the resolver Lambda: every mutation takes one, scoped to the caller."""

from __future__ import annotations

from typing import Any

import pytest

from domain.errors import ValidationError
from tests.integration.conftest import Cloud, appsync_event, counted_handler

LAMP = {
    "sku": "LAMP-7",
    "name": "Lamp",
    "category": "lighting",
    "priceCents": 1000,
    "currency": "EUR",
    "stock": 10,
}


def identity(sub: str, *groups: str) -> dict[str, Any]:
    """The identity AppSync hands a Lambda for a user-pool token."""
    return {"sub": sub, "username": sub, "groups": list(groups), "claims": {"sub": sub}}


ANA, STAFF, OTHER_STAFF = (
    identity("ana", "customers"),
    identity("s1", "staff"),
    identity("s2", "staff"),
)


def call(cloud: Cloud, who: dict[str, Any], field: str, fields: dict[str, Any]) -> Any:
    event = {**appsync_event("Mutation", field, {"input": fields}), "identity": who}
    return cloud.primary.handler(event, None)


@pytest.fixture
def shop(cloud: Cloud) -> dict[str, Any]:
    """A lamp (10 in stock) and Ana, who registered herself; she has two orders."""
    lamp = call(cloud, STAFF, "createProduct", LAMP)
    call(cloud, ANA, "registerCustomer", {"email": "ana@example.com", "name": "Ana"})
    orders = [
        call(
            cloud,
            ANA,
            "placeOrder",
            {
                "customerId": "ana",
                "lines": [{"productId": lamp["id"], "quantity": 1}],
                "idempotencyKey": f"setup-{n}",
            },
        )
        for n in range(2)
    ]
    return {"lamp": lamp["id"], "orders": [order["id"] for order in orders]}


def test_each_mutation_sent_twice_with_its_key_answers_the_first_result(
    cloud: Cloud, shop: dict[str, Any]
) -> None:
    """GIVEN a lamp, Ana and her orders
    WHEN staff send each mutation twice with the same idempotencyKey
    THEN each second answer is the first (same version), and the lamp's stock moved once."""
    lamp, (first_order, second_order) = shop["lamp"], shop["orders"]
    requests = [
        ("createProduct", {**LAMP, "sku": "DESK-1"}),
        ("updateProduct", {"id": lamp, "expectedVersion": 3, "name": "Red lamp"}),
        ("adjustStock", {"id": lamp, "delta": -2}),
        ("registerCustomer", {"email": "bo@example.com", "name": "Bo"}),
        ("placeOrder", {"customerId": "ana", "lines": [{"productId": lamp, "quantity": 1}]}),
        ("cancelOrder", {"id": first_order, "expectedVersion": 1}),
        ("shipOrder", {"id": second_order, "expectedVersion": 1}),
    ]
    for number, (field, fields) in enumerate(requests):
        keyed = {**fields, "idempotencyKey": f"key-{number}"}
        first = call(cloud, STAFF, field, keyed)

        again = call(cloud, STAFF, field, keyed)

        assert again == first, field
    stored = cloud.primary.call("Query", "product", {"id": lamp, "minVersion": 1})
    # 10, less Ana's two orders, less 2, less one order, plus the cancelled order's 1.
    assert stored["stock"] == 10 - 2 - 2 - 1 + 1


def test_one_key_from_two_callers_is_two_requests(cloud: Cloud, shop: dict[str, Any]) -> None:
    """GIVEN staff member s1 took 2 lamps with key k-1
    WHEN staff member s2 sends the same request with their own k-1
    THEN it is applied too: the lamp is at 6, not 8."""
    move = {"id": shop["lamp"], "delta": -2, "idempotencyKey": "k-1"}
    call(cloud, STAFF, "adjustStock", move)

    moved = call(cloud, OTHER_STAFF, "adjustStock", move)

    assert moved["stock"] == 10 - 2 - 2 - 2


def test_a_customer_and_staff_with_one_key_place_two_orders(
    cloud: Cloud, shop: dict[str, Any]
) -> None:
    """GIVEN Ana placed an order with key cart-1 WHEN staff place one for her with cart-1
    THEN it is another order."""
    order = {
        "customerId": "ana",
        "lines": [{"productId": shop["lamp"], "quantity": 1}],
        "idempotencyKey": "cart-1",
    }
    hers = call(cloud, ANA, "placeOrder", order)

    theirs = call(cloud, STAFF, "placeOrder", order)

    assert theirs["id"] != hers["id"]


def test_a_key_sent_again_with_other_input_is_a_validation_error(
    cloud: Cloud, shop: dict[str, Any]
) -> None:
    """GIVEN staff took 2 lamps with key k-1 WHEN k-1 comes with a delta of -3
    THEN ValidationError, naming the lamp, and the stock stays at 6."""
    call(cloud, STAFF, "adjustStock", {"id": shop["lamp"], "delta": -2, "idempotencyKey": "k-1"})

    with pytest.raises(ValidationError) as refused:
        call(
            cloud, STAFF, "adjustStock", {"id": shop["lamp"], "delta": -3, "idempotencyKey": "k-1"}
        )

    assert refused.value.info == {"productId": shop["lamp"]}
    stored = cloud.primary.call("Query", "product", {"id": shop["lamp"], "minVersion": 1})
    assert stored["stock"] == 6


def test_a_keyed_mutation_sends_the_fewest_requests_its_keys_allow(
    cloud: Cloud, shop: dict[str, Any]
) -> None:
    """GIVEN a resolver Lambda that has read the control record
    WHEN staff move stock with a key, and place an order (which always has one)
    THEN the stock move sends a GetItem and the transaction, as without a key, and the
    order one BatchGetItem (the customer and every product) and the transaction: the key's
    claim is read only when a write is refused on it."""
    handler, sent = counted_handler(cloud.primary.settings)
    handler(appsync_event("Query", "region", {}), None)

    def sends(field: str, fields: dict[str, Any]) -> list[str]:
        sent.clear()
        event = {**appsync_event("Mutation", field, {"input": fields}), "identity": STAFF}
        handler(event, None)
        return [target.removeprefix("DynamoDB_20120810.") for target in sent]

    moved = sends("adjustStock", {"id": shop["lamp"], "delta": 1, "idempotencyKey": "k-9"})
    placed = sends(
        "placeOrder",
        {
            "customerId": "ana",
            "lines": [{"productId": shop["lamp"], "quantity": 1}],
            "idempotencyKey": "k-10",
        },
    )

    assert moved == ["GetItem", "TransactWriteItems"]
    assert placed == ["BatchGetItem", "TransactWriteItems"]
