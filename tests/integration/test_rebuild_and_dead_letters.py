"""Rebuild from the write table, and poison records through the dead-letter store."""

from __future__ import annotations

from typing import Any

from emulator.cloud.deadletters import DEAD_LETTER_TABLE, DeadLetters
from emulator.cloud.server import create_dead_letter_table
from emulator.cloud.streams import StreamPoller, StreamReader
from projections import keys
from projections.rebuild import rebuild
from projections.table import ProjectionTable, decode
from tests.integration.conftest import Cloud

LAMP = {
    "sku": "LAMP-1",
    "name": "Desk lamp",
    "category": "lighting",
    "priceCents": 4500,
    "currency": "EUR",
    "stock": 9,
}


def _views(table: ProjectionTable) -> dict[tuple[str, str], dict[str, Any]]:
    """Every view item, without the progress item and the merge counter (``rev`` counts
    writes, which a rebuild does in another order)."""
    items = [decode(item) for item in table.client.scan(TableName=table.name)["Items"]]
    views = {}
    for item in items:
        if {keys.PARTITION_KEY: item["pk"], keys.SORT_KEY: item["sk"]} == keys.progress_key():
            continue
        item.pop("rev", None)
        views[(item["pk"], item["sk"])] = item
    return views


def _shop(cloud: Cloud) -> None:
    """Products, a customer and orders in every state, all projected."""
    lamp = cloud.replica.call("Mutation", "createProduct", {"input": LAMP})
    customer = cloud.primary.call(
        "Mutation", "registerCustomer", {"input": {"email": "ana@example.com", "name": "Ana"}}
    )
    placed = []
    for key in ("a", "b", "c"):
        order = {
            "customerId": customer["id"],
            "lines": [{"productId": lamp["id"], "quantity": 2}],
            "idempotencyKey": key,
        }
        placed.append(cloud.replica.call("Mutation", "placeOrder", {"input": order}))
    cloud.primary.call(
        "Mutation", "shipOrder", {"input": {"id": placed[0]["id"], "expectedVersion": 1}}
    )
    cloud.replica.call(
        "Mutation", "cancelOrder", {"input": {"id": placed[1]["id"], "expectedVersion": 1}}
    )
    cloud.settle()


def test_rebuild_restores_exactly_what_the_stream_built(cloud: Cloud) -> None:
    """GIVEN a region whose projections the stream built WHEN they are damaged and then
    rebuilt from the write table THEN every view equals what the stream had built."""
    _shop(cloud)
    table = cloud.replica.projector._table
    built = _views(table)
    table.client.delete_item(
        TableName=table.name, Key={"pk": {"S": "CUSTOMER#x"}, "sk": {"S": "VIEW"}}
    )
    some_key = next(iter(built))
    table.client.delete_item(
        TableName=table.name, Key={"pk": {"S": some_key[0]}, "sk": {"S": some_key[1]}}
    )
    table.put({"pk": "PRODUCT#bogus", "sk": "VIEW", "version": 99, "name": "left over"})

    progress: list[tuple[int, int]] = []
    settings = cloud.replica.settings
    applied = rebuild(
        settings.dynamodb(settings.region),
        settings.write_table,
        table,
        lambda d, t: progress.append((d, t)),
    )

    assert _views(table) == built
    assert applied == progress[-1][0] == progress[-1][1] > 0


def test_a_poison_record_goes_to_the_dead_letters_and_the_rest_still_applies(
    cloud: Cloud,
) -> None:
    """GIVEN a batch whose first record always fails WHEN the poller delivers it THEN after
    3 attempts that record is parked in the dead-letter store, the record after it is
    projected, and a redrive after the fault is fixed applies it and empties the store."""
    settings = cloud.primary.settings
    create_dead_letter_table(settings, DEAD_LETTER_TABLE)
    letters = DeadLetters(settings.dynamodb(settings.region), settings.region)
    lamp = cloud.primary.call("Mutation", "createProduct", {"input": LAMP})
    cloud.primary.call("Mutation", "adjustStock", {"input": {"id": lamp["id"], "delta": 1}})
    reader: StreamReader = cloud.primary.poller._reader
    peek = StreamReader(reader._client, reader.stream_arn)
    batch = [
        record
        for record in peek.read()
        if record["dynamodb"]["NewImage"].get("recordKind") == {"S": "EVENT"}
    ]
    broken = {batch[0]["dynamodb"]["SequenceNumber"]}
    attempts: list[int] = []

    def flaky(event: dict[str, Any], context: Any) -> dict[str, Any]:
        attempts.append(len(event["Records"]))
        failed = [r for r in event["Records"] if r["dynamodb"]["SequenceNumber"] in broken]
        good = {"Records": [r for r in event["Records"] if r not in failed]}
        if good["Records"]:
            cloud.primary.projector.handle(good)
        return {
            "batchItemFailures": [
                {"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in failed
            ]
        }

    poller = StreamPoller(settings.region, reader, flaky, park=letters.park)
    poller.step()

    parked = letters.list()
    assert [letter.sequence_number for letter in parked] == sorted(broken)
    assert parked[0].attempts == 3
    view = cloud.primary.call("Query", "product", {"id": lamp["id"]})
    assert view["version"] == 2  # the record after the poison was applied

    broken.clear()
    assert letters.redrive(flaky) == (1, 0)
    assert letters.list() == []
