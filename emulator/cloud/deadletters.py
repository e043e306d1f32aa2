"""The dead-letter store: stream records that failed every retry, kept until redriven.

On AWS this is the event source mapping's SQS on-failure destination; locally it is a
table in moto, per region, so that ``gateway dlq`` can list and redrive from another
process. Key: ``pk = <region>``, ``sk = <sequence number>``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from emulator.cloud.streams import Handler

DEAD_LETTER_TABLE = "gateway-dead-letters"


@dataclass(frozen=True)
class DeadLetter:
    region: str
    sequence_number: str
    record: dict[str, Any]
    attempts: int
    failed_at: str

    @property
    def summary(self) -> str:
        image = self.record.get("dynamodb", {}).get("NewImage", {})
        event_type = image.get("eventType", {}).get("S", "?")
        aggregate = image.get("pk", {}).get("S", "?")
        failed = f"failed {self.attempts}x at {self.failed_at}"
        return f"{self.sequence_number}  {event_type:<18} {aggregate}  {failed}"


class DeadLetters:
    """One region's dead letters."""

    def __init__(self, client: Any, region: str, table: str = DEAD_LETTER_TABLE) -> None:
        self._client = client
        self._region = region
        self._table = table

    def park(self, record: dict[str, Any], attempts: int) -> None:
        self._client.put_item(
            TableName=self._table,
            Item={
                "pk": {"S": self._region},
                "sk": {"S": record["dynamodb"]["SequenceNumber"]},
                "record": {"S": json.dumps(record)},
                "attempts": {"N": str(attempts)},
                "failedAt": {"S": datetime.now(UTC).isoformat(timespec="seconds")},
            },
        )

    def list(self) -> list[DeadLetter]:
        letters: list[DeadLetter] = []
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :region",
            "ExpressionAttributeValues": {":region": {"S": self._region}},
        }
        while True:
            page = self._client.query(**request)
            letters += [
                DeadLetter(
                    region=self._region,
                    sequence_number=item["sk"]["S"],
                    record=json.loads(item["record"]["S"]),
                    attempts=int(item["attempts"]["N"]),
                    failed_at=item["failedAt"]["S"],
                )
                for item in page.get("Items", [])
            ]
            if "LastEvaluatedKey" not in page:
                return letters
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def remove(self, letter: DeadLetter) -> None:
        self._client.delete_item(
            TableName=self._table,
            Key={"pk": {"S": self._region}, "sk": {"S": letter.sequence_number}},
        )

    def redrive(self, handler: Handler) -> tuple[int, int]:
        """Send each letter to the stream handler again; return (applied, still failing)."""
        applied = failing = 0
        for letter in self.list():
            try:
                answer = handler({"Records": [letter.record]}, None)
                ok = not answer.get("batchItemFailures")
            except Exception:  # the handler reports all-failed batches by raising
                ok = False
            if ok:
                self.remove(letter)
                applied += 1
            else:
                failing += 1
        return applied, failing
