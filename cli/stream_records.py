"""Stream records in the shapes the stream handler takes: as Lambda delivers a record it
read from the stream, or as the stream would have carried an event item of the write
table; and each, for people, as the item it holds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from domain import records

_deserializer = TypeDeserializer()


def created(record: dict[str, Any]) -> datetime | None:
    """When a stream record's change was made: boto3 gives a datetime, Lambda's JSON a
    number of seconds."""
    made = record.get("dynamodb", {}).get("ApproximateCreationDateTime")
    if isinstance(made, datetime):
        return made if made.tzinfo else made.replace(tzinfo=UTC)
    if isinstance(made, int | float) and not isinstance(made, bool):
        return datetime.fromtimestamp(made, UTC)
    return None


def lambda_record(record: dict[str, Any], region: str, stream_arn: str) -> dict[str, Any]:
    """A stream record as Lambda hands it over: the creation time in epoch seconds (the
    event is JSON; boto3 parses it into a datetime), the stream's ARN and region."""
    change = dict(record["dynamodb"])
    made = created(record)
    if made is not None:
        change["ApproximateCreationDateTime"] = int(made.timestamp())
    return {**record, "dynamodb": change, "eventSourceARN": stream_arn, "awsRegion": region}


def replayed_record(
    item: dict[str, Any], position: int, region: str, stream_arn: str
) -> dict[str, Any]:
    """An event item from the write table, as the stream record its write made."""
    key = {name: item[name] for name in (records.PARTITION_KEY, records.SORT_KEY)}
    written = datetime.fromisoformat(item["occurredAt"]["S"])
    return {
        "eventID": f"replayed-{position}",
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "eventSourceARN": stream_arn,
        "dynamodb": {
            "ApproximateCreationDateTime": int(written.timestamp()),
            "Keys": key,
            "NewImage": item,
            # Unique within the batch, which is all the handler's failure report needs.
            "SequenceNumber": str(position),
            "StreamViewType": "NEW_IMAGE",
        },
    }


def describe(record: dict[str, Any]) -> str:
    """A record's item, for people: ``ORDER#o-1 EVENT#0000000002 OrderPlaced``."""
    change = record.get("dynamodb", {})
    image = change.get("NewImage") or change.get("Keys") or {}
    plain = {name: _deserializer.deserialize(value) for name, value in image.items()}
    words = [str(plain.get(records.PARTITION_KEY, "?")), str(plain.get(records.SORT_KEY, "?"))]
    if "eventType" in plain:
        words.append(str(plain["eventType"]))
    return " ".join(words)
