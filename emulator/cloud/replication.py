"""The global-table stand-in: every region's write table copied into every other's.

moto has no global tables, so each region has its own write table with a stream, and
:class:`Replicator` does what DynamoDB's replication does: each change made in any
region (a command in the primary, the control record an operator put anywhere) lands
in every other region after the replication lag, and nothing is ever dropped.

* Each region has its own loop (:class:`_RegionLink`): it reads that region's stream
  and hands every change to the other regions' inboxes, then applies its own inbox to
  its own table. A region that fails or hangs (an injected outage) holds up only its
  own loop; its inbox waits, in order, and is applied once it answers again.
* Loop guard: a change copied A -> B is never copied B -> A. Replication's client
  (:func:`mark_replicated_writes`) sends :data:`REPLICATED_WRITE_HEADER`, and moto shows
  such a write on its stream record as made by replication (``userIdentity``, see
  :func:`emulator.cloud.moto_fixes.install_write_marks`); a link skips those. Where no mark
  shows (a store without it), a link also remembers the image of every change it writes
  into its own table (its *echoes*) and skips each one when it comes back on that
  table's stream. Either beats comparing with what the table holds: a comparison costs
  a read per record and per region, and a stale echo could overwrite a newer change in
  the region it came from. A delete of an item that is not there makes no stream
  record, so its echo is forgotten at once.
* Restarts (:mod:`emulator.cloud.positions`): with positions, copies land in a region in one
  transaction with the positions they came from (:mod:`emulator.cloud.replica_writes`), so a
  region holds a copy exactly when its position says so. After a restart, each link
  reads its stream again from the oldest position any other region saved for it, and
  hands each change only to the regions that do not have it yet; the marks on the
  replayed records still say which were copies.
* Faults (:mod:`emulator.chaos.faults`): ``replication-pause`` applies nothing (changes keep
  arriving in the inboxes), ``replication-lag`` replaces the configured lag. A region
  with an ``outage`` keeps the changes it made that are still in transit (in another
  region's inbox, not yet applied): DynamoDB replicates from the source region, so what
  a lost region had not shipped arrives only when it is back. That window, the
  replication lag at the time of loss, is the RPO of a forced failover.

* Conflicts: DynamoDB settles concurrent writes of one item in two regions by last
  writer wins, on the time each was made at its source. A link remembers, per item,
  when the newest write its region holds was made (its own, read from its stream, or a
  copy it applied) and drops a copy made before that, saving its position all the
  same. A write of the region's own that its stream has not shown yet (within one
  poll) is not known, so a copy made before it may still overwrite it. The gateway
  writes aggregates in the primary alone, under an epoch fence; conflicts come from a
  forced failover, when a lost primary's writes arrive after the new primary's.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from botocore.exceptions import BotoCoreError, ClientError

from emulator.chaos.faults import FaultRegistry
from emulator.cloud.positions import REPLICATION, StreamPositions, after
from emulator.cloud.replica_writes import MAX_CHANGES_PER_WRITE, Change, ReplicaWriter
from emulator.cloud.streams import StreamReader, _Loop, created_at

MAX_WAIT_S = 0.05
REPLICATED_WRITE_HEADER = "x-gateway-replicated-write"
REPLICATION_PRINCIPAL = "gateway-dev-replication"


def mark_replicated_writes(client: Any) -> Any:
    """``client`` (a DynamoDB client for replication alone), marking its requests as
    replication's own."""

    def mark(request: Any, **_: Any) -> None:
        del request.headers[REPLICATED_WRITE_HEADER]  # a retry is signed again
        request.headers[REPLICATED_WRITE_HEADER] = "1"

    client.meta.events.register("before-sign.dynamodb", mark)
    return client


@dataclass(frozen=True)
class ReplicaTable:
    """One region's replica of the write table: its stream, a client to write it, and
    where that region keeps the positions of the copies it got (optional)."""

    region: str
    reader: StreamReader
    client: Any
    table: str
    positions: StreamPositions | None = None


class ReplicationLag(NamedTuple):
    """How far one region's replica is behind: the age of the oldest change not yet
    applied there (0 when caught up), and how many are waiting."""

    lag_ms: int
    backlog: int


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
        if all(replica.positions is not None for replica in replicas):
            self._resume()

    def _resume(self) -> None:
        """Start each stream after the oldest position another region saved for it."""
        for source, link in self._links.items():
            saved = [target.load_position(source) for target in self._targets(source)]
            if saved and all(position is not None for position in saved):
                link.reader.start_after(min(saved, key=lambda position: int(str(position))))

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

    def take(self) -> int:
        """One round in this thread, lag or no lag: every stream read, every change read
        so far written into every other region. How many records it read (start-up
        drives this until the streams are read)."""
        read = sum(link.collect() for link in self._links.values())
        for link in self._links.values():
            link.apply(due_now=True)
        return read

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

    def lost_regions(self) -> frozenset[str]:
        """The regions out (an injected outage): their changes in transit stay with them."""
        if self._faults is None:
            return frozenset()
        return frozenset(region for region in self._links if self._faults.outage(region))

    def effective_lag_ms(self) -> int:
        """The lag in force: a ``replication-lag`` fault's, else the configured one."""
        return self._faults.replication_lag_ms(self.lag_ms) if self._faults else self.lag_ms

    def _targets(self, source: str) -> list[_RegionLink]:
        return [link for region, link in self._links.items() if region != source]

    def _send(self, source: str, change: Change) -> None:
        for link in self._targets(source):
            if after(link.resumed_from.get(source), change.sequence):
                link.receive(change)


class _RegionLink(_Loop):
    """One region's side of replication: its stream out, its inbox in."""

    def __init__(self, replicator: Replicator, replica: ReplicaTable, interval: float) -> None:
        super().__init__(f"replicator-{replica.region}", interval)
        self._replicator = replicator
        self._replica = replica
        self._inbox: deque[Change] = deque()
        self._inbox_lock = threading.Lock()
        self._writer = ReplicaWriter(replica.client, replica.table, replica.positions)
        # Fingerprints of what this link wrote and its stream has not shown yet. Only
        # this link's thread touches them: it both writes the table and reads its stream.
        self._echoes: Counter[str] = Counter()
        # When the newest write of each item this region holds was made, at its source:
        # a copy made before it loses (DynamoDB's last writer wins). Only this link's
        # thread touches it, as with the echoes.
        self._written_at: dict[str, float] = {}
        # What this region already held of each source's stream when it started.
        self.resumed_from: dict[str, str | None] = {}

    @property
    def reader(self) -> StreamReader:
        return self._replica.reader

    def load_position(self, source: str) -> str | None:
        """The last change from ``source`` this region holds, by its saved position."""
        positions = self._replica.positions
        position = None if positions is None else positions.get(REPLICATION, source)
        self.resumed_from[source] = position
        return position

    def step(self) -> float | None:
        self.collect()
        return self.apply()

    def receive(self, change: Change) -> None:
        with self._inbox_lock:
            self._inbox.append(change)

    def collect(self) -> int:
        """Read this region's stream; hand its own changes to every other region.
        Returns how many records it read."""
        records = self._replica.reader.read()
        for record in records:
            fingerprint = _fingerprint(record)
            if fingerprint in self._echoes or _made_by_replication(record):
                self._forget(fingerprint)
                continue
            made_at = created_at(record)
            made_at = self._replicator._clock() if made_at is None else made_at
            self._note_written(_item_key(record), made_at)
            change = Change(self._replica.region, made_at, record)
            self._replicator._send(self._replica.region, change)
        return len(records)

    def apply(self, due_now: bool = False) -> float | None:
        """Write every due change of the inbox (every change, if ``due_now``), oldest
        first; how long until the next is due. A failed write stays first in line, and
        is retried on the next step."""
        if self._replicator.paused and not due_now:
            return None
        lag_s = 0.0 if due_now else self._replicator.effective_lag_ms() / 1000
        while True:
            now = self._replicator._clock()
            lost = self._replicator.lost_regions()
            head, due = self._due(float("inf") if due_now else now - lag_s, lost)
            if head is None:
                return None
            if not due:
                return (
                    MAX_WAIT_S
                    if head.source in lost
                    else min(head.made_at + lag_s - now, MAX_WAIT_S)
                )
            # Oldest first: as many of the due changes at the head as one write carries.
            batch = due[: self._writer.take(due)]
            self._write(batch)
            with self._inbox_lock:
                for _ in batch:
                    self._inbox.popleft()

    def _due(self, made_by: float, lost: frozenset[str]) -> tuple[Change | None, list[Change]]:
        """The inbox's head, and the changes from the head on made by ``made_by`` and not
        from a ``lost`` region (as many as one write could carry)."""
        with self._inbox_lock:
            first = itertools.islice(self._inbox, MAX_CHANGES_PER_WRITE)
            due = list(
                itertools.takewhile(
                    lambda change: change.made_at <= made_by and change.source not in lost, first
                )
            )
            return (self._inbox[0] if self._inbox else None), due

    def lag(self, now: float, source: str | None = None) -> ReplicationLag:
        """This replica's lag, behind every region or behind ``source`` alone."""
        with self._inbox_lock:
            times = [c.made_at for c in self._inbox if source in (None, c.source)]
        if not times:
            return ReplicationLag(0, 0)
        return ReplicationLag(max(0, round((now - min(times)) * 1000)), len(times))

    def _write(self, batch: list[Change]) -> None:
        fingerprints = [_fingerprint(change.record) for change in batch]
        for fingerprint in fingerprints:
            self._echoes[fingerprint] += 1
        superseded = {
            index
            for index, change in enumerate(batch)
            if self._written_at.get(_item_key(change.record), float("-inf")) > change.made_at
        }
        try:
            wrote = self._writer.write(batch, superseded)
        except ClientError:
            # Refused: the table never took it. A timeout keeps its echoes, since the
            # write may have landed; an echo left over matches only this very image.
            for fingerprint in fingerprints:
                self._forget(fingerprint)
            raise
        for change, fingerprint, made_record in zip(batch, fingerprints, wrote, strict=True):
            if made_record:
                self._note_written(_item_key(change.record), change.made_at)
            else:
                self._forget(fingerprint)  # superseded, or nothing to delete: no record

    def _note_written(self, item: str, made_at: float) -> None:
        """Remember when the item's newest write in this region was made at its source."""
        if made_at > self._written_at.get(item, float("-inf")):
            self._written_at[item] = made_at

    def _forget(self, fingerprint: str) -> None:
        if fingerprint not in self._echoes:
            return
        self._echoes[fingerprint] -= 1
        if self._echoes[fingerprint] <= 0:
            del self._echoes[fingerprint]


def _made_by_replication(record: dict[str, Any]) -> bool:
    return bool(record.get("userIdentity", {}).get("PrincipalId") == REPLICATION_PRINCIPAL)


def _item_key(record: dict[str, Any]) -> str:
    return json.dumps(record["dynamodb"]["Keys"], sort_keys=True, default=str)


def _fingerprint(record: dict[str, Any]) -> str:
    """The change as its target's stream will show it: the new image, or the removed key."""
    change = record["dynamodb"]
    if record["eventName"] == "REMOVE":
        return "REMOVE " + json.dumps(change["Keys"], sort_keys=True, default=str)
    return "PUT " + json.dumps(change["NewImage"], sort_keys=True, default=str)
