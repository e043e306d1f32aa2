"""The stream handler: the write table's stream in, this region's projections out.

The same code runs as the stream Lambda on AWS and inside ``gateway dev``, which
feeds it real stream records read from moto. Failed records are reported as
batch-item failures, so the records after a bad one are still applied.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)

from domain import events, records
from domain.customers import Customer
from domain.orders import Order
from domain.products import Product
from projections import builders, keys
from projections.publish import AppSyncPublisher, Publisher
from projections.settings import Settings
from projections.table import ProjectionTable


class StreamProjector:
    """Applies one region's stream batches; one instance per region (per Lambda).

    Parameters
    ----------
    table
        This region's projection table.
    publisher
        Tells this region's subscribers after a view changed.
    """

    def __init__(self, table: ProjectionTable, publisher: Publisher) -> None:
        self._table = table
        self._publisher = publisher
        self._processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
        self._newest_applied: str | None = None

    def handle(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        """The Lambda handler body: apply a batch, report the records that failed."""
        self._newest_applied = None
        response = process_partial_response(
            event=event,
            record_handler=self._apply_record,
            processor=self._processor,
            context=context,
        )
        if self._newest_applied is not None:
            self._record_progress(self._newest_applied)
        return dict(response)

    def _apply_record(self, record: DynamoDBRecord) -> None:
        if record.event_name not in (
            DynamoDBRecordEventName.INSERT,
            DynamoDBRecordEventName.MODIFY,
        ):
            return
        image = record.dynamodb.new_image if record.dynamodb else None
        if not image or not records.is_event_item(image):
            return
        event = events.from_item(image)
        if builders.apply(event, self._table):
            self._publish(events.aggregate_of(event))
        occurred_at = events.occurred_at(event)
        if self._newest_applied is None or occurred_at > self._newest_applied:
            self._newest_applied = occurred_at

    def _publish(self, aggregate: Product | Customer | Order) -> None:
        # Customers have no subscription; their changes reach clients inside orders.
        if isinstance(aggregate, Product):
            self._publisher.product_changed(aggregate.to_data())
        elif isinstance(aggregate, Order):
            self._publisher.order_changed(aggregate.to_data())

    def _record_progress(self, occurred_at: str) -> None:
        # Lag is measured from the write in the primary to the projection here, so it
        # includes replication: it is what a reader in this region experiences.
        now_ms = int(time.time() * 1000)
        occurred_ms = int(datetime.fromisoformat(occurred_at).timestamp() * 1000)
        self._table.put(
            {
                **keys.progress_key(),
                "lastEventAt": occurred_at,
                "projectedAt": datetime.now(UTC)
                .isoformat(timespec="milliseconds")
                .replace("+00:00", "Z"),
                "lagMs": max(0, now_ms - occurred_ms),
            }
        )


def build_projector(settings: Settings, credentials: Any) -> StreamProjector:
    """Wire a projector for the region ``settings`` names; the emulator calls this too."""
    if not settings.appsync_url:
        raise RuntimeError("GATEWAY_APPSYNC_URL must name this region's GraphQL endpoint")
    table = ProjectionTable(settings.dynamodb(settings.region), settings.projection_table)
    publisher = AppSyncPublisher(settings.appsync_url, settings.region, credentials)
    return StreamProjector(table, publisher)


_projector: StreamProjector | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point: settings are read once, on the first invocation."""
    global _projector
    if _projector is None:
        import boto3

        _projector = build_projector(Settings.from_env(), boto3.Session().get_credentials())
    return _projector.handle(event, context)
