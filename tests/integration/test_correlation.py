"""A write's correlation id, from the mutation to every region's projection and publish
(moto in-process, driven step by step)."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from domain import records
from emulator.cloud.server import stream_arn, streams_client
from emulator.cloud.streams import StreamPoller, StreamReader
from projections import publish, stream
from projections.observability import PROJECTION_LAG, Observability, current_correlation_id
from projections.stream import StreamProjector
from projections.table import ProjectionTable
from tests.integration.conftest import Cloud, Region, appsync_event
from tests.log_lines import captured

ORDER_CORRELATION = "req-place-order-7"


class CorrelatedPublisher:
    """Stands in for the region's AppSync API: each publish, with the id it was sent under."""

    def __init__(self) -> None:
        self.orders: list[tuple[str, int, str]] = []

    def product_changed(self, product: dict[str, Any]) -> None:
        """Products are not what this test follows."""

    def order_changed(self, order: dict[str, Any]) -> None:
        self.orders.append((order["id"], order["version"], current_correlation_id()))


class ObservedRegion:
    """One region's stream handler as the Lambda runs it, with its EMF kept."""

    def __init__(self, region: Region) -> None:
        settings = region.settings
        self.name = settings.region
        self.blobs: list[dict[str, Any]] = []
        self.publisher = CorrelatedPublisher()
        observability = Observability(stream.SERVICE, region=self.name, emf_sink=self.blobs.append)
        table = ProjectionTable(settings.dynamodb(self.name), settings.projection_table)
        projector = StreamProjector(table, self.publisher, observability)
        reader = StreamReader(streams_client(settings), stream_arn(settings))
        self.poller = StreamPoller(self.name, reader, projector.handle)

    def lag_values(self) -> list[float]:
        return [value for blob in self.blobs for value in blob.get(PROJECTION_LAG, [])]


def _place_order(cloud: Cloud) -> dict[str, Any]:
    """A customer and a lamp, then an order placed in the primary under a known id."""
    customer = cloud.primary.call(
        "Mutation", "registerCustomer", {"input": {"email": "ana@example.com", "name": "Ana"}}
    )
    lamp = cloud.primary.call(
        "Mutation",
        "createProduct",
        {
            "input": {
                "sku": "LAMP-1",
                "name": "Desk lamp",
                "category": "lighting",
                "priceCents": 4500,
                "currency": "EUR",
                "stock": 4,
            }
        },
    )
    order = {
        "customerId": customer["id"],
        "lines": [{"productId": lamp["id"], "quantity": 1}],
        "idempotencyKey": "cart-7",
    }
    event = appsync_event("Mutation", "placeOrder", {"input": order})
    event["request"]["headers"]["x-correlation-id"] = ORDER_CORRELATION
    placed: dict[str, Any] = cloud.primary.handler(event, None)
    return placed


def _stored_correlation_ids(cloud: Cloud, order_id: str) -> set[str]:
    settings = cloud.primary.settings
    client = settings.dynamodb(settings.region)
    answer = client.query(
        TableName=settings.write_table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": records.aggregate_pk(records.ORDER, order_id)}},
    )
    deserialize = TypeDeserializer().deserialize
    items = [{name: deserialize(value) for name, value in item.items()} for item in answer["Items"]]
    return {str(item["correlationId"]) for item in items if records.is_event_item(item)}


def test_a_placed_orders_correlation_id_reaches_both_regions_projection_and_publish(
    cloud: Cloud,
) -> None:
    """GIVEN placeOrder called in us-east-1 with correlation id X WHEN the write replicates
    and each region's stream handler applies it THEN the order's event item stores X, and
    in both regions the ``projected`` line, the ``published`` line and the publish call of
    that order carry X, and each region reports the record's projection lag in EMF."""
    primary, replica = ObservedRegion(cloud.primary), ObservedRegion(cloud.replica)

    with captured(stream.SERVICE) as lines:
        placed = _place_order(cloud)
        for _ in range(5):
            primary.poller.step()
            cloud.replicator.step()
            replica.poller.step()

    assert _stored_correlation_ids(cloud, placed["id"]) == {ORDER_CORRELATION}
    for region in (primary, replica):
        projected = lines.where(
            message="projected",
            region=region.name,
            correlation_id=ORDER_CORRELATION,
            event_type="OrderPlaced",
        )
        published = lines.where(
            message="published",
            region=region.name,
            correlation_id=ORDER_CORRELATION,
            mutation=publish.PUBLISH_ORDER,
        )
        assert [line["aggregate_id"] for line in projected] == [placed["id"]], region.name
        assert [line["aggregate_id"] for line in published] == [placed["id"]], region.name
        assert region.publisher.orders == [(placed["id"], 1, ORDER_CORRELATION)], region.name
        assert all(lag >= 0 for lag in region.lag_values()) and region.lag_values(), region.name
