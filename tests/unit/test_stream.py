"""The stream handler applies event items only: other items on the stream change nothing."""

from __future__ import annotations

import copy
from typing import Any

from projections import keys
from projections.stream import StreamProjector
from tests.fixtures import load_fixture

from .fakes import FakeProjectionTable, control_item


class RecordingPublisher:
    """Stands in for the region's AppSync API."""

    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    def product_changed(self, product: dict[str, Any]) -> None:
        self.published.append(product)

    def order_changed(self, order: dict[str, Any]) -> None:
        self.published.append(order)


def _control_record(event_name: str, sequence: str, mode: str) -> dict[str, Any]:
    """The control item as Lambda delivers it from the write table's stream."""
    record: dict[str, Any] = copy.deepcopy(load_fixture("events/stream_batch.json")["Records"][0])
    image = control_item("us-east-1", mode, 1)
    record["eventName"] = event_name
    record["dynamodb"]["Keys"] = {name: image[name] for name in (keys.PARTITION_KEY, keys.SORT_KEY)}
    record["dynamodb"]["NewImage"] = image
    record["dynamodb"]["SequenceNumber"] = sequence
    return record


def _project(batch: list[dict[str, Any]]) -> tuple[dict[str, Any], FakeProjectionTable, list[Any]]:
    table, publisher = FakeProjectionTable(), RecordingPublisher()
    answer = StreamProjector(table, publisher).handle({"Records": batch})
    return answer, table, publisher.published


def _views(table: FakeProjectionTable) -> dict[Any, dict[str, Any]]:
    # The progress item records when it was written; everything else must be equal.
    progress = (keys.progress_key()[keys.PARTITION_KEY], keys.progress_key()[keys.SORT_KEY])
    return {key: item for key, item in table.items.items() if key != progress}


def test_a_control_item_on_the_stream_is_skipped() -> None:
    """GIVEN a stream batch where the operator's control item (INSERT, then MODIFY to
    READ_ONLY) arrives around a product's three events WHEN the stream handler applies it
    THEN no record fails, and the views and publishes are exactly those of the product's
    events alone: the control item is neither projected nor published."""
    events_only: list[dict[str, Any]] = load_fixture("events/stream_batch.json")["Records"]
    with_control = [
        _control_record("INSERT", "90", "ACTIVE"),
        *events_only,
        _control_record("MODIFY", "91", "READ_ONLY"),
    ]

    answer, table, published = _project(with_control)
    _, expected_table, expected_published = _project(events_only)

    assert answer == {"batchItemFailures": []}
    assert _views(table) == _views(expected_table)
    assert published == expected_published
    assert len(published) == 3
    assert not any(pk == "CONTROL" for pk, _ in table.items)


def _as_modify(record: dict[str, Any], sequence: str) -> dict[str, Any]:
    """``record`` delivered again as a MODIFY: its event key written over by a later
    write, as a global table replicates the same key written in two regions."""
    modified = copy.deepcopy(record)
    modified["eventName"] = "MODIFY"
    modified["dynamodb"]["SequenceNumber"] = sequence
    return modified


def test_an_event_item_that_arrives_as_a_modify_is_projected() -> None:
    """GIVEN a product's three events, the last arriving as a MODIFY (after a forced
    failover, its key was written in the old primary too, and the later write replicated
    over the earlier) WHEN the stream handler applies the batch THEN the views and
    publishes are those of three inserts: the change is not lost."""
    events_only: list[dict[str, Any]] = load_fixture("events/stream_batch.json")["Records"]
    late = [*events_only[:2], _as_modify(events_only[2], "95")]

    answer, table, published = _project(late)
    _, expected_table, expected_published = _project(events_only)

    assert answer == {"batchItemFailures": []}
    assert _views(table) == _views(expected_table)
    assert published == expected_published


def test_a_modify_repeating_an_applied_event_changes_no_view() -> None:
    """GIVEN a product's three events, then the third again as a MODIFY WHEN applied THEN
    the views are those of the three events (each version is applied once), and
    subscribers hear the third version again, unchanged: at least once, as for any
    redelivered record."""
    events_only: list[dict[str, Any]] = load_fixture("events/stream_batch.json")["Records"]

    answer, table, published = _project([*events_only, _as_modify(events_only[2], "96")])
    _, expected_table, expected_published = _project(events_only)

    assert answer == {"batchItemFailures": []}
    assert _views(table) == _views(expected_table)
    assert published == [*expected_published, expected_published[-1]]
