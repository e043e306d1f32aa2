"""Stream plumbing moto lacks: a Lambda event source mapping, and the loops under it.

* :class:`StreamReader` reads one stream from its start (or after a saved position),
  shard by shard.
* :class:`StreamPoller` reads one region's write-table stream and invokes that region's
  stream handler with Lambda-shaped batches, as the infra's event source mapping does:
  a failed record is retried from the first failure, a crashed invocation is split in
  two (``bisect_batch_on_error``), and a record that fails every attempt is parked.
* The global-table stand-in that feeds those streams is :mod:`emulator.cloud.replication`.

With a :class:`~emulator.cloud.positions.StreamPositions` (:meth:`StreamPoller.resume`), a
poller saves how far it got after each batch it settles, and after a restart starts
from there: the journal replays every stream record again, with the same sequence
numbers (:mod:`emulator.cloud.journal`). So what a restart hands it again is at most the
one batch it had in hand, which start-up applies before anyone can subscribe
(:func:`emulator.deployment.catch_up`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from domain import records
from emulator.chaos.faults import FaultRegistry
from emulator.cloud.positions import POLLER, StreamPositions

logger = logging.getLogger("gateway.streams")

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


class StreamReader:
    """Reads every shard of one stream from its start, remembering where it got to.

    :meth:`start_after` starts it after a sequence number instead: moto keeps one shard
    per stream, so one number says where a reader got to.
    """

    def __init__(
        self,
        streams_client: Any,
        stream_arn: str,
        rediscover_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = streams_client
        self.stream_arn = stream_arn
        self._iterators: dict[str, str | None] = {}
        self._rediscover_s = rediscover_s
        self._clock = clock
        self._discovered_at: float | None = None
        self._after: str | None = None

    def start_after(self, sequence: str | None) -> None:
        """Skip every record up to ``sequence`` (None: skip nothing); before the first read."""
        self._after = sequence

    def read(self, limit: int = 100) -> list[dict[str, Any]]:
        """The records written since the last read, oldest first, across shards."""
        now = self._clock()
        # Shards change rarely; asking on every poll would double the calls per poll.
        if self._discovered_at is None or now - self._discovered_at >= self._rediscover_s:
            self._discover_shards()
            self._discovered_at = now
        batch: list[dict[str, Any]] = []
        for shard_id, iterator in list(self._iterators.items()):
            if iterator is None:
                continue
            answer = self._client.get_records(ShardIterator=iterator, Limit=limit)
            self._iterators[shard_id] = answer.get("NextShardIterator")
            batch.extend(answer.get("Records", []))
        return batch

    def _discover_shards(self) -> None:
        description = self._client.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        for shard in description.get("Shards", []):
            shard_id = shard["ShardId"]
            if shard_id not in self._iterators:
                start: dict[str, str] = {"ShardIteratorType": "TRIM_HORIZON"}
                if self._after is not None:
                    start = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER"}
                    start["SequenceNumber"] = self._after
                self._iterators[shard_id] = self._client.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=shard_id, **start
                )["ShardIterator"]


class _Loop:
    """A daemon thread that calls ``step`` until stopped; waits, never sleeps blindly.

    A failing AWS call (an injected outage, or the cloud stopping) is logged once when
    the failures start and once when they end, not on every retry.
    """

    def __init__(self, name: str, interval: float) -> None:
        self.name = name
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._failures = 0

    def start(self) -> None:
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the loop to stop after its current step, without waiting for it."""
        self._stop.set()

    def stop(self, timeout: float = 5.0) -> None:
        self.request_stop()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def step(self) -> float | None:
        """Do one round of work; return how long to wait before the next, if not the default."""
        raise NotImplementedError

    def on_stop(self) -> None:
        """The last thing the loop's thread does, after its last step."""

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                wait = self.step()
            except (BotoCoreError, ClientError) as error:
                if not self._failures:
                    logger.warning("%s: an AWS call failed (%s); retrying", self.name, _why(error))
                self._failures += 1
                wait = self._interval * 10
            else:
                if self._failures:
                    logger.warning("%s: working again after %d failures", self.name, self._failures)
                    self._failures = 0
            self._stop.wait(self._interval if wait is None else wait)
        try:
            self.on_stop()
        except (BotoCoreError, ClientError) as error:
            logger.warning("%s: could not finish (%s)", self.name, _why(error))


class InjectedCrash(RuntimeError):
    """The stream handler invocation failed because a crash fault said so."""


_CRASHED = -1  # the invocation itself failed: no record of the batch is known applied


class StreamPoller(_Loop):
    """The event source mapping of one region: its stream into its stream handler.

    Parameters
    ----------
    handler
        The stream Lambda's handler; answers ``{"batchItemFailures": [...]}``.
    max_attempts
        Deliveries of a failing record before it is parked.
    park
        Where a record goes after ``max_attempts`` (the dead-letter store); by default
        ``dead_letters``, a list.
    faults
        The deployment's injected faults: a ``crash`` for this region fails the
        invocations it matches.
    clock
        Wall-clock seconds, to measure the projection lag against record times.
    """

    def __init__(
        self,
        region: str,
        reader: StreamReader,
        handler: Handler,
        interval: float = 0.02,
        max_attempts: int = 3,
        park: Callable[[dict[str, Any], int], None] | None = None,
        faults: FaultRegistry | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(f"poller-{region}", interval)
        self.region = region
        self._reader = reader
        self._handler = handler
        self._max_attempts = max_attempts
        self.dead_letters: list[dict[str, Any]] = []
        self._park = park or (lambda record, _attempts: self.dead_letters.append(record))
        self._faults = faults
        self._clock = clock
        self.delivered = 0
        # Read and not yet applied or parked: the records, and their creation times.
        self._carried: list[dict[str, Any]] = []
        self._unsettled: dict[str, float | None] = {}
        self._unsettled_lock = threading.Lock()
        # How far it read and has not saved yet (see resume).
        self._positions: StreamPositions | None = None
        self._reached: str | None = None

    def resume(self, positions: StreamPositions) -> None:
        """Save how far this poller got in ``positions``, and start after what it says."""
        self._positions = positions
        self._reader.start_after(positions.get(POLLER, self.region))

    def step(self) -> float | None:
        self.take()
        return None

    def take(self) -> int:
        """One step: read a batch unless one is carried, deliver, save how far it got;
        how many records it read (start-up drives this until the stream is read)."""
        read = 0 if self._carried else self._read()
        self._deliver_carried()
        self._save_position()
        return read

    def on_stop(self) -> None:
        self._save_position()

    def _read(self) -> int:
        raw_batch = self._reader.read()
        made = {_sequence(raw): created_at(raw) for raw in raw_batch}
        batch = [self._lambda_record(raw) for raw in raw_batch]
        # The same filter the AWS event source mapping carries: event items and heartbeats.
        self._carried = [record for record in batch if _passes_filter(record)]
        with self._unsettled_lock:
            self._unsettled = {
                _sequence(record): made[_sequence(record)] for record in self._carried
            }
        if raw_batch:
            self._reached = _sequence(raw_batch[-1])
        return len(raw_batch)

    def _deliver_carried(self) -> None:
        try:
            self.deliver(self._carried)
        finally:
            # A call that failed (parking, with the region down) loses nothing: what is
            # neither applied nor parked is delivered again first, on the next step.
            with self._unsettled_lock:
                self._carried = [r for r in self._carried if _sequence(r) in self._unsettled]

    def _save_position(self) -> None:
        """Save how far the poller got once all it read is settled (applied or parked)."""
        if self._positions is None or self._reached is None or self._carried:
            return
        self._positions.save(POLLER, self.region, self._reached)
        self._reached = None

    def lag(self) -> tuple[int, int]:
        """``(lag ms, backlog)``: the age of the oldest record read and not yet applied
        (0 when caught up), and how many such records there are."""
        with self._unsettled_lock:
            times = [at for at in self._unsettled.values() if at is not None]
            backlog = len(self._unsettled)
        if not times:
            return 0, backlog
        return max(0, round((self._clock() - min(times)) * 1000)), backlog

    def deliver(self, batch: list[dict[str, Any]]) -> None:
        """Invoke the handler until every record is applied or dead-lettered."""
        batch = list(batch)
        attempts = 0
        while batch:
            failed = self._invoke(batch)
            if failed is None:
                self._settle(batch)
                return
            if failed == _CRASHED and len(batch) > 1:
                # bisect_batch_on_error: each half is retried on its own, so one record
                # that crashes the handler cannot take its neighbours down with it.
                middle = len(batch) // 2
                self.deliver(batch[:middle])
                self.deliver(batch[middle:])
                return
            attempts += 1
            # Like Lambda for streams: everything from the first failure is sent again.
            failed = max(failed, 0)
            self._settle(batch[:failed])
            batch = batch[failed:]
            if attempts >= self._max_attempts:
                poison = batch.pop(0)
                logger.error(
                    "%s: record %s failed %d times; moved to the dead-letter store",
                    self.region,
                    _sequence(poison),
                    attempts,
                )
                self._park(poison, attempts)
                self._settle([poison], applied=False)
                attempts = 0

    def _settle(self, settled: list[dict[str, Any]], applied: bool = True) -> None:
        if applied:
            self.delivered += len(settled)
        with self._unsettled_lock:
            for record in settled:
                self._unsettled.pop(_sequence(record), None)

    def _invoke(self, batch: list[dict[str, Any]]) -> int | None:
        """Index of the first failed record, ``_CRASHED`` when the invocation failed,
        or None when all were applied."""
        try:
            crash = (
                self._faults.crash(self.region, map(_partition_key, batch))
                if self._faults
                else None
            )
            if crash is not None:
                raise InjectedCrash(f"injected by {crash.id} (match {crash.spec.match!r})")
            answer = self._handler({"Records": batch}, None)
        except InjectedCrash as error:
            logger.warning(
                "%s: stream handler crashed on %d records: %s", self.region, len(batch), error
            )
            return _CRASHED
        except Exception:
            logger.exception("%s: stream handler failed on a whole batch", self.region)
            return _CRASHED
        failures = {item["itemIdentifier"] for item in answer.get("batchItemFailures", [])}
        for index, record in enumerate(batch):
            if _sequence(record) in failures:
                return index
        return None

    def _lambda_record(self, raw: dict[str, Any]) -> dict[str, Any]:
        """The record as Lambda delivers it: with its source ARN, and the creation time
        in epoch seconds (boto3 parses it into a datetime; Lambda's event is JSON)."""
        change = dict(raw["dynamodb"])
        created = change.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            change["ApproximateCreationDateTime"] = int(created.timestamp())
        return {**raw, "dynamodb": change, "eventSourceARN": self._reader.stream_arn}


def created_at(raw: dict[str, Any]) -> float | None:
    """When a stream record's change was made, in epoch seconds (moto: to the ms)."""
    created = raw.get("dynamodb", {}).get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        return created.timestamp()
    if isinstance(created, int | float) and not isinstance(created, bool):
        return float(created)
    return None


def _sequence(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["SequenceNumber"])


def _partition_key(record: dict[str, Any]) -> str:
    change = record.get("dynamodb", {})
    image = change.get("NewImage") or change.get("Keys") or {}
    return str(image.get(records.PARTITION_KEY, {}).get("S", ""))


def _why(error: Exception) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "ClientError"))
    return type(error).__name__


def _passes_filter(record: dict[str, Any]) -> bool:
    image = record.get("dynamodb", {}).get("NewImage", {})
    kind = image.get(records.RECORD_KIND, {}).get("S")
    return kind in (records.EVENT_RECORD, records.HEARTBEAT_RECORD)
