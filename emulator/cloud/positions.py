"""How far each stream consumer got: kept in moto, so the journal keeps it too.

A restart replays the journal, which makes every stream record again, with the same
sequence numbers (moto numbers a shard's records from a fixed start). So each consumer
keeps, per region whose stream it reads, the sequence number of the last record it has
fully handled, and skips up to there after a restart:

* a region's stream poller (``poller``, that region): saved after its batches;
* replication into a region (``replication``, the source region): saved in the same
  transaction as the copy it wrote (:mod:`emulator.cloud.replication`), so a copy is never
  made twice.

Key: ``pk = <consumer>``, ``sk = <source region>``; one table in each region.
"""

from __future__ import annotations

from typing import Any

POSITIONS_TABLE = "gateway-stream-positions"
POLLER = "poller"
REPLICATION = "replication"


class StreamPositions:
    """One region's table of stream positions."""

    def __init__(self, client: Any, table: str = POSITIONS_TABLE) -> None:
        self.client = client
        self.table = table

    def get(self, consumer: str, source: str) -> str | None:
        """The last sequence number ``consumer`` handled in ``source``'s stream, or None."""
        answer = self.client.get_item(
            TableName=self.table, Key=_key(consumer, source), ConsistentRead=True
        )
        item = answer.get("Item")
        return None if item is None else str(item["sequence"]["S"])

    def save(self, consumer: str, source: str, sequence: str) -> None:
        self.client.put_item(**self.put(consumer, source, sequence))

    def put(self, consumer: str, source: str, sequence: str) -> dict[str, Any]:
        """The put that saves a position, to send alone or inside a transaction."""
        return {
            "TableName": self.table,
            "Item": {**_key(consumer, source), "sequence": {"S": sequence}},
        }


def after(position: str | None, sequence: str) -> bool:
    """Whether ``sequence`` comes after ``position`` in the same stream."""
    return position is None or int(sequence) > int(position)


def _key(consumer: str, source: str) -> dict[str, Any]:
    return {"pk": {"S": consumer}, "sk": {"S": source}}
