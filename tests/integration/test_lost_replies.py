"""A write whose reply is lost after it landed: applied once, whoever retries it.

The reply is lost with botocore's own ``after-call`` hook, which runs once moto has
applied the transaction: the client raises ReadTimeoutError as if the answer never came,
quickly enough that the write guard retries the very same commit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ReadTimeoutError

from resolvers.bootstrap import build_app, build_services
from resolvers.handler import ResolverHandler
from tests.integration.conftest import Cloud, Region, appsync_event

LAMP = {
    "sku": "LAMP-1",
    "name": "Desk lamp",
    "category": "lighting",
    "priceCents": 4500,
    "currency": "EUR",
    "stock": 4,
}
STAFF = {"sub": "staff-1", "groups": ["staff"]}


def losing_replies(region: Region, times: int = 1) -> Callable[..., Any]:
    """The region's resolver Lambda, whose next ``times`` transactions land in the
    primary and then lose their reply."""
    services = build_services(region.settings)
    handler = ResolverHandler(build_app(services))
    left = [times]

    def lose(**_: Any) -> None:
        if left[0] > 0:
            left[0] -= 1
            raise ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com/")

    services.write_store.client.meta.events.register(  # type: ignore[attr-defined]
        "after-call.dynamodb.TransactWriteItems", lose
    )

    def call(field: str, arguments: dict[str, Any]) -> Any:
        event = {**appsync_event("Mutation", field, arguments), "identity": STAFF}
        return handler(event, None)

    return call


def events_of(region: Region, pk: str) -> list[str]:
    """The event types the primary's write table holds for one aggregate, in order."""
    client = region.settings.dynamodb(region.settings.region)
    answer = client.query(
        TableName=region.settings.write_table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :events)",
        ExpressionAttributeValues={":pk": {"S": pk}, ":events": {"S": "EVENT#"}},
        ConsistentRead=True,
    )
    return [item["eventType"]["S"] for item in answer["Items"]]


def test_a_stock_move_whose_reply_is_lost_is_applied_once(cloud: Cloud) -> None:
    """GIVEN a lamp with 4 in stock
    WHEN 3 are added and the transaction lands but its reply is lost, so the write
         guard sends the same commit again
    THEN the answer is the lamp at version 2 with 7 in stock, and the primary holds
         exactly one StockAdjusted: the move was applied once."""
    created = cloud.primary.call("Mutation", "createProduct", {"input": LAMP})
    call = losing_replies(cloud.primary)

    moved = call("adjustStock", {"input": {"id": created["id"], "delta": 3}})

    assert (moved["version"], moved["stock"]) == (2, 7)
    stored = cloud.primary.call("Query", "product", {"id": created["id"], "minVersion": 2})
    assert (stored["version"], stored["stock"]) == (2, 7)
    assert events_of(cloud.primary, f"PRODUCT#{created['id']}") == [
        "ProductCreated",
        "StockAdjusted",
    ]


def test_a_product_whose_reply_is_lost_is_created_once_and_answered(cloud: Cloud) -> None:
    """GIVEN no product
    WHEN createProduct lands but its reply is lost, so the write guard sends the same
         commit again
    THEN the answer is the new product at version 1, not a ValidationError about its
         own SKU."""
    call = losing_replies(cloud.primary)

    created = call("createProduct", {"input": LAMP})

    assert (created["sku"], created["version"], created["stock"]) == ("LAMP-1", 1, 4)
    assert events_of(cloud.primary, f"PRODUCT#{created['id']}") == ["ProductCreated"]
