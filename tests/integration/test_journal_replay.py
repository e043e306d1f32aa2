"""The journal replayed into a fresh moto: the same items, the same stream records."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.moto_api._internal.models import moto_api_backend

from emulator.cloud.journal import Items, Journal, Request
from emulator.cloud.positions import POLLER, StreamPositions
from emulator.cloud.replication import mark_replicated_writes
from emulator.cloud.server import (
    LocalCloud,
    create_dead_letter_table,
    create_positions_table,
    create_tables,
    moto_fixes,
    stream_arn,
    streams_client,
)
from projections.settings import Settings

pytestmark = pytest.mark.timeout(120)

REGIONS = ("us-east-1", "eu-west-1")


@pytest.fixture
def journal_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A journal file, with moto's state (one per process) empty before and after."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    moto_api_backend.reset()
    yield tmp_path / "dynamodb.journal"
    moto_api_backend.reset()


def settings(cloud: LocalCloud, region: str) -> Settings:
    return Settings(region=region, primary_region=REGIONS[0], endpoint_url=cloud.endpoint_url)


def item(pk: str, sk: str = "STATE", **attributes: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}} | {k: {"S": v} for k, v in attributes.items()}


def write_history(cloud: LocalCloud) -> None:
    """Tables in two regions, and writes of every kind the emulator sends."""
    for region in REGIONS:
        create_tables(settings(cloud, region))
        create_dead_letter_table(settings(cloud, region), "gateway-dead-letters")
        create_positions_table(settings(cloud, region))
    primary, replica = (settings(cloud, region) for region in REGIONS)
    writes = primary.dynamodb(primary.region)
    writes.put_item(TableName=primary.write_table, Item=item("PRODUCT#1", name="Lamp"))
    writes.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": primary.write_table, "Item": item("ORDER#1", status="PLACED")}},
            {"Put": {"TableName": primary.write_table, "Item": item("ORDER#1", "EVENT#1")}},
        ]
    )
    with pytest.raises(ClientError):  # refused: never journaled, never replayed
        writes.put_item(
            TableName=primary.write_table,
            Item=item("PRODUCT#1", name="Shade"),
            ConditionExpression="attribute_not_exists(pk)",
        )
    for name in ("Lamp", "Desk lamp", "Brass lamp"):  # a view, overwritten
        writes.put_item(TableName=primary.projection_table, Item=item("PRODUCT#1", name=name))
    writes.put_item(TableName=primary.projection_table, Item=item("PRODUCT#2", name="Gone"))
    writes.delete_item(TableName=primary.projection_table, Key=item("PRODUCT#2"))
    StreamPositions(writes).save(POLLER, primary.region, "1100000000017454423010")
    copies = mark_replicated_writes(replica.dynamodb(replica.region))
    copies.put_item(TableName=replica.write_table, Item=item("PRODUCT#1", name="Lamp"))
    replica.dynamodb(replica.region).put_item(
        TableName=replica.write_table, Item=item("CONTROL", "PRIMARY", mode="ACTIVE")
    )


def tables(cloud: LocalCloud) -> dict[tuple[str, str], list[dict[str, Any]]]:
    found = {}
    for region in REGIONS:
        client = settings(cloud, region).dynamodb(region)
        for name in client.list_tables()["TableNames"]:
            items = client.scan(TableName=name)["Items"]
            found[(region, name)] = sorted(items, key=lambda i: (i["pk"]["S"], i["sk"]["S"]))
    return found


def streams(cloud: LocalCloud) -> dict[str, list[tuple[Any, ...]]]:
    """Each region's write-table stream: number, event, key, image and mark of each record."""
    found = {}
    for region in REGIONS:
        each = settings(cloud, region)
        client, arn = streams_client(each), stream_arn(each)
        [shard] = client.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
        iterator = client.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        found[region] = [
            (
                record["dynamodb"]["SequenceNumber"],
                record["eventName"],
                record["dynamodb"]["Keys"],
                record["dynamodb"].get("NewImage"),
                record.get("userIdentity"),
            )
            for record in client.get_records(ShardIterator=iterator)["Records"]
        ]
    return found


def test_a_replay_gives_back_every_item_and_every_stream_record_with_its_number(
    journal_path: Path,
) -> None:
    """
    GIVEN a cloud with a journal, written with puts, a transaction, a refused put,
          overwritten and deleted views, a position and a copy made by replication
    WHEN it stops, moto forgets everything, and a new cloud replays the journal
    THEN every table holds the same items, and each write table's stream the same
         records, with the same sequence numbers and the same replication marks
    """
    first = LocalCloud(journal=Journal(journal_path))
    write_history(first)
    before_tables, before_streams = tables(first), streams(first)
    first.stop()
    moto_api_backend.reset()

    second = LocalCloud(journal=Journal(journal_path))
    try:
        assert tables(second) == before_tables
        assert streams(second) == before_streams
        assert [record[4] for record in before_streams["eu-west-1"]] == [
            {"PrincipalId": "gateway-dev-replication", "Type": "Service"},
            None,  # the operator's control record is the region's own change
        ]
        assert second.replayed_changes == 10
    finally:
        second.stop()


def test_a_compacted_journal_gives_back_the_items_and_starts_the_streams_afresh(
    journal_path: Path,
) -> None:
    """
    GIVEN the same history, every stream record handled
    WHEN the cloud compacts its journal, and a new cloud replays it
    THEN every table but the positions holds the same items, the streams start empty,
         and the journal holds table definitions and items, no history
    """
    first = LocalCloud(journal=Journal(journal_path))
    write_history(first)
    before = tables(first)
    first.compact()
    assert streams(first) == {region: [] for region in REGIONS}
    first.stop()
    moto_api_backend.reset()

    second = LocalCloud(journal=Journal(journal_path))
    try:
        after = tables(second)
        assert streams(second) == {region: [] for region in REGIONS}
        assert after[("us-east-1", "gateway-stream-positions")] == []
        del before[("us-east-1", "gateway-stream-positions")]
        del after[("us-east-1", "gateway-stream-positions")]
        assert after == before
        assert second.replayed_changes == 0
    finally:
        second.stop()
    journal = Journal(journal_path)
    entries = journal.open()
    journal.close()
    assert {type(entry) for entry in entries} == {Request, Items}
    assert {entry.action for entry in entries if isinstance(entry, Request)} == {"CreateTable"}


def count_up(token: str) -> dict[str, Any]:
    """A transaction that adds 1 to a counter: each one applied shows in the count."""
    update = {
        "TableName": "gateway-write",
        "Key": item("COUNTER#1"),
        "UpdateExpression": "ADD #n :one",
        "ExpressionAttributeNames": {"#n": "n"},
        "ExpressionAttributeValues": {":one": {"N": "1"}},
    }
    return {"TransactItems": [{"Update": update}], "ClientRequestToken": token}


def counter(cloud: LocalCloud) -> int:
    client = settings(cloud, REGIONS[0]).dynamodb(REGIONS[0])
    found = client.get_item(TableName="gateway-write", Key=item("COUNTER#1"), ConsistentRead=True)
    return int(found["Item"]["n"]["N"])


def test_a_transaction_repeated_under_its_token_is_not_journaled_and_replays_once(
    journal_path: Path,
) -> None:
    """
    GIVEN a cloud with a journal, where a transaction with token t-1 was sent twice (the
          second answered from the token), and another with t-2 once
    WHEN it stops, moto forgets everything, and a new cloud replays the journal
    THEN the journal holds the two transactions that wrote, and the counter is 2
    """
    first = LocalCloud(journal=Journal(journal_path))
    create_tables(settings(first, REGIONS[0]))
    client = settings(first, REGIONS[0]).dynamodb(REGIONS[0])
    for token in ("t-1", "t-1", "t-2"):
        client.transact_write_items(**count_up(token))
    assert counter(first) == 2
    first.stop()
    moto_api_backend.reset()

    second = LocalCloud(journal=Journal(journal_path))
    try:
        assert counter(second) == 2
    finally:
        second.stop()
    journal = Journal(journal_path)
    entries = journal.open()
    journal.close()
    sent = [e for e in entries if isinstance(e, Request) and e.action == "TransactWriteItems"]
    assert [entry.body["ClientRequestToken"] for entry in sent] == ["t-1", "t-2"]


def test_a_token_used_again_after_its_window_replays_as_the_new_request_it_was(
    journal_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    GIVEN a transaction with token t-1, and the same one again more than 10 minutes
          later (a new request, applied: the counter is 2)
    WHEN a new cloud replays the journal within seconds
    THEN both are applied again: the counter is 2, not 1
    """
    now = [1000.0]
    monkeypatch.setattr(moto_fixes, "_token_clock", lambda: now[0])
    first = LocalCloud(journal=Journal(journal_path))
    create_tables(settings(first, REGIONS[0]))
    client = settings(first, REGIONS[0]).dynamodb(REGIONS[0])
    client.transact_write_items(**count_up("t-1"))
    now[0] += moto_fixes.TOKEN_WINDOW_S + 1
    client.transact_write_items(**count_up("t-1"))
    assert counter(first) == 2
    first.stop()
    moto_api_backend.reset()

    second = LocalCloud(journal=Journal(journal_path))
    try:
        assert counter(second) == 2
    finally:
        second.stop()
