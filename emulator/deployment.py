"""A whole local deployment: the cloud, every region's runtime, and replication.

With a journal (:mod:`emulator.cloud.journal`), start-up after a restart runs in this order,
before any region listens:

1. the cloud replays the journal: every table, item and stream record is back;
2. :func:`catch_up`: each region's stream handler applies again the batch it had in
   hand when the emulator stopped (its saved position is from before that batch):
   nobody can subscribe yet, so what it may have published before is not published
   twice. Then replication and the stream handlers go on with whatever else the
   streams hold, still telling nobody, for up to :data:`CATCH_UP_BUDGET_S`;
3. when that reached the end of every stream, the cloud compacts the journal into a
   snapshot of its tables, so the next start replays items, not history. Otherwise
   the consumers go on from their saved positions once the regions listen, and
   publish what they apply, as they would have had the emulator not stopped.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from emulator.appsync.auth import LocalCredentials
from emulator.appsync.executor import load_schema
from emulator.appsync.limits import Limits
from emulator.chaos.faults import FaultRegistry
from emulator.cloud.deadletters import DEAD_LETTER_TABLE, DeadLetters
from emulator.cloud.journal import Journal
from emulator.cloud.jwt_issuer import LocalIssuer
from emulator.cloud.positions import StreamPositions
from emulator.cloud.replication import ReplicaTable, Replicator, mark_replicated_writes
from emulator.cloud.secrets import create_secrets
from emulator.cloud.server import (
    LocalCloud,
    create_dead_letter_table,
    create_positions_table,
    create_tables,
    stream_arn,
    streams_client,
)
from emulator.cloud.streams import StreamPoller, StreamReader
from emulator.region import RegionRuntime
from infra.config import CLIENT_TOKEN_SECRET, PAGE_TOKEN_SECRET
from projections.observability import Observability
from projections.settings import Settings
from projections.stream import SERVICE, StreamProjector
from projections.table import ProjectionTable

logger = logging.getLogger("gateway.deployment")

CATCH_UP_BUDGET_S = 10.0


@dataclass(frozen=True)
class Restored:
    """What start-up found in the journal."""

    changes: int
    seconds: float
    compacted: bool


@dataclass(frozen=True)
class Topology:
    """Where each region listens; the first region is the primary."""

    regions: tuple[str, ...]
    host: str = "127.0.0.1"
    port: int = 4000
    replication_lag_ms: int = 0

    def url(self, index: int) -> str:
        return f"http://{self.host}:{self.port + index}/graphql"


class LocalDeployment:
    """Starts and stops everything ``gateway dev`` runs, except the HTTP servers.

    The first region is every region's default primary; the control record in the
    write table can name another, or pause writes, while it runs. ``faults`` holds the
    faults injected into it (:mod:`emulator.chaos.faults`). ``env`` (the process
    environment by default) may set ``GATEWAY_CONTROL_CACHE_MS`` as it does for the
    Lambda, so an operator's change can be seen at once; the emulator says where
    everything else is. ``journal`` keeps the tables across restarts (see the module
    docstring); :attr:`restored` says what start-up found in it.

    Raises
    ------
    emulator.cloud.journal.JournalCorrupt, emulator.cloud.journal.JournalInUse
        From the journal: it cannot be replayed, or another process holds it.
    """

    def __init__(
        self,
        topology: Topology,
        credentials: LocalCredentials,
        limits: Limits | None = None,
        issuer: LocalIssuer | None = None,
        env: Mapping[str, str] | None = None,
        journal: Journal | None = None,
    ) -> None:
        control_cache_ms = Settings.from_env(env).control_cache_ms
        credentials.install()
        self.topology = topology
        self.faults = FaultRegistry()
        started = time.monotonic()
        self.cloud = LocalCloud(topology.host, self.faults, journal, credentials.botocore())
        primary = topology.regions[0]
        self.settings = [
            Settings(
                region=region,
                primary_region=primary,
                endpoint_url=self.cloud.endpoint_url,
                appsync_url=topology.url(index),
                control_cache_ms=control_cache_ms,
                peer_regions=tuple(other for other in topology.regions if other != region),
                token_secret_id=PAGE_TOKEN_SECRET,
                client_token_secret_id=CLIENT_TOKEN_SECRET,
            )
            for index, region in enumerate(topology.regions)
        ]
        for settings in self.settings:
            create_secrets(settings, credentials.public_token)
            create_tables(settings)
            create_dead_letter_table(settings, DEAD_LETTER_TABLE)
            create_positions_table(settings)
        self.restored: Restored | None = None
        if self.cloud.replayed_changes:
            compacted = self._recover()
            seconds = time.monotonic() - started
            self.restored = Restored(self.cloud.replayed_changes, seconds, compacted)
        schema = load_schema()
        # Each region is its own AppSync API, with its own rate buckets.
        self.regions = [
            RegionRuntime(
                settings,
                credentials,
                schema,
                limits.for_region() if limits else None,
                issuer,
                self.faults,
            )
            for settings in self.settings
        ]
        for region in self.regions:
            region.poller.resume(_positions(region.settings))
        # A global table: every region's changes reach every other region.
        self.replicator = _replicator(self.settings, topology.replication_lag_ms, self.faults)

    def _recover(self) -> bool:
        """Catch up, then compact; False if the streams were not read to their ends,
        in which case the consumers go on from their saved positions once started."""
        try:
            if not catch_up(self.settings, time.monotonic() + CATCH_UP_BUDGET_S):
                return False
        except (BotoCoreError, ClientError) as error:
            logger.warning("the streams could not catch up at start-up (%s); going on", error)
            return False
        self.cloud.compact()
        return True

    def start(self) -> None:
        self.replicator.start()
        for region in self.regions:
            region.poller.start()

    def stop_streams(self) -> None:
        """Stop replication and the stream handlers, letting in-flight batches finish.

        Called before the HTTP servers stop, so a handler never publishes to a region
        that is no longer listening (its record would be dead-lettered).
        """
        self.replicator.request_stop()
        for region in self.regions:
            region.poller.request_stop()
        # Let go of calls an injected outage holds, so every loop sees its stop soon.
        self.faults.clear_all()
        self.replicator.stop()
        for region in self.regions:
            region.poller.stop()

    def stop(self) -> None:
        self.stop_streams()
        for region in self.regions:
            region.close()
        self.cloud.stop()


def catch_up(settings: list[Settings], deadline: float) -> bool:
    """Apply, telling no subscriber (there is none yet), the batch each region's stream
    handler had in hand; then run replication and the handlers in this thread until
    every stream is read to its end (True) or ``deadline`` (monotonic) passes."""
    pollers = [_silent_poller(region) for region in settings]
    for poller in pollers:
        poller.take()  # the batch in hand: always, whatever the deadline
    replicator = _replicator(settings, 0)
    while time.monotonic() < deadline:
        read = replicator.take()
        read += sum(poller.take() for poller in pollers)
        if not read and not replicator.backlog:
            return True
    return False


def _silent_poller(region: Settings) -> StreamPoller:
    client = region.dynamodb(region.region)
    # Start-up's figures are nobody's: its lines go to stderr, its EMF nowhere.
    quiet = Observability(
        SERVICE, region=region.region, emf_sink=lambda _: None, log_stream=sys.stderr
    )
    projector = StreamProjector(
        ProjectionTable(client, region.projection_table), _NobodyListening(), quiet
    )
    poller = StreamPoller(
        region.region,
        StreamReader(streams_client(region), stream_arn(region)),
        projector.handle,
        park=DeadLetters(client, region.region).park,
    )
    poller.resume(_positions(region))
    return poller


class _NobodyListening:
    """The publisher of start-up: no subscriber can be connected before the regions
    listen, so there is nobody to tell."""

    def product_changed(self, product: dict[str, Any]) -> None:
        """Nobody to tell."""

    def order_changed(self, order: dict[str, Any]) -> None:
        """Nobody to tell."""


def _replicator(
    settings: list[Settings], lag_ms: int, faults: FaultRegistry | None = None
) -> Replicator:
    return Replicator(
        [
            ReplicaTable(
                s.region,
                StreamReader(streams_client(s), stream_arn(s)),
                mark_replicated_writes(s.dynamodb(s.region)),
                s.write_table,
                _positions(s),
            )
            for s in settings
        ],
        lag_ms=lag_ms,
        faults=faults,
    )


def _positions(settings: Settings) -> StreamPositions:
    return StreamPositions(settings.dynamodb(settings.region))
