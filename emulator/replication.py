"""The global-table stand-in: every region's write table copied into every other's.

moto has no global tables, so each region has its own write table with a stream, and
:class:`Replicator` does what DynamoDB's replication does: each change made in any
region (a command in the primary, the control record an operator put anywhere) lands
in every other region after the replication lag, and nothing is ever dropped.

* Each region has its own loop (:class:`_RegionLink`): it reads that region's stream
  and hands every change to the other regions' inboxes, then applies its own inbox to
  its own table. A region that fails or hangs (an injected outage) holds up only its
  own loop; its inbox waits, in order, and is applied once it answers again.
* Loop guard: a link remembers the image of every change it writes into its own table
  (its *echoes*) and skips each one when it comes back on that table's stream, so a
  change copied A -> B is never copied B -> A. Remembering beats comparing with what
  the table holds: a comparison costs a read per record and per region, and a stale
  echo could overwrite a newer change in the region it came from. A delete of an item
  that is not there makes no stream record, so its echo is forgotten at once.
* Faults (:mod:`emulator.faults`): ``replication-pause`` applies nothing (changes keep
  arriving in the inboxes), ``replication-lag`` replaces the configured lag.

Concurrent writes of ONE item in two regions within the lag may end different in each
region: DynamoDB settles them last-writer-wins, which this stand-in does not do. The
gateway writes aggregates in the primary alone, under an epoch fence.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from botocore.exceptions import BotoCoreError, ClientError

from emulator.faults import FaultRegistry
from emulator.streams import StreamReader, _Loop, created_at

MAX_WAIT_S = 0.05


@dataclass(frozen=True)
class ReplicaTable:
    """One region's replica of the write table: its stream, and a client to write it."""

    region: str
    reader: StreamReader
    client: Any
    table: str


class ReplicationLag(NamedTuple):
    """How far one region's replica is behind: the age of the oldest change not yet
    applied there (0 when caught up), and how many are waiting."""

    lag_ms: int
    backlog: int


class _Change(NamedTuple):
    source: str
    made_at: float  # epoch seconds, when its source region took it
    record: dict[str, Any]


class Replicator:
    """Replication between every pair of regions; see the module docstring.

    Parameters
    ----------
    replicas
        Every region's replica, in the deployment's order.
    lag_ms
        How long a change waits before it lands in the other regions, unless a
        ``replication-lag`` fault says otherwise.
    clock
        Wall-clock seconds: changes carry their stream's creation time.
    """

    def __init__(
        self,
        replicas: list[ReplicaTable],
        lag_ms: int = 0,
        interval: float = 0.02,
        clock: Callable[[], float] = time.time,
        faults: FaultRegistry | None = None,
    ) -> None:
        self.lag_ms = lag_ms
        self._clock = clock
        self._faults = faults
        self._links = {replica.region: _RegionLink(self, replica, interval) for replica in replicas}

    def start(self) -> None:
        for link in self._links.values():
            link.start()

    def request_stop(self) -> None:
        for link in self._links.values():
            link.request_stop()

    def stop(self) -> None:
        self.request_stop()
        for link in self._links.values():
            link.stop()

    def step(self) -> None:
        """One round for every region, in one thread: what tests drive instead of
        :meth:`start`. Every stream is read before any table is written; a region that
        fails holds up only itself, and its error is raised after the round."""
        failures: list[Exception] = []
        for phase in (_RegionLink.collect, _RegionLink.apply):
            for link in self._links.values():
                try:
                    phase(link)
                except (BotoCoreError, ClientError) as error:
                    failures.append(error)
        if failures:
            raise failures[0]

    def lag(self) -> dict[str, ReplicationLag]:
        """Each region's replica's lag."""
        now = self._clock()
        return {region: link.lag(now) for region, link in self._links.items()}

    def lag_by_source(self) -> dict[str, dict[str, ReplicationLag]]:
        """Each region's replica's lag behind each other region: what it would never
        get if that region were lost now."""
        now = self._clock()
        return {
            region: {source: link.lag(now, source) for source in self._links if source != region}
            for region, link in self._links.items()
        }

    @property
    def backlog(self) -> int:
        """Changes read from some region and not yet in every other."""
        return sum(lag.backlog for lag in self.lag().values())

    @property
    def paused(self) -> bool:
        return self._faults is not None and self._faults.replication_paused()

    def effective_lag_ms(self) -> int:
        """The lag in force: a ``replication-lag`` fault's, else the configured one."""
        return self._faults.replication_lag_ms(self.lag_ms) if self._faults else self.lag_ms

    def _send(self, source: str, change: _Change) -> None:
        for region, link in self._links.items():
            if region != source:
                link.receive(change)


class _RegionLink(_Loop):
    """One region's side of replication: its stream out, its inbox in."""

    def __init__(self, replicator: Replicator, replica: ReplicaTable, interval: float) -> None:
        super().__init__(f"replicator-{replica.region}", interval)
        self._replicator = replicator
        self._replica = replica
        self._inbox: deque[_Change] = deque()
        self._inbox_lock = threading.Lock()
        # Fingerprints of what this link wrote and its stream has not shown yet. Only
        # this link's thread touches them: it both writes the table and reads its stream.
        self._echoes: Counter[str] = Counter()

    def step(self) -> float | None:
        self.collect()
        return self.apply()

    def receive(self, change: _Change) -> None:
        with self._inbox_lock:
            self._inbox.append(change)

    def collect(self) -> None:
        """Read this region's stream; hand its own changes to every other region."""
        for record in self._replica.reader.read():
            fingerprint = _fingerprint(record)
            if fingerprint in self._echoes:
                self._forget(fingerprint)
                continue
            made_at = created_at(record)
            made_at = self._replicator._clock() if made_at is None else made_at
            change = _Change(self._replica.region, made_at, record)
            self._replicator._send(self._replica.region, change)

    def apply(self) -> float | None:
        """Write every due change of the inbox, oldest first; how long until the next
        is due. A failed write stays first in line, and is retried on the next step."""
        if self._replicator.paused:
            return None
        lag_s = self._replicator.effective_lag_ms() / 1000
        while True:
            with self._inbox_lock:
                head = self._inbox[0] if self._inbox else None
            if head is None:
                return None
            due = head.made_at + lag_s - self._replicator._clock()
            if due > 0:
                return min(due, MAX_WAIT_S)
            self._write(head.record)
            with self._inbox_lock:
                self._inbox.popleft()

    def lag(self, now: float, source: str | None = None) -> ReplicationLag:
        """This replica's lag, behind every region or behind ``source`` alone."""
        with self._inbox_lock:
            times = [c.made_at for c in self._inbox if source in (None, c.source)]
        if not times:
            return ReplicationLag(0, 0)
        return ReplicationLag(max(0, round((now - min(times)) * 1000)), len(times))

    def _write(self, record: dict[str, Any]) -> None:
        fingerprint = _fingerprint(record)
        change = record["dynamodb"]
        client, table = self._replica.client, self._replica.table
        self._echoes[fingerprint] += 1
        try:
            if record["eventName"] == "REMOVE":
                answer = client.delete_item(
                    TableName=table, Key=change["Keys"], ReturnValues="ALL_OLD"
                )
                if not answer.get("Attributes"):
                    self._forget(fingerprint)  # nothing was there: no stream record
            else:
                client.put_item(TableName=table, Item=change["NewImage"])
        except ClientError:
            # Refused: the table never took it. A timeout keeps its echo, since the
            # write may have landed; an echo left over matches only this very image.
            self._forget(fingerprint)
            raise

    def _forget(self, fingerprint: str) -> None:
        self._echoes[fingerprint] -= 1
        if self._echoes[fingerprint] <= 0:
            del self._echoes[fingerprint]


def _fingerprint(record: dict[str, Any]) -> str:
    """The change as its target's stream will show it: the new image, or the removed key."""
    change = record["dynamodb"]
    if record["eventName"] == "REMOVE":
        return "REMOVE " + json.dumps(change["Keys"], sort_keys=True, default=str)
    return "PUT " + json.dumps(change["NewImage"], sort_keys=True, default=str)
