"""Stream plumbing moto lacks: a Lambda event source mapping, and global-table replication.

* :class:`StreamPoller` reads one region's write-table stream and invokes that region's
  stream handler with Lambda-shaped batches, retrying from the first failed record.
* :class:`Replicator` copies the primary's stream into every replica's write table
  after ``lag_ms``, as a global table would; each replica's own stream then feeds
  its own poller.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from domain import records

logger = logging.getLogger("gateway.streams")

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


class StreamReader:
    """Reads every shard of one stream from its start, remembering where it got to."""

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
                self._iterators[shard_id] = self._client.get_shard_iterator(
                    StreamArn=self.stream_arn,
                    ShardId=shard_id,
                    ShardIteratorType="TRIM_HORIZON",
                )["ShardIterator"]


class _Loop:
    """A daemon thread that calls ``step`` until stopped; waits, never sleeps blindly."""

    def __init__(self, name: str, interval: float) -> None:
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def step(self) -> float | None:
        """Do one round of work; return how long to wait before the next, if not the default."""
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                wait = self.step()
            except (BotoCoreError, ClientError):
                # The local cloud is stopping, or a fault was injected: try again later.
                logger.warning("%s: stream call failed", self._thread.name, exc_info=True)
                wait = self._interval * 10
            self._stop.wait(self._interval if wait is None else wait)


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
    """

    def __init__(
        self,
        region: str,
        reader: StreamReader,
        handler: Handler,
        interval: float = 0.02,
        max_attempts: int = 3,
        park: Callable[[dict[str, Any], int], None] | None = None,
    ) -> None:
        super().__init__(f"poller-{region}", interval)
        self.region = region
        self._reader = reader
        self._handler = handler
        self._max_attempts = max_attempts
        self.dead_letters: list[dict[str, Any]] = []
        self._park = park or (lambda record, _attempts: self.dead_letters.append(record))
        self.delivered = 0

    def step(self) -> float | None:
        batch = [self._lambda_record(raw) for raw in self._reader.read()]
        # The same filter the AWS event source mapping carries: event items only.
        batch = [record for record in batch if _is_event_record(record)]
        if batch:
            self.deliver(batch)
        return None

    def deliver(self, batch: list[dict[str, Any]]) -> None:
        """Invoke the handler until every record is applied or dead-lettered."""
        attempts = 0
        while batch:
            failed = self._invoke(batch)
            if failed is None:
                self.delivered += len(batch)
                return
            attempts += 1
            # Like Lambda for streams: everything from the first failure is sent again.
            self.delivered += failed
            batch = batch[failed:]
            if attempts >= self._max_attempts:
                poison = batch.pop(0)
                logger.error(
                    "%s: record %s failed %d times; moved to the dead-letter store",
                    self.region,
                    poison["dynamodb"]["SequenceNumber"],
                    attempts,
                )
                self._park(poison, attempts)
                attempts = 0

    def _invoke(self, batch: list[dict[str, Any]]) -> int | None:
        """Index of the first failed record, or None when all were applied."""
        try:
            answer = self._handler({"Records": batch}, None)
        except Exception:
            logger.exception("%s: stream handler failed on a whole batch", self.region)
            return 0
        failures = {item["itemIdentifier"] for item in answer.get("batchItemFailures", [])}
        for index, record in enumerate(batch):
            if record["dynamodb"]["SequenceNumber"] in failures:
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


class Replicator(_Loop):
    """Global-table replication from the primary's write table to the replicas'.

    Parameters
    ----------
    replicas
        ``(dynamodb client, table name)`` for each replica region.
    lag_ms
        How long each change waits before it lands in the replicas.
    """

    def __init__(
        self,
        reader: StreamReader,
        replicas: list[tuple[Any, str]],
        lag_ms: int = 0,
        interval: float = 0.02,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__("replicator", interval)
        self._reader = reader
        self._replicas = replicas
        self.lag_ms = lag_ms
        self._clock = clock
        self._pending: deque[tuple[float, dict[str, Any]]] = deque()
        self.replicated = 0

    def step(self) -> float | None:
        now = self._clock()
        for record in self._reader.read():
            self._pending.append((now + self.lag_ms / 1000, record))
        while self._pending and self._pending[0][0] <= self._clock():
            _, record = self._pending[0]
            self._apply(record)
            self._pending.popleft()
            self.replicated += 1
        if self._pending:
            return max(0.0, min(self._pending[0][0] - self._clock(), 0.05))
        return None

    @property
    def backlog(self) -> int:
        """Changes read from the primary and not yet in every replica."""
        return len(self._pending)

    def _apply(self, record: dict[str, Any]) -> None:
        change = record["dynamodb"]
        for client, table in self._replicas:
            if record["eventName"] == "REMOVE":
                client.delete_item(TableName=table, Key=change["Keys"])
            else:
                client.put_item(TableName=table, Item=change["NewImage"])


def _is_event_record(record: dict[str, Any]) -> bool:
    image = record.get("dynamodb", {}).get("NewImage", {})
    kind = image.get(records.RECORD_KIND, {}).get("S")
    return bool(kind == records.EVENT_RECORD)
