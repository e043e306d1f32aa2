"""Owner rules: a signed-in customer touches only their own records; staff touch all."""

from __future__ import annotations

import json
from typing import Any

import pytest

from domain.errors import GatewayError, NotFound, Unauthorized
from tests.integration.conftest import Cloud, appsync_event, counted_handler

LAMP = {
    "sku": "LAMP-9",
    "name": "Lamp",
    "category": "lighting",
    "priceCents": 1000,
    "currency": "EUR",
    "stock": 10,
}


def identity(sub: str, *groups: str) -> dict[str, Any]:
    """The identity AppSync hands a Lambda for a user-pool token."""
    return {"sub": sub, "username": sub, "groups": list(groups), "claims": {"sub": sub}}


def call(cloud: Cloud, who: dict[str, Any], parent: str, field: str, args: dict[str, Any]) -> Any:
    event = {**appsync_event(parent, field, args), "identity": who}
    return cloud.primary.handler(event, None)


ANA, BEN, STAFF = identity("ana", "customers"), identity("ben", "customers"), identity("s", "staff")


@pytest.fixture
def shop(cloud: Cloud) -> dict[str, Any]:
    """Ana and Ben registered (each as themselves), and a lamp; Ana has one order."""
    lamp = call(cloud, STAFF, "Mutation", "createProduct", {"input": LAMP})
    for who, email in ((ANA, "ana@example.com"), (BEN, "ben@example.com")):
        registered = call(
            cloud,
            who,
            "Mutation",
            "registerCustomer",
            {"input": {"email": email, "name": who["sub"]}},
        )
        assert registered["id"] == who["sub"]  # a customer registers under their own sub
    order = call(
        cloud,
        ANA,
        "Mutation",
        "placeOrder",
        {
            "input": {
                "customerId": "ana",
                "lines": [{"productId": lamp["id"], "quantity": 1}],
                "idempotencyKey": "k",
            }
        },
    )
    cloud.settle()
    return {"lamp": lamp, "order": order}


def _count_items(cloud: Cloud) -> int:
    client = cloud.primary.settings.dynamodb("us-east-1")
    return int(client.scan(TableName="gateway-write", Select="COUNT")["Count"])


@pytest.mark.parametrize(
    ("field", "args"),
    [
        ("customer", {"id": "ana"}),
        ("ordersByCustomer", {"customerId": "ana"}),
    ],
)
def test_a_customer_cannot_read_anothers_records(
    cloud: Cloud, shop: dict[str, Any], field: str, args: dict[str, Any]
) -> None:
    """GIVEN Ana's records WHEN Ben reads them THEN Unauthorized; Ana and staff may."""
    with pytest.raises(Unauthorized):
        call(cloud, BEN, "Query", field, args)
    assert call(cloud, ANA, "Query", field, args) is not None
    assert call(cloud, STAFF, "Query", field, args) is not None


def test_refused_writes_write_nothing(cloud: Cloud, shop: dict[str, Any]) -> None:
    """GIVEN Ben WHEN he orders for Ana, cancels her order, or registers as someone else
    THEN each is refused (NotFound for her order, which he may not know of; Unauthorized
    for the others), and the write table holds exactly what it held."""
    before = _count_items(cloud)
    attempts = [
        (
            "placeOrder",
            {
                "customerId": "ana",
                "lines": [{"productId": shop["lamp"]["id"], "quantity": 1}],
                "idempotencyKey": "x",
            },
        ),
        ("cancelOrder", {"id": shop["order"]["id"], "expectedVersion": 1}),
        ("registerCustomer", {"id": "carl", "email": "carl@example.com", "name": "Carl"}),
    ]
    for field, payload in attempts:
        with pytest.raises(NotFound if field == "cancelOrder" else Unauthorized):
            call(cloud, BEN, "Mutation", field, {"input": payload})
    assert _count_items(cloud) == before
    cancelled = call(
        cloud,
        ANA,
        "Mutation",
        "cancelOrder",
        {"input": {"id": shop["order"]["id"], "expectedVersion": 1}},
    )
    assert cancelled["status"] == "CANCELLED"


def test_a_customer_subscribes_only_to_their_own_orders(cloud: Cloud, shop: dict[str, Any]) -> None:
    """GIVEN onOrderChanged's resolver, which runs when a client subscribes WHEN Ben asks
    for Ana's orders (by customer or by order) or for everyone's THEN he is refused
    (NotFound for her order, which he may not know of); Ana for her own, and staff for
    all, are allowed."""
    for args in ({"customerId": "ana"}, {"id": shop["order"]["id"]}, {}):
        with pytest.raises(NotFound if "id" in args else Unauthorized):
            call(cloud, BEN, "Subscription", "onOrderChanged", args)
    assert call(cloud, ANA, "Subscription", "onOrderChanged", {"customerId": "ana"}) is None
    assert call(cloud, STAFF, "Subscription", "onOrderChanged", {}) is None


MISSING = "order-that-was-never-placed"


def answer(handler: Any, who: dict[str, Any], parent: str, field: str, args: dict[str, Any]) -> Any:
    """What a caller is told, with the id it asked about written as ``<id>``: the answer
    to compare, since each caller hears back the id it sent."""
    asked = (args.get("input") or args)["id"]
    try:
        value = handler({**appsync_event(parent, field, args), "identity": who}, None)
    except GatewayError as error:
        told = json.dumps([type(error).__name__, error.message, error.info])
        return json.loads(told.replace(asked, "<id>"))
    return value


@pytest.mark.parametrize(
    ("parent", "field", "args"),
    [
        ("Query", "order", {}),
        ("Query", "order", {"minVersion": 1}),
        ("Query", "order", {"minVersion": 2}),
        ("Mutation", "cancelOrder", {"expectedVersion": 1}),
        ("Subscription", "onOrderChanged", {}),
    ],
    ids=["order", "order-minVersion-current", "order-minVersion-newer", "cancel", "subscribe"],
)
def test_anothers_order_is_answered_exactly_as_a_missing_one(
    cloud: Cloud, shop: dict[str, Any], parent: str, field: str, args: dict[str, Any]
) -> None:
    """GIVEN Ana's order (version 1), in the replica too
    WHEN Ben asks for it by id in the replica: reads it (with or without minVersion),
    cancels it, or subscribes to it
    THEN he is told exactly what he is told for an order that was never placed (no
    version, no refusal that says it exists), the same DynamoDB requests answer both,
    and Ana's order is unchanged."""
    handler, sent = counted_handler(cloud.replica.settings)

    def ask(order_id: str) -> tuple[Any, list[str]]:
        arguments = {"id": order_id, **args}
        wrapped = {"input": arguments} if parent == "Mutation" else arguments
        sent.clear()
        told = answer(handler, BEN, parent, field, wrapped)
        return told, sorted(set(sent))

    anothers, anothers_requests = ask(shop["order"]["id"])
    missing, missing_requests = ask(MISSING)

    assert anothers == missing
    assert anothers_requests == missing_requests
    mine = call(cloud, ANA, "Query", "order", {"id": shop["order"]["id"]})
    assert (mine["status"], mine["version"]) == ("PLACED", 1)


def test_a_customer_still_reads_and_cancels_their_own_order(
    cloud: Cloud, shop: dict[str, Any]
) -> None:
    """GIVEN Ana's order WHEN Ana reads it (with minVersion) and cancels it THEN she gets
    it, then it is CANCELLED: hiding others' orders hides none of hers."""
    order_id = shop["order"]["id"]

    read = call(cloud, ANA, "Query", "order", {"id": order_id, "minVersion": 1})
    cancelled = call(
        cloud, ANA, "Mutation", "cancelOrder", {"input": {"id": order_id, "expectedVersion": 1}}
    )

    assert read["customerId"] == "ana"
    assert cancelled["status"] == "CANCELLED"


NO_GROUP, GUEST = identity("nina"), identity("gus", "guests")


@pytest.mark.parametrize("who", [NO_GROUP, GUEST], ids=["no-group", "another-group"])
def test_a_user_in_neither_group_has_no_customer_powers(
    cloud: Cloud, shop: dict[str, Any], who: dict[str, Any]
) -> None:
    """GIVEN a signed-in user in no group, or only in a group that is neither customers
    nor staff
    WHEN they register, read a customer, their orders or an order, order, cancel, or
    subscribe to orders, each time as or for themselves
    THEN Unauthorized every time, and the write table holds exactly what it held; they
    still read products, as the API key does."""
    sub = who["sub"]
    before = _count_items(cloud)
    attempts: list[tuple[str, str, dict[str, Any]]] = [
        ("Mutation", "registerCustomer", {"input": {"email": f"{sub}@example.com", "name": sub}}),
        ("Query", "customer", {"id": sub}),
        ("Query", "ordersByCustomer", {"customerId": sub}),
        ("Query", "order", {"id": shop["order"]["id"]}),
        (
            "Mutation",
            "placeOrder",
            {
                "input": {
                    "customerId": sub,
                    "lines": [{"productId": shop["lamp"]["id"], "quantity": 1}],
                    "idempotencyKey": "no-group",
                }
            },
        ),
        ("Mutation", "cancelOrder", {"input": {"id": shop["order"]["id"], "expectedVersion": 1}}),
        ("Subscription", "onOrderChanged", {"customerId": sub}),
    ]
    for parent, field, args in attempts:
        with pytest.raises(Unauthorized):
            call(cloud, who, parent, field, args)
    assert _count_items(cloud) == before
    assert call(cloud, who, "Query", "product", {"id": shop["lamp"]["id"]})["name"] == "Lamp"
