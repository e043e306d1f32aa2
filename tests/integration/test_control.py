"""The control record, from an operator's put to both regions' write paths, in moto."""

from __future__ import annotations

from typing import Any

import pytest

from domain import records
from domain.errors import PrimaryUnavailable
from resolvers.handler import ResolverHandler, build_handler
from tests.integration.conftest import PRIMARY, REPLICA, Cloud, Region, appsync_event
from tests.unit.fakes import control_item

LAMP = {
    "sku": "LAMP-1",
    "name": "Desk lamp",
    "category": "lighting",
    "priceCents": 4500,
    "currency": "EUR",
    "stock": 4,
}


def _uncached(region: Region) -> ResolverHandler:
    """The region's resolver Lambda, reading the control record on every request."""
    return build_handler(region.settings._replace(control_cache_ms=0))


def _call(handler: ResolverHandler, parent: str, field: str, arguments: dict[str, Any]) -> Any:
    return handler(appsync_event(parent, field, arguments), None)


def _set_control(cloud: Cloud, primary: str, mode: str, epoch: int) -> None:
    """What an operator does: put the control item in the primary's write table. Then
    replication carries it to the replica, as the global table would."""
    settings = cloud.primary.settings
    settings.dynamodb(PRIMARY).put_item(
        TableName=settings.write_table, Item=control_item(primary, mode, epoch)
    )
    cloud.settle()


def _items(region: Region) -> list[dict[str, Any]]:
    """Every item in the region's write table, in key order."""
    client = region.settings.dynamodb(region.settings.region)
    pages = client.get_paginator("scan").paginate(TableName=region.settings.write_table)
    items = [item for page in pages for item in page["Items"]]
    return sorted(items, key=lambda item: (item["pk"]["S"], item["sk"]["S"]))


def _state(region: Region, kind: str, aggregate_id: str) -> dict[str, Any] | None:
    client = region.settings.dynamodb(region.settings.region)
    key = {name: {"S": value} for name, value in records.state_key(kind, aggregate_id).items()}
    item: dict[str, Any] | None = client.get_item(
        TableName=region.settings.write_table, Key=key, ConsistentRead=True
    ).get("Item")
    return item


def _shop(cloud: Cloud) -> tuple[str, str]:
    """A customer and a lamp, written and projected while writes are ACTIVE."""
    customer = cloud.primary.call(
        "Mutation", "registerCustomer", {"input": {"email": "ana@example.com", "name": "Ana"}}
    )
    lamp = cloud.primary.call("Mutation", "createProduct", {"input": LAMP})
    cloud.settle()
    return customer["id"], lamp["id"]


def test_the_control_item_replicates_and_is_never_projected(cloud: Cloud) -> None:
    """GIVEN two regions WHEN the operator puts a control item in the primary's write table
    THEN replication copies it to the replica's write table unchanged, and neither
    region's stream handler projects it or parks it as a dead letter."""
    _set_control(cloud, PRIMARY, records.MODE_READ_ONLY, 1)

    key = {name: {"S": value} for name, value in records.control_key().items()}
    replica = cloud.replica.settings
    copied = replica.dynamodb(REPLICA).get_item(TableName=replica.write_table, Key=key)

    assert copied["Item"] == control_item(PRIMARY, records.MODE_READ_ONLY, 1)
    assert cloud.primary.poller.dead_letters == cloud.replica.poller.dead_letters == []
    assert cloud.primary.publisher.published == cloud.replica.publisher.published == []


@pytest.mark.parametrize("where", ["primary", "replica"])
def test_read_only_refuses_every_command_at_once_and_writes_nothing(
    cloud: Cloud, where: str
) -> None:
    """GIVEN a customer and a lamp, then the operator's control item set to READ_ONLY
    WHEN either region is asked to create a product (even an invalid one), place an order,
    adjust stock or register a customer
    THEN each gets PrimaryUnavailable saying writes are paused and reads still work, no
    write table in any region changes, and reads (minVersion included) still answer."""
    customer_id, lamp_id = _shop(cloud)
    _set_control(cloud, PRIMARY, records.MODE_READ_ONLY, 1)
    region = getattr(cloud, where)
    handler = _uncached(region)
    before = (_items(cloud.primary), _items(cloud.replica))
    order = {
        "customerId": customer_id,
        "lines": [{"productId": lamp_id, "quantity": 1}],
        "idempotencyKey": "k-1",
    }

    refused = []
    for field, arguments in [
        ("createProduct", {"input": {**LAMP, "sku": "LAMP-2"}}),
        ("createProduct", {"input": {**LAMP, "sku": "LAMP-3", "priceCents": 0}}),
        ("placeOrder", {"input": order}),
        ("adjustStock", {"input": {"id": "no-such-product", "delta": 1}}),
        ("registerCustomer", {"input": {"email": "bo@example.com", "name": "Bo"}}),
    ]:
        with pytest.raises(PrimaryUnavailable) as error:
            _call(handler, "Mutation", field, arguments)
        refused.append(error.value.message)

    assert all("paused by the operator" in message for message in refused), refused
    assert all("reads still work" in message for message in refused), refused
    assert (_items(cloud.primary), _items(cloud.replica)) == before
    assert _call(handler, "Query", "region", {})["mode"] == "READ_ONLY"
    assert _call(handler, "Query", "region", {})["primary"] == PRIMARY
    assert _call(handler, "Query", "product", {"id": lamp_id})["stock"] == 4
    assert _call(handler, "Query", "product", {"id": lamp_id, "minVersion": 1})["version"] == 1


def test_writes_resume_when_the_operator_sets_active_again(cloud: Cloud) -> None:
    """GIVEN writes paused by the operator WHEN the control item is set back to ACTIVE
    THEN both regions report ACTIVE and take writes again, in the primary's table."""
    _set_control(cloud, PRIMARY, records.MODE_READ_ONLY, 1)
    handlers = [_uncached(cloud.primary), _uncached(cloud.replica)]
    with pytest.raises(PrimaryUnavailable):
        _call(handlers[1], "Mutation", "createProduct", {"input": LAMP})

    _set_control(cloud, PRIMARY, records.MODE_ACTIVE, 2)
    modes = [_call(handler, "Query", "region", {})["mode"] for handler in handlers]
    created = _call(handlers[1], "Mutation", "createProduct", {"input": LAMP})

    assert modes == ["ACTIVE", "ACTIVE"]
    assert created["version"] == 1
    assert _state(cloud.primary, records.PRODUCT, created["id"]) is not None


@pytest.mark.parametrize("where", ["primary", "replica"])
def test_a_new_primary_region_takes_every_commit(cloud: Cloud, where: str) -> None:
    """GIVEN the operator's control item naming eu-west-1 primary (ACTIVE, epoch 1)
    WHEN a product is created and its stock adjusted through either region
    THEN both are written to eu-west-1's write table and not to us-east-1's, both regions
    report eu-west-1 as primary, and a minVersion read goes through to eu-west-1."""
    _set_control(cloud, REPLICA, records.MODE_ACTIVE, 1)
    handler = _uncached(getattr(cloud, where))

    created = _call(handler, "Mutation", "createProduct", {"input": LAMP})
    adjusted = _call(
        handler, "Mutation", "adjustStock", {"input": {"id": created["id"], "delta": 3}}
    )

    moved = _state(cloud.replica, records.PRODUCT, created["id"])
    assert moved is not None and moved["version"] == {"N": "2"}
    assert _state(cloud.primary, records.PRODUCT, created["id"]) is None
    assert adjusted["stock"] == 7
    primaries = [
        _call(_uncached(region), "Query", "region", {})["primary"]
        for region in (cloud.primary, cloud.replica)
    ]
    assert primaries == [REPLICA, REPLICA]
    fresh = _call(handler, "Query", "product", {"id": created["id"], "minVersion": 2})
    assert (fresh["version"], fresh["stock"]) == (2, 7)
