"""Event shapes: the write-table items and stream records every region depends on.

The fixtures are the contract. An event's item travels through the global table's
stream to every region, where code of another release may read it; a change to its
shape must fail here first, and be made on purpose, with a changelog entry.
"""

from __future__ import annotations

from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer

from domain import events
from domain.events import Event, ProductCreated, ProductUpdated, StockAdjusted
from domain.products import Product
from tests.fixtures import load_fixture

CREATED = Product(
    id="8f0e6c1a-3b1d-4c5e-9a7b-2d4f6e8a0b1c",
    sku="MUG-001",
    name="Blue mug",
    description="Stoneware, 350 ml.",
    category="kitchen",
    price_cents=1250,
    currency="EUR",
    stock=40,
    version=1,
    created_at="2024-05-01T12:00:00.000Z",
    updated_at="2024-05-01T12:00:00.000Z",
)
UPDATED = CREATED._replace(
    name="Navy mug", price_cents=1400, version=2, updated_at="2024-05-01T12:05:00.000Z"
)
ADJUSTED = UPDATED._replace(stock=35, version=3, updated_at="2024-05-01T12:10:00.000Z")

EVENTS: dict[str, Event] = {
    "ProductCreated": ProductCreated(CREATED, "req-0001"),
    "ProductUpdated": ProductUpdated(UPDATED, ("name", "priceCents"), "req-0002"),
    "StockAdjusted": StockAdjusted(ADJUSTED, -5, "req-0003"),
}


@pytest.mark.parametrize("event_type", sorted(EVENTS))
def test_to_item_matches_the_fixture_exactly(event_type: str) -> None:
    """GIVEN a fixed product event WHEN it is turned into its write-table item
    THEN the item equals the committed fixture, key for key and value for value."""
    item = events.to_item(EVENTS[event_type])

    assert item == load_fixture(f"events/{event_type}.json")


@pytest.mark.parametrize("event_type", sorted(EVENTS))
def test_from_item_round_trips_the_fixture(event_type: str) -> None:
    """GIVEN the committed item of an event WHEN it is read back with from_item
    THEN it is the same event, and turns into the same item again."""
    fixture = load_fixture(f"events/{event_type}.json")

    event = events.from_item(fixture)

    assert event == EVENTS[event_type]
    assert events.to_item(event) == fixture


def stream_records() -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = load_fixture("events/stream_batch.json")["Records"]
    return records


def test_stream_batch_is_a_lambda_dynamodb_streams_event() -> None:
    """GIVEN the stream batch fixture WHEN its envelope is read
    THEN it holds the three events of one product, each with the fields Lambda gives
    a DynamoDB Streams handler."""
    sort_keys = [record["dynamodb"]["Keys"]["sk"]["S"] for record in stream_records()]
    assert sort_keys == ["EVENT#0000000001", "EVENT#0000000002", "EVENT#0000000003"]
    for record in stream_records():
        assert record["eventSource"] == "aws:dynamodb"
        assert record["eventVersion"] == "1.1"
        assert record["eventName"] in ("INSERT", "MODIFY", "REMOVE")
        assert record["eventSourceARN"].startswith("arn:aws:dynamodb:")
        assert ":table/gateway-write/stream/" in record["eventSourceARN"]
        stream = record["dynamodb"]
        assert stream["StreamViewType"] == "NEW_IMAGE"
        assert {"ApproximateCreationDateTime", "Keys", "NewImage", "SequenceNumber"} <= set(stream)
        assert isinstance(stream["SizeBytes"], int)


@pytest.mark.parametrize(
    "index, event_type",
    [(0, "ProductCreated"), (1, "ProductUpdated"), (2, "StockAdjusted")],
)
def test_each_stream_record_parses_to_its_event(index: int, event_type: str) -> None:
    """GIVEN a stream record's typed NEW_IMAGE WHEN it is deserialized with boto3
    and read with from_item THEN it is the expected event, keyed as the record says."""
    record = stream_records()[index]
    deserializer = TypeDeserializer()
    image = {
        name: deserializer.deserialize(value)
        for name, value in record["dynamodb"]["NewImage"].items()
    }
    keys = {
        name: deserializer.deserialize(value) for name, value in record["dynamodb"]["Keys"].items()
    }

    event = events.from_item(image)

    assert type(event).__name__ == event_type
    assert event == EVENTS[event_type]
    assert keys == {"pk": image["pk"], "sk": image["sk"]}
