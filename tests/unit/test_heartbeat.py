"""The heartbeat: written per region, measured by every region's stream handler."""

from __future__ import annotations

import copy
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from boto3.dynamodb.types import TypeSerializer

from domain import records
from projections import heartbeat, keys
from projections.heartbeat import Heartbeat
from projections.observability import HEARTBEAT_AGE, SOURCE_REGION, Observability
from projections.stream import SERVICE, StreamProjector
from tests.fixtures import load_fixture

from .fakes import FakeProjectionTable

_serializer = TypeSerializer()


class NobodyListening:
    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    def product_changed(self, product: dict[str, Any]) -> None:
        self.published.append(product)

    def order_changed(self, order: dict[str, Any]) -> None:
        self.published.append(order)


class RecordingClient:
    """A DynamoDB client that keeps what was put."""

    def __init__(self) -> None:
        self.puts: list[dict[str, Any]] = []

    def put_item(self, **request: Any) -> dict[str, Any]:
        self.puts.append(request)
        return {}


def _written(seconds_ago: float) -> str:
    at = datetime.now(UTC) - timedelta(seconds=seconds_ago)
    return Heartbeat.now("x", at).written_at


def _heartbeat_record(region: str, written_at: str, sequence: str) -> dict[str, Any]:
    """A region's heartbeat as Lambda delivers it from the write table's stream: the
    global table rewrote the one item, so a MODIFY."""
    record: dict[str, Any] = copy.deepcopy(load_fixture("events/stream_batch.json")["Records"][0])
    image = {
        name: _serializer.serialize(value)
        for name, value in Heartbeat(region, written_at).to_item().items()
    }
    record["eventName"] = "MODIFY"
    record["dynamodb"]["Keys"] = {name: image[name] for name in (keys.PARTITION_KEY, keys.SORT_KEY)}
    record["dynamodb"]["NewImage"] = image
    record["dynamodb"]["SequenceNumber"] = sequence
    return record


def _project(
    batch: list[dict[str, Any]], table: FakeProjectionTable | None = None
) -> tuple[dict[str, Any], FakeProjectionTable, list[dict[str, Any]], NobodyListening]:
    table = table or FakeProjectionTable()
    publisher, emitted = NobodyListening(), []
    projector = StreamProjector(table, publisher, Observability(SERVICE, emf_sink=emitted.append))
    answer = projector.handle({"Records": batch})
    return answer, table, emitted, publisher


def _heartbeat_metrics(emitted: list[dict[str, Any]]) -> dict[str, float]:
    return {
        blob[SOURCE_REGION]: blob[HEARTBEAT_AGE][0] for blob in emitted if HEARTBEAT_AGE in blob
    }


def test_every_regions_heartbeat_is_measured_beside_the_events() -> None:
    """GIVEN a batch holding the product's events and two regions' heartbeats, written
    2 s and 5 s ago WHEN the stream handler applies it THEN no record fails, the events
    are projected and published as alone, and each heartbeat's age goes out as
    HeartbeatAge with its SourceRegion, in a metric set of its own."""
    events_only: list[dict[str, Any]] = load_fixture("events/stream_batch.json")["Records"]
    batch = [
        _heartbeat_record("us-east-1", _written(2), "80"),
        *events_only,
        _heartbeat_record("eu-west-1", _written(5), "81"),
    ]

    answer, table, emitted, publisher = _project(batch)

    assert answer == {"batchItemFailures": []}
    assert len(publisher.published) == 3
    ages = _heartbeat_metrics(emitted)
    assert sorted(ages) == ["eu-west-1", "us-east-1"]
    assert 2000 <= ages["us-east-1"] < 4000
    assert 5000 <= ages["eu-west-1"] < 7000
    for blob in emitted:
        dimensions = blob["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]
        assert (SOURCE_REGION in dimensions) == (HEARTBEAT_AGE in blob), blob
    assert all(not pk.startswith(records.HEARTBEAT_RECORD) for pk, _ in table.items)


def test_the_newest_heartbeat_seen_is_kept_and_a_late_one_changes_nothing() -> None:
    """GIVEN us-east-1's heartbeat of 1 s ago was seen WHEN an older one (a redelivered
    record) arrives after it THEN the kept one stays the newest: status reports its age,
    about 1 s, not the late one's."""
    table = FakeProjectionTable()
    _project([_heartbeat_record("us-east-1", _written(1), "90")], table)
    _project([_heartbeat_record("us-east-1", _written(30), "91")], table)

    found = heartbeat.ages(table, ["us-east-1", "eu-west-1"])

    assert found["eu-west-1"] is None
    assert found["us-east-1"] is not None
    assert 1000 <= found["us-east-1"] < 3000


def test_the_age_status_reads_keeps_growing_while_no_heartbeat_arrives() -> None:
    """GIVEN a heartbeat seen once WHEN nothing newer arrives (replication is paused) THEN
    the age status reports grows with the clock: a stall shows, it does not freeze."""
    table = FakeProjectionTable()
    _project([_heartbeat_record("us-east-1", _written(0), "92")], table)
    now = time.time()

    soon = heartbeat.ages(table, ["us-east-1"], now_s=now + 1)["us-east-1"]
    later = heartbeat.ages(table, ["us-east-1"], now_s=now + 61)["us-east-1"]

    assert soon is not None and later is not None
    assert later - soon == 60_000


def test_a_heartbeat_that_is_not_well_formed_is_skipped() -> None:
    """GIVEN an item marked HEARTBEAT whose writtenAt is not a time WHEN it arrives THEN
    nothing fails and nothing is measured: nothing but the writer puts these keys."""
    record = _heartbeat_record("us-east-1", _written(1), "93")
    record["dynamodb"]["NewImage"][records.HEARTBEAT_WRITTEN_AT] = {"S": "yesterday"}

    answer, table, emitted, _ = _project([record])

    assert answer == {"batchItemFailures": []}
    assert _heartbeat_metrics(emitted) == {}
    assert heartbeat.ages(table, ["us-east-1"]) == {"us-east-1": None}


def test_a_beat_puts_the_regions_one_heartbeat_item_into_its_own_replica() -> None:
    """GIVEN eu-west-1's writer WHEN it beats THEN it puts one item, keyed by its region,
    marked HEARTBEAT, with the time it was written: the item the stream filter passes."""
    client = RecordingClient()

    written = heartbeat.beat(client, "gateway-write-test", "eu-west-1")

    [put] = client.puts
    assert put["TableName"] == "gateway-write-test"
    assert put["Item"]["pk"] == {"S": "HEARTBEAT#eu-west-1"}
    assert put["Item"][records.RECORD_KIND] == {"S": records.HEARTBEAT_RECORD}
    assert put["Item"][records.HEARTBEAT_WRITTEN_AT] == {"S": written.written_at}
    assert written.age_ms() < 1000
