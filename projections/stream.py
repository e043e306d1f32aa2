"""The stream handler: the write table's stream in, this region's projections out.

The same code runs as the stream Lambda on AWS and inside ``gateway dev``, which
feeds it real stream records read from moto. Besides event items, it sees every
region's heartbeat, and measures how old each is when it arrives
(:mod:`projections.heartbeat`). Failed records are reported as
batch-item failures, so the records after a bad one are still applied. Each record logs
``projected`` (and ``published``) with its write's correlation id, and its lags go out
as EMF (:mod:`projections.observability`).
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
    StreamRecord,
)

from domain import events, records
from domain.customers import Customer
from domain.orders import Order
from domain.products import Product
from projections import builders, keys
from projections.heartbeat import Heartbeat, record_seen
from projections.observability import Observability, StreamBatch
from projections.publish import PUBLISH_ORDER, PUBLISH_PRODUCT, AppSyncPublisher, Publisher
from projections.settings import Settings
from projections.table import ProjectionTable

SERVICE = "gateway-projections"


class StreamProjector:
    """Applies one region's stream batches; one instance per region (per Lambda).

    Parameters
    ----------
    table
        This region's projection table.
    publisher
        Tells this region's subscribers after a view changed.
    observability
        The Lambda's logger and metrics; ``gateway dev`` passes each region's own.
    """

    def __init__(
        self,
        table: ProjectionTable,
        publisher: Publisher,
        observability: Observability | None = None,
    ) -> None:
        self._table = table
        self._publisher = publisher
        self._observability = observability or Observability(SERVICE)
        self._processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
        self._newest_applied: str | None = None

    def handle(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        """The Lambda handler body: apply a batch, report the records that failed."""
        self._newest_applied = None
        with self._observability.stream_batch() as batch:
            response = process_partial_response(
                event=event,
                record_handler=lambda record: self._apply_record(record, batch),
                processor=self._processor,
                context=context,
            )
        if self._newest_applied is not None:
            self._record_progress(self._newest_applied)
        return dict(response)

    def _apply_record(self, record: DynamoDBRecord, batch: StreamBatch) -> None:
        if record.event_name not in (
            DynamoDBRecordEventName.INSERT,
            DynamoDBRecordEventName.MODIFY,
        ):
            return
        change = record.dynamodb
        image = change.new_image if change else None
        if change is None or not image:
            return
        heartbeat = Heartbeat.from_image(image)
        if heartbeat is not None:
            self._heartbeat_seen(heartbeat, batch)
            return
        if not records.is_event_item(image):
            return
        event = events.from_item(image)
        aggregate = events.aggregate_of(event)
        occurred_at = events.occurred_at(event)
        facts = {"event_type": type(event).__name__, "aggregate_id": aggregate.id}
        with batch.record(event.correlation_id, **facts, version=aggregate.version):
            applied = builders.apply(event, self._table)
            batch.projected(applied, *lags(_created_s(change), occurred_at))
            mutation = self._publish(aggregate) if applied else None
            if mutation is not None:
                batch.published(mutation)
        if self._newest_applied is None or occurred_at > self._newest_applied:
            self._newest_applied = occurred_at

    def _heartbeat_seen(self, heartbeat: Heartbeat, batch: StreamBatch) -> None:
        """Measure a region's heartbeat (:mod:`projections.heartbeat`): its age goes out as
        a metric, and it is kept as the newest seen from its region."""
        batch.heartbeat(heartbeat.region, heartbeat.age_ms())
        record_seen(self._table, heartbeat)

    def _publish(self, aggregate: Product | Customer | Order) -> str | None:
        """Tell this region's subscribers; the publish mutation used, if any."""
        # Customers have no subscription; their changes reach clients inside orders.
        if isinstance(aggregate, Product):
            self._publisher.product_changed(aggregate.to_data())
            return PUBLISH_PRODUCT
        if isinstance(aggregate, Order):
            self._publisher.order_changed(aggregate.to_data())
            return PUBLISH_ORDER
        return None

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


def _created_s(change: StreamRecord) -> float | None:
    """The record's creation time in epoch seconds: a number in Lambda's event, a
    datetime in a record read with boto3 (which some callers replay)."""
    created = change.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        return created.timestamp()
    if isinstance(created, int | float) and not isinstance(created, bool):
        return float(created)
    return None


def lags(created_s: float | None, occurred_at: str, now_s: float | None = None) -> tuple[int, int]:
    """``(projection lag, replication lag)`` in ms for a record applied at ``now_s``.

    Projection lag runs from the stream record's creation in this region, replication
    lag from the write in the primary (``occurred_at``) to that creation. The stream
    gives its creation time rounded down to the second; a record cannot be created
    before its write, so the write's time (to the ms) bounds it from below. The two add
    up to the write's whole age here; where they split is known to within a second.
    """
    now_ms = (time.time() if now_s is None else now_s) * 1000
    occurred_ms = datetime.fromisoformat(occurred_at).timestamp() * 1000
    created_ms = occurred_ms if created_s is None else max(created_s * 1000, occurred_ms)
    return max(0, round(now_ms - created_ms)), max(0, round(created_ms - occurred_ms))


def build_projector(
    settings: Settings, credentials: Any, observability: Observability | None = None
) -> StreamProjector:
    """Wire a projector for the region ``settings`` names; the emulator calls this too,
    with each region's own ``observability``."""
    if not settings.appsync_url:
        raise RuntimeError("GATEWAY_APPSYNC_URL must name this region's GraphQL endpoint")
    table = ProjectionTable(settings.dynamodb(settings.region), settings.projection_table)
    publisher = AppSyncPublisher(settings.appsync_url, settings.region, credentials)
    observability = observability or Observability.for_lambda(SERVICE, settings)
    return StreamProjector(table, publisher, observability)


_projector: StreamProjector | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point: settings are read once, on the first invocation."""
    global _projector
    if _projector is None:
        import boto3

        _projector = build_projector(Settings.from_env(), boto3.Session().get_credentials())
    return _projector.handle(event, context)
