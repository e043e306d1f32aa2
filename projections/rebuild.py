"""Rebuild a region's projections from the write table's event items.

The stream keeps 24 hours; the write table keeps every event. A rebuild empties the
region's views and applies every event again through the same builders, so the result
equals what the stream built. Nothing is published: subscribers were told already.
Until it ends, reads in that region miss the views not yet rebuilt; :func:`plan`
counts what a rebuild would do, changing nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from boto3.dynamodb.types import TypeDeserializer

from domain import events, records
from projections import builders, keys
from projections.table import ProjectionTable, decode

Progress = Callable[[int, int], None]
_deserializer = TypeDeserializer()


def event_items(client: Any, write_table: str) -> Iterator[dict[str, Any]]:
    """Every event item in a write table, page by page."""
    request: dict[str, Any] = {
        "TableName": write_table,
        "FilterExpression": "#kind = :event",
        "ExpressionAttributeNames": {"#kind": records.RECORD_KIND},
        "ExpressionAttributeValues": {":event": {"S": records.EVENT_RECORD}},
    }
    while True:
        page = client.scan(**request)
        for item in page.get("Items", []):
            yield {name: _deserializer.deserialize(value) for name, value in item.items()}
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def view_keys(table: ProjectionTable) -> Iterator[dict[str, Any]]:
    """The key (wire format) of every view; the region's bookkeeping (its progress and
    the heartbeats it saw, under the META partition) is no view."""
    request: dict[str, Any] = {
        "TableName": table.name,
        "ProjectionExpression": "#pk, #sk",
        "ExpressionAttributeNames": {"#pk": keys.PARTITION_KEY, "#sk": keys.SORT_KEY},
    }
    while True:
        page = table.client.scan(**request)
        for item in page.get("Items", []):
            if decode(item)[keys.PARTITION_KEY] != keys.META_PARTITION:
                yield item
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def clear_views(table: ProjectionTable) -> int:
    """Delete every view (the region's bookkeeping stays); return how many were deleted."""
    deleted = 0
    for key in view_keys(table):
        table.client.delete_item(TableName=table.name, Key=key)
        deleted += 1
    return deleted


class Plan(NamedTuple):
    """What a rebuild would do: delete ``views``, then apply ``events``."""

    views: int
    events: int


def plan(write_client: Any, write_table: str, table: ProjectionTable) -> Plan:
    """Count what :func:`rebuild` would delete and apply; nothing is changed."""
    views = sum(1 for _ in view_keys(table))
    return Plan(views, sum(1 for _ in event_items(write_client, write_table)))


def rebuild(
    write_client: Any,
    write_table: str,
    table: ProjectionTable,
    progress: Progress | None = None,
) -> int:
    """Empty ``table``'s views and apply every event again; return how many were applied.

    Events are applied in each aggregate's version order, though any order would end
    the same: every builder is conditional on the version it carries.
    """
    items = sorted(
        event_items(write_client, write_table),
        key=lambda item: (item["aggregateType"], item["aggregateId"], int(item["version"])),
    )
    clear_views(table)
    for done, item in enumerate(items, start=1):
        builders.apply(events.from_item(item), table)
        if progress is not None:
            progress(done, len(items))
    return len(items)
