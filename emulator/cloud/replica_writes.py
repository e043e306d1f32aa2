"""How replication's copies land in one region's write table (:mod:`emulator.cloud.replication`).

* Without stream positions: one ``PutItem`` or ``DeleteItem`` per change.
* With them (:mod:`emulator.cloud.positions`): a run of changes in one ``TransactWriteItems``,
  with the position of the last change from each source region, so the copies and
  their positions are held together or not at all, and a restart never copies a change
  twice. Up to :data:`MAX_CHANGES_PER_WRITE` changes go in one transaction, and never
  two of one item (DynamoDB refuses that); a delete goes alone, conditional on the item
  being there, so that a delete of nothing is known to make no stream record.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from typing import Any, NamedTuple

from botocore.exceptions import ClientError

from emulator.cloud.positions import REPLICATION, StreamPositions

MAX_CHANGES_PER_WRITE = 25


class Change(NamedTuple):
    """A stream record of one region, on its way to the others."""

    source: str
    made_at: float  # epoch seconds, when its source region took it
    record: dict[str, Any]

    @property
    def sequence(self) -> str:
        return str(self.record["dynamodb"]["SequenceNumber"])

    @property
    def removes(self) -> bool:
        return bool(self.record["eventName"] == "REMOVE")


class ReplicaWriter:
    """Writes changes into one region's write table; see the module docstring."""

    def __init__(self, client: Any, table: str, positions: StreamPositions | None) -> None:
        self._client = client
        self._table = table
        self._positions = positions

    def take(self, due: Iterable[Change]) -> int:
        """How many of ``due`` (oldest first) one write carries."""
        taken = 0
        items: set[str] = set()
        for change in due:
            item = json.dumps(change.record["dynamodb"]["Keys"], sort_keys=True, default=str)
            alone = self._positions is None or change.removes
            if taken and (alone or item in items or taken >= MAX_CHANGES_PER_WRITE):
                break
            taken += 1
            items.add(item)
            if alone:
                break
        return taken

    def write(self, changes: list[Change], superseded: Collection[int] = ()) -> list[bool]:
        """Write ``changes`` (as many as :meth:`take` said), but for those at the indexes
        in ``superseded`` (a newer write of the item is there: last writer wins), whose
        positions alone are saved; for each, whether it made a stream record (a delete
        of nothing, or a superseded change, does not)."""
        if self._positions is None:
            return [0 not in superseded and self._write_alone(changes[0])]
        positions = {
            change.source: self._positions.put(REPLICATION, change.source, change.sequence)
            for change in changes  # the last change from each source wins
        }
        saves = [{"Put": position} for position in positions.values()]
        if changes[0].removes and 0 not in superseded:
            return [self._delete_with_position(changes[0], saves)]
        puts = [
            {"Put": {"TableName": self._table, "Item": change.record["dynamodb"]["NewImage"]}}
            for index, change in enumerate(changes)
            if index not in superseded
        ]
        self._client.transact_write_items(TransactItems=puts + saves)
        return [index not in superseded for index in range(len(changes))]

    def _write_alone(self, change: Change) -> bool:
        image = change.record["dynamodb"]
        if change.removes:
            answer = self._client.delete_item(
                TableName=self._table, Key=image["Keys"], ReturnValues="ALL_OLD"
            )
            return bool(answer.get("Attributes"))
        self._client.put_item(TableName=self._table, Item=image["NewImage"])
        return True

    def _delete_with_position(self, change: Change, saves: list[dict[str, Any]]) -> bool:
        keys = change.record["dynamodb"]["Keys"]
        names = {f"#key{index}": name for index, name in enumerate(keys)}
        delete = {
            "TableName": self._table,
            "Key": keys,
            "ConditionExpression": " AND ".join(f"attribute_exists({name})" for name in names),
            "ExpressionAttributeNames": names,
        }
        try:
            self._client.transact_write_items(TransactItems=[{"Delete": delete}, *saves])
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            for save in saves:
                self._client.put_item(**save["Put"])
            return False
        return True
