"""Dead letters as AWS Lambda writes them, and how their records are found again.

When the stream consumer gives up on a batch (retries exhausted, or records too old),
Lambda sends the event source mapping's on-failure destination, an SQS queue, a message
that describes the batch and holds none of its records::

    {"requestContext": {"requestId", "functionArn", "condition", "approximateInvokeCount"},
     "responseContext": {"statusCode", "executedVersion", "functionError"},
     "version": "1.0", "timestamp": "2026-12-04T10:00:06.021Z",
     "DDBStreamBatchInfo": {"shardId", "startSequenceNumber", "endSequenceNumber",
                            "approximateArrivalOfFirstRecord",
                            "approximateArrivalOfLastRecord", "batchSize", "streamArn"}}

``gateway dev`` sends the same message to the template's queue in moto, so one reader
serves both. The records are read again from the stream by sequence number
(:func:`read_batch`) while the stream holds them (24 hours on AWS); after that, the
write table still holds every event, and :class:`WrittenEvents` finds those written in
the batch's window.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from botocore.exceptions import BotoCoreError, ClientError

from cli.stream_records import created
from domain import records

# What a receive hides a message for: long enough to redrive one batch, short enough
# that a message a crashed command held is soon there again.
HOLD_S = 300
LIST_HOLD_S = 30
# Read at most this many letters in one command; the rest wait for the next.
MAX_LETTERS = 10_000
# An event reaches a region's stream after its replication lag; the write-table
# fallback replays events written up to this long before the batch's first arrival.
REPLAY_LOOKBACK = timedelta(hours=1)
# The stream gives creation times to the second.
_CLOCK_SLACK = timedelta(seconds=1)
_EMPTY_PAGES = 5


class BatchInfo(NamedTuple):
    """``DDBStreamBatchInfo``: which records of which stream made the failed batch."""

    shard_id: str
    start: str
    end: str
    first_arrival: datetime
    last_arrival: datetime
    size: int
    stream_arn: str

    def holds(self, sequence_number: str) -> bool:
        return int(self.start) <= int(sequence_number) <= int(self.end)


class DeadLetter(NamedTuple):
    """One message of a dead-letter store.

    ``batch`` is None when the message is not a stream batch; ``problem`` says why.
    ``held`` are the records themselves, for a store that keeps them (the local table
    of a ``gateway dev`` that predates the queue); an SQS letter holds none.
    """

    message_id: str
    receipt: str | None
    failed_at: datetime | None
    condition: str
    batch: BatchInfo | None
    problem: str | None = None
    held: list[dict[str, Any]] | None = None


def parse(message_id: str, receipt: str | None, body: str) -> DeadLetter:
    """A letter from a message body; a body that is not a stream batch is kept, with why."""
    try:
        message = json.loads(body)
    except ValueError:
        return DeadLetter(message_id, receipt, None, "?", None, "the body is not JSON")
    if not isinstance(message, dict):
        return DeadLetter(message_id, receipt, None, "?", None, "the body is not an object")
    context = message.get("requestContext")
    condition = context.get("condition") if isinstance(context, dict) else None
    failed_at = _time(message.get("timestamp"))
    letter = DeadLetter(
        message_id, receipt, failed_at, condition if isinstance(condition, str) else "?", None
    )
    try:
        return letter._replace(batch=_batch(message.get("DDBStreamBatchInfo")))
    except ValueError as error:
        return letter._replace(problem=str(error))


def _batch(info: object) -> BatchInfo:
    """Raises ValueError naming the first field that cannot be a stream batch's."""
    if not isinstance(info, dict):
        raise ValueError("no DDBStreamBatchInfo: not a DynamoDB stream batch")
    shard, arn = info.get("shardId"), info.get("streamArn")
    if not isinstance(shard, str) or not shard:
        raise ValueError("DDBStreamBatchInfo.shardId is missing")
    if not isinstance(arn, str) or ":table/" not in arn or "/stream/" not in arn:
        raise ValueError("DDBStreamBatchInfo.streamArn is not a DynamoDB stream's ARN")
    start, end = info.get("startSequenceNumber"), info.get("endSequenceNumber")
    for name, number in (("startSequenceNumber", start), ("endSequenceNumber", end)):
        if not isinstance(number, str) or not (number.isascii() and number.isdigit()):
            raise ValueError(f"DDBStreamBatchInfo.{name} is not a sequence number")
    assert isinstance(start, str) and isinstance(end, str)
    if int(start) > int(end):
        raise ValueError("DDBStreamBatchInfo ends before it starts")
    size = info.get("batchSize")
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise ValueError("DDBStreamBatchInfo.batchSize is not a count of records")
    first = _time(info.get("approximateArrivalOfFirstRecord"))
    last = _time(info.get("approximateArrivalOfLastRecord"))
    if first is None or last is None:
        raise ValueError("DDBStreamBatchInfo's arrival times are not times")
    return BatchInfo(shard, start, end, first, last, size, arn)


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class DeadLetterQueue:
    """The SQS queue a region's stream consumer dead-letters to.

    Parameters
    ----------
    wait_s
        Long polling on each receive: AWS answers an empty receive from a sample of its
        servers unless it waits; the local queue needs none.
    """

    def __init__(self, sqs: Any, url: str, wait_s: int = 0) -> None:
        self._sqs = sqs
        self._url = url
        self._wait_s = wait_s

    def letters(self, hold_s: int = LIST_HOLD_S) -> list[DeadLetter]:
        """Every letter, each hidden from other readers for ``hold_s``."""
        seen: dict[str, DeadLetter] = {}
        while len(seen) < MAX_LETTERS:
            answer = self._sqs.receive_message(
                QueueUrl=self._url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=hold_s,
                WaitTimeSeconds=self._wait_s,
            )
            messages = answer.get("Messages", [])
            if not messages:
                break
            for message in messages:
                seen.setdefault(
                    message["MessageId"],
                    parse(message["MessageId"], message["ReceiptHandle"], message["Body"]),
                )
        return list(seen.values())

    def release(self, letter: DeadLetter) -> None:
        """Let the letter be read again at once."""
        self._sqs.change_message_visibility(
            QueueUrl=self._url, ReceiptHandle=letter.receipt, VisibilityTimeout=0
        )

    def delete(self, letter: DeadLetter) -> None:
        self._sqs.delete_message(QueueUrl=self._url, ReceiptHandle=letter.receipt)

    def count(self) -> int:
        """Letters waiting, and those a reader holds right now."""
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self._url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(value) for value in attributes.values())


def read_batch(streams: Any, batch: BatchInfo, failed_at: datetime | None) -> list[dict[str, Any]]:
    """The batch's records, read again from its stream; [] when the stream no longer
    holds them (trimmed after 24 hours, or a stream that started again).

    A record counts only if it is at the batch's first sequence number and was made
    within the batch's arrival times, before the failure: a stream that started again
    (a new table, or the local cloud's compacted journal) reuses sequence numbers for
    other records, which must never be taken for these.
    """
    try:
        iterator = streams.get_shard_iterator(
            StreamArn=batch.stream_arn,
            ShardId=batch.shard_id,
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            SequenceNumber=batch.start,
        ).get("ShardIterator")
        found = list(_records_until(streams, iterator, int(batch.end)))
    except (ClientError, BotoCoreError):
        return []
    if not found or found[0]["dynamodb"]["SequenceNumber"] != batch.start:
        return []
    earliest = batch.first_arrival - _CLOCK_SLACK
    latest = (failed_at or batch.last_arrival) + _CLOCK_SLACK
    for record in found:
        made = created(record)
        if made is None or not earliest <= made <= latest:
            return []
    return found


def _records_until(streams: Any, iterator: str | None, end: int) -> Iterator[dict[str, Any]]:
    empty = 0
    while iterator and empty < _EMPTY_PAGES:
        page = streams.get_records(ShardIterator=iterator, Limit=1000)
        iterator = page.get("NextShardIterator")
        found = page.get("Records", [])
        empty = 0 if found else empty + 1
        for record in found:
            if int(record["dynamodb"]["SequenceNumber"]) > end:
                return
            yield record


class WrittenEvents:
    """The write table's event items, read once by one scan, by when they were written."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table
        self._since: datetime | None = None
        self._items: list[dict[str, Any]] = []

    def window(self, batch: BatchInfo) -> tuple[datetime, datetime]:
        """When the batch's events may have been written: its records arrived after."""
        return batch.first_arrival - REPLAY_LOOKBACK, batch.last_arrival + _CLOCK_SLACK

    def between(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        """Event items (wire format) written in ``[since, until]``, oldest first."""
        if self._since is None or since < self._since:
            self._items = list(self._scan(since))
            self._since = since
        low, high = _stamp(since), _stamp(until)
        chosen = [item for item in self._items if low <= item["occurredAt"]["S"] <= high]
        return sorted(chosen, key=lambda item: item["occurredAt"]["S"])

    def _scan(self, since: datetime) -> Iterator[dict[str, Any]]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": "#kind = :event AND #at >= :since",
            "ExpressionAttributeNames": {"#kind": records.RECORD_KIND, "#at": "occurredAt"},
            "ExpressionAttributeValues": {
                ":event": {"S": records.EVENT_RECORD},
                ":since": {"S": _stamp(since)},
            },
        }
        while True:
            page = self._client.scan(**request)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _stamp(moment: datetime) -> str:
    """As the domain writes ``occurredAt``: to the millisecond, in UTC, with a Z."""
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")
