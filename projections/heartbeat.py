"""The replication and stream heartbeat: proof, per region, that changes still flow.

DynamoDB's ``ReplicationLatency`` and the stream consumer's ``IteratorAge`` are measured
on changes that flow; when nothing is written, a stalled replication or stream sends no
data and looks healthy. So each region writes a heartbeat into its own replica of the
write table on a schedule (:func:`handler`: an EventBridge rule each minute on AWS, a
background task in ``gateway dev``). The global table carries it to every region, and
each region's stream handler, seeing every region's heartbeat, puts its age as the
``HeartbeatAge`` metric (dimension ``SourceRegion``) and keeps the newest one it saw in
the projection table (:func:`record_seen`), where ``gateway status`` reads how old it is
(:func:`ages`). One alarm per source region fires when the age passes its threshold or
no heartbeat arrives at all.

The item's layout is :func:`domain.records.heartbeat_key`'s. A Lambda code path:
boto3 and the standard library.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from domain import records
from projections import keys
from projections.settings import Settings
from projections.table import ProjectionTable, encode


class Heartbeat(NamedTuple):
    """One region's heartbeat: who wrote it, and when (AWSDateTime, to the ms)."""

    region: str
    written_at: str

    @classmethod
    def now(cls, region: str, at: datetime | None = None) -> Heartbeat:
        at = datetime.now(UTC) if at is None else at
        return cls(region, at.isoformat(timespec="milliseconds").replace("+00:00", "Z"))

    @classmethod
    def from_image(cls, image: dict[str, Any]) -> Heartbeat | None:
        """The heartbeat a stream image holds, or None for any other item (or one whose
        fields are not what a writer puts: nobody else writes these keys)."""
        if not records.is_heartbeat_item(image):
            return None
        region = image.get(records.HEARTBEAT_REGION)
        written_at = image.get(records.HEARTBEAT_WRITTEN_AT)
        if not isinstance(region, str) or not isinstance(written_at, str):
            return None
        try:
            datetime.fromisoformat(written_at)
        except ValueError:
            return None
        return cls(region, written_at)

    @property
    def written_ms(self) -> int:
        return round(datetime.fromisoformat(self.written_at).timestamp() * 1000)

    def age_ms(self, now_s: float | None = None) -> int:
        """How long ago it was written (0 if the writer's clock is ahead of ours)."""
        now_ms = (time.time() if now_s is None else now_s) * 1000
        return max(0, round(now_ms - self.written_ms))

    def to_item(self) -> dict[str, Any]:
        return {
            **records.heartbeat_key(self.region),
            records.RECORD_KIND: records.HEARTBEAT_RECORD,
            records.HEARTBEAT_REGION: self.region,
            records.HEARTBEAT_WRITTEN_AT: self.written_at,
        }


def beat(client: Any, write_table: str, region: str) -> Heartbeat:
    """Put ``region``'s heartbeat into its own replica of the write table, now."""
    heartbeat = Heartbeat.now(region)
    client.put_item(TableName=write_table, Item=encode(heartbeat.to_item()))
    return heartbeat


def record_seen(table: ProjectionTable, heartbeat: Heartbeat, now_s: float | None = None) -> bool:
    """Keep ``heartbeat`` as the newest seen from its region, unless a newer one is kept
    already (a redelivered or late record changes nothing); True if it was kept."""
    now_s = time.time() if now_s is None else now_s
    seen_at = datetime.fromtimestamp(now_s, UTC).isoformat(timespec="milliseconds")
    item = {
        **keys.heartbeat_seen_key(heartbeat.region),
        records.HEARTBEAT_WRITTEN_AT: heartbeat.written_at,
        "seenAt": seen_at.replace("+00:00", "Z"),
        "ageMs": heartbeat.age_ms(now_s),
    }
    return table.put_if_newer({**item, "version": heartbeat.written_ms}, heartbeat.written_ms)


def ages(
    table: ProjectionTable, sources: Sequence[str], now_s: float | None = None
) -> dict[str, int | None]:
    """For each source region, how old the newest of its heartbeats this region's stream
    handler saw is, in ms (None: none seen yet). It keeps growing while replication or
    the stream is stalled, which is what an operator looks for."""
    now_s = time.time() if now_s is None else now_s
    seen = table.get_many([keys.heartbeat_seen_key(source) for source in sources])
    found: dict[str, int | None] = {}
    for source, item in zip(sources, seen, strict=True):
        written_at = None if item is None else item.get(records.HEARTBEAT_WRITTEN_AT)
        found[source] = (
            Heartbeat(source, written_at).age_ms(now_s) if isinstance(written_at, str) else None
        )
    return found


_settings: Settings | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    """Lambda entry point (the scheduled rule's target): one beat of this region."""
    global _settings
    if _settings is None:
        _settings = Settings.from_env()
    settings = _settings
    heartbeat = beat(settings.dynamodb(settings.region), settings.write_table, settings.region)
    return {"region": heartbeat.region, "writtenAt": heartbeat.written_at}
