"""``gateway dlq list|redrive``: the stream batches a region's consumer gave up on.

A letter is a batch (:mod:`cli.dead_letters`). ``list`` shows each one: its shard, its
sequence range, its size, when it failed, and the items of its records, read again from
the stream, or from the write table once the stream has trimmed them. ``redrive``
applies those records with the stream handler's own code (:mod:`projections.stream`),
which skips what a view already holds and tells subscribers of what it applies, then
deletes the letter; a letter that fails again, or that is no stream batch, stays.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol, TextIO

from cli.dead_letters import (
    HOLD_S,
    LIST_HOLD_S,
    BatchInfo,
    DeadLetter,
    DeadLetterQueue,
    WrittenEvents,
    read_batch,
)
from cli.stream_records import describe, lambda_record, replayed_record
from cli.targets import Target
from domain import records

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


class Store(Protocol):
    """Where a region's dead letters wait."""

    def letters(self, hold_s: int = LIST_HOLD_S) -> list[DeadLetter]:
        """Every letter, hidden from other readers for ``hold_s``."""

    def release(self, letter: DeadLetter) -> None:
        """Keep the letter, readable again at once."""

    def delete(self, letter: DeadLetter) -> None:
        """Forget the letter: it is applied."""

    def count(self) -> int:
        """How many letters wait."""


class Found(NamedTuple):
    """A letter's records, and where they were found."""

    records: list[dict[str, Any]]
    source: str  # "stream", "write table" or "store"
    window: tuple[datetime, datetime] | None = None


class Region:
    """One region's dead letters, and the way back to their records."""

    def __init__(self, target: Target, region: str) -> None:
        resources = target.resources[region]
        self.name = region
        self.store = store_of(target, region)
        self._streams = target.client("dynamodbstreams", region)
        self._events = WrittenEvents(target.dynamodb(region), resources.write_table)
        self._stream_arn = resources.write_stream_arn or ""

    def records_of(self, letter: DeadLetter) -> Found:
        """The letter's records as the consumer got them, from wherever they still are."""
        batch = letter.batch
        assert batch is not None
        if letter.held is not None:
            return Found(letter.held, "store")
        again = read_batch(self._streams, batch, letter.failed_at)
        if again:
            return Found([lambda_record(r, self.name, batch.stream_arn) for r in again], "stream")
        since, until = self._events.window(batch)
        replayed = [
            replayed_record(item, position, self.name, batch.stream_arn or self._stream_arn)
            for position, item in enumerate(self._events.between(since, until), start=1)
        ]
        return Found(replayed, "write table", (since, until))


def store_of(target: Target, region: str) -> Store:
    """The region's queue; for a ``gateway dev`` that names none, its own table."""
    url = target.resources[region].dead_letter_queue_url
    if url is not None:
        return DeadLetterQueue(target.client("sqs", region), url, 0 if target.is_local else 1)
    if not target.is_local:
        raise AssertionError("every stage names its dead-letter queue")
    return _LocalTable(target.dynamodb(region), region)


def list_letters(region: Region, out: TextIO, now: datetime | None = None) -> int:
    """Print the region's letters; how many there are."""
    letters = region.store.letters(LIST_HOLD_S)
    try:
        print(f"{region.name}: {len(letters)} dead letters", file=out)
        for letter in letters:
            _print_letter(region, letter, out, now or datetime.now(UTC))
    finally:
        for letter in letters:
            region.store.release(letter)
    return len(letters)


def redrive(region: Region, handle: Handler, err: TextIO) -> tuple[int, int]:
    """Apply every letter again; ``(applied, still failing)``."""
    applied = failing = 0
    for letter in region.store.letters(HOLD_S):
        done = _redrive_one(region, letter, handle, err)
        if done:
            region.store.delete(letter)
            applied += 1
        else:
            region.store.release(letter)
            failing += 1
    return applied, failing


def _redrive_one(region: Region, letter: DeadLetter, handle: Handler, err: TextIO) -> bool:
    if letter.batch is None:
        why = f"not a stream batch ({letter.problem})"
        print(f"  {letter.message_id}: left in place, {why}", file=err)
        return False
    found = region.records_of(letter)
    if not found.records:
        print(
            f"  {letter.message_id}: its records are gone from the stream and no event was "
            "written in its window; left in place (rebuild the projections to repair)",
            file=err,
        )
        return False
    ok = _apply(handle, found.records)
    what = "applied" if ok else "failed again; left in place"
    print(
        f"  {letter.message_id}: {len(found.records)} records from the {found.source}, {what}",
        file=err,
    )
    return ok


def _apply(handle: Handler, batch: list[dict[str, Any]]) -> bool:
    try:
        answer = handle({"Records": batch}, None)
    except Exception:  # the handler raises when every record of a batch failed
        return False
    return not answer.get("batchItemFailures")


def _print_letter(region: Region, letter: DeadLetter, out: TextIO, now: datetime) -> None:
    failed = _when(letter.failed_at, now)
    batch = letter.batch
    if batch is None:
        print(f"  {letter.message_id}  not a stream batch: {letter.problem}  ({failed})", file=out)
        return
    span = batch.start if batch.start == batch.end else f"{batch.start}..{batch.end}"
    print(
        f"  {letter.message_id}  shard {batch.shard_id}  sequence {span}  "
        f"{batch.size} records  {failed} ({letter.condition})",
        file=out,
    )
    found = region.records_of(letter)
    if found.window is not None:
        since, until = (_stamp(moment) for moment in found.window)
        print(
            f"    not in the stream any more: redrive replays the {len(found.records)} events "
            f"written {since} to {until}, from the write table",
            file=out,
        )
    for record in found.records:
        if records.is_event_item(_kind(record)):
            print(f"    {describe(record)}", file=out)


def _kind(record: dict[str, Any]) -> dict[str, Any]:
    image = record.get("dynamodb", {}).get("NewImage", {})
    return {records.RECORD_KIND: image.get(records.RECORD_KIND, {}).get("S")}


def _when(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "failed at an unknown time"
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 120:
        age = f"{seconds} s"
    elif seconds < 7200:
        age = f"{seconds // 60} min"
    else:
        age = f"{seconds // 3600} h"
    return f"failed {_stamp(moment)}, {age} ago"


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class _LocalTable:
    """A ``gateway dev`` that keeps its dead letters in a table of its own
    (:mod:`emulator.cloud.deadletters`): each letter one record, held in full."""

    def __init__(self, client: Any, region: str) -> None:
        from emulator.cloud.deadletters import DeadLetters

        self._table = DeadLetters(client, region)
        self._kept: dict[str, Any] = {}

    def letters(self, hold_s: int = LIST_HOLD_S) -> list[DeadLetter]:
        kept = {letter.sequence_number: letter for letter in self._table.list()}
        self._kept = kept
        return [self._letter(letter) for letter in kept.values()]

    def release(self, letter: DeadLetter) -> None:
        """Nothing hides a row of the table."""

    def delete(self, letter: DeadLetter) -> None:
        self._table.remove(self._kept[letter.message_id])

    def count(self) -> int:
        return len(self._table.list())

    @staticmethod
    def _letter(letter: Any) -> DeadLetter:
        record, sequence = letter.record, letter.sequence_number
        failed = datetime.fromisoformat(letter.failed_at)
        made = record.get("dynamodb", {}).get("ApproximateCreationDateTime")
        arrived = datetime.fromtimestamp(made, UTC) if isinstance(made, int | float) else failed
        batch = BatchInfo(
            "local", sequence, sequence, arrived, arrived, 1, record.get("eventSourceARN", "")
        )
        return DeadLetter(
            sequence, None, failed, f"failed {letter.attempts} times", batch, held=[record]
        )
