"""Dead letters in AWS Lambda's format: read from any body without failing, and their
records found again only where they truly are."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cli.dead_letters import BatchInfo, WrittenEvents, parse, read_batch
from tests.fixtures import load_fixture

ARN = (
    "arn:aws:dynamodb:eu-west-1:123456789012:table/gateway-write-prod/stream/"
    "2026-12-01T08:00:00.000"
)
ARRIVED = datetime(2026, 12, 4, 10, 0, 4, tzinfo=UTC)


def _body(**changes: Any) -> str:
    message = load_fixture("events/stream_dead_letter.json")
    message["DDBStreamBatchInfo"].update(changes)
    return json.dumps(message)


def test_a_lambda_dead_letter_names_its_batch() -> None:
    """GIVEN the message AWS Lambda sends for a failed DynamoDB-stream batch WHEN read THEN
    the letter names the shard, the sequence range, the size, the stream, when the records
    arrived and when and why it failed."""
    letter = parse("m-1", "r-1", json.dumps(load_fixture("events/stream_dead_letter.json")))

    assert letter.problem is None
    assert letter.batch == BatchInfo(
        shard_id="shardId-00000001733306400000-4d4f3e2a",
        start="800000000003126276362",
        end="800000000003126276370",
        first_arrival=ARRIVED,
        last_arrival=ARRIVED + timedelta(seconds=1),
        size=3,
        stream_arn=ARN,
    )
    assert letter.failed_at == datetime(2026, 12, 4, 10, 0, 6, 21000, tzinfo=UTC)
    assert letter.condition == "RetryAttemptsExhausted"
    assert letter.batch.holds("800000000003126276365")
    assert not letter.batch.holds("800000000003126276371")


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "not an object"),
        (json.dumps({"Records": []}), "no DDBStreamBatchInfo"),
        (_body(startSequenceNumber=800), "startSequenceNumber is not a sequence number"),
        (_body(startSequenceNumber="8e10"), "startSequenceNumber is not a sequence number"),
        (_body(endSequenceNumber="٣٤٥"), "endSequenceNumber is not a sequence number"),
        (_body(endSequenceNumber="-1"), "endSequenceNumber is not a sequence number"),
        (_body(endSequenceNumber="1"), "ends before it starts"),
        (_body(batchSize=0), "batchSize is not a count"),
        (_body(batchSize=True), "batchSize is not a count"),
        (_body(batchSize="3"), "batchSize is not a count"),
        (_body(shardId=""), "shardId is missing"),
        (_body(streamArn="arn:aws:sqs:eu-west-1:1:q"), "streamArn is not a DynamoDB stream's"),
        (_body(approximateArrivalOfFirstRecord="yesterday"), "arrival times are not times"),
        (_body(approximateArrivalOfLastRecord=None), "arrival times are not times"),
    ],
)
def test_a_message_that_is_no_stream_batch_is_kept_with_the_reason(body: str, problem: str) -> None:
    """GIVEN a message in the queue that is not a stream batch (hand-sent, truncated,
    hostile) WHEN read THEN reading never fails: the letter has no batch, says which
    field is wrong, and keeps its id so it can be found and left in place."""
    letter = parse("m-2", "r-2", body)

    assert (letter.message_id, letter.batch) == ("m-2", None)
    assert letter.problem is not None and problem in letter.problem


def _stream_record(sequence: int, made: datetime, pk: str = "PRODUCT#p-1") -> dict[str, Any]:
    return {
        "eventName": "INSERT",
        "dynamodb": {
            "ApproximateCreationDateTime": made,
            "Keys": {"pk": {"S": pk}, "sk": {"S": "EVENT#0000000001"}},
            "SequenceNumber": str(sequence),
        },
    }


class FakeStreams:
    """A stream of one shard, paged by ``page`` records, as DynamoDB Streams serves it."""

    def __init__(self, held: list[dict[str, Any]], page: int = 2, trimmed: bool = False) -> None:
        self.held = held
        self.page = page
        self.trimmed = trimmed
        self.asked: list[dict[str, Any]] = []

    def get_shard_iterator(self, **request: Any) -> dict[str, Any]:
        self.asked.append(request)
        if self.trimmed:
            error = {"Error": {"Code": "TrimmedDataAccessException", "Message": "trimmed"}}
            raise ClientError(error, "GetShardIterator")
        start = int(request["SequenceNumber"])
        at = next(
            (i for i, r in enumerate(self.held) if int(r["dynamodb"]["SequenceNumber"]) >= start),
            len(self.held),
        )
        return {"ShardIterator": str(at)}

    def get_records(self, ShardIterator: str, Limit: int) -> dict[str, Any]:
        at = int(ShardIterator)
        page = self.held[at : at + self.page]
        return {"Records": page, "NextShardIterator": str(at + len(page))}


BATCH = BatchInfo("shard-1", "100", "104", ARRIVED, ARRIVED + timedelta(seconds=1), 3, ARN)
FAILED = ARRIVED + timedelta(seconds=2)


def test_a_batch_is_read_again_from_its_first_to_its_last_sequence_number() -> None:
    """GIVEN the stream still holds a batch, and records before and after it WHEN the
    letter's records are read again THEN exactly those from its first to its last
    sequence number come back, page after page, read from its shard at its start."""
    held = [_stream_record(n, ARRIVED) for n in (100, 101, 103, 104, 105, 106)]
    streams = FakeStreams(held)

    found = read_batch(streams, BATCH, FAILED)

    assert [r["dynamodb"]["SequenceNumber"] for r in found] == ["100", "101", "103", "104"]
    assert streams.asked == [
        {
            "StreamArn": ARN,
            "ShardId": "shard-1",
            "ShardIteratorType": "AT_SEQUENCE_NUMBER",
            "SequenceNumber": "100",
        }
    ]


@pytest.mark.parametrize(
    ("streams", "why"),
    [
        (FakeStreams([], trimmed=True), "trimmed after 24 hours"),
        (FakeStreams([_stream_record(102, ARRIVED)]), "the first record is gone"),
        (
            FakeStreams([_stream_record(100, FAILED + timedelta(minutes=5))]),
            "a stream that started again reused the number for a later record",
        ),
        (
            FakeStreams([_stream_record(100, ARRIVED - timedelta(hours=2))]),
            "a record from before the batch arrived",
        ),
    ],
)
def test_records_that_are_not_the_batchs_are_never_taken_for_it(
    streams: FakeStreams, why: str
) -> None:
    """GIVEN a stream that no longer holds the batch's records WHEN they are read again
    THEN none come back, so the redrive falls back to the write table rather than
    applying other records and deleting the letter."""
    assert read_batch(streams, BATCH, FAILED) == [], why


class FakeScan:
    """A write table's scan, filtered as DynamoDB filters: after reading, by occurredAt."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items
        self.scans = 0

    def scan(self, **request: Any) -> dict[str, Any]:
        self.scans += 1
        since = request["ExpressionAttributeValues"][":since"]["S"]
        kept = [
            item
            for item in self.items
            if item["recordKind"]["S"] == "EVENT" and item["occurredAt"]["S"] >= since
        ]
        return {"Items": kept}


def _event(pk: str, at: datetime) -> dict[str, Any]:
    stamp = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {"pk": {"S": pk}, "recordKind": {"S": "EVENT"}, "occurredAt": {"S": stamp}}


def test_the_write_table_gives_the_events_written_in_a_batchs_window() -> None:
    """GIVEN events written before, during and after a batch's window WHEN the letter
    falls back to the write table THEN it takes the events written from the lookback
    before its first arrival to its last, oldest first, scanning the table once."""
    table = FakeScan(
        [
            _event("PRODUCT#late", ARRIVED + timedelta(minutes=1)),
            _event("PRODUCT#in", ARRIVED - timedelta(seconds=3)),
            _event("PRODUCT#lagged", ARRIVED - timedelta(minutes=50)),
            _event("PRODUCT#old", ARRIVED - timedelta(hours=3)),
            {"pk": {"S": "PRODUCT#in"}, "recordKind": {"S": "AGGREGATE"}},
        ]
    )
    events = WrittenEvents(table, "gateway-write-prod")

    first = events.between(*events.window(BATCH))
    again = events.between(*events.window(BATCH))

    assert [item["pk"]["S"] for item in first] == ["PRODUCT#lagged", "PRODUCT#in"]
    assert again == first
    assert table.scans == 1
