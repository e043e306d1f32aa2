"""A whole local deployment: the cloud, every region's runtime, and replication."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from emulator.auth import LocalCredentials
from emulator.cloud import (
    LocalCloud,
    create_dead_letter_table,
    create_tables,
    stream_arn,
    streams_client,
)
from emulator.deadletters import DEAD_LETTER_TABLE
from emulator.executor import load_schema
from emulator.faults import FaultRegistry
from emulator.jwt_issuer import LocalIssuer
from emulator.limits import Limits
from emulator.region import RegionRuntime
from emulator.replication import ReplicaTable, Replicator
from emulator.streams import StreamReader
from projections.settings import Settings


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
    faults injected into it (:mod:`emulator.faults`). ``env`` (the process
    environment by default) may set ``GATEWAY_CONTROL_CACHE_MS`` as it does for the
    Lambda, so an operator's change can be seen at once; the emulator says where
    everything else is.
    """

    def __init__(
        self,
        topology: Topology,
        credentials: LocalCredentials,
        limits: Limits | None = None,
        issuer: LocalIssuer | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        control_cache_ms = Settings.from_env(env).control_cache_ms
        credentials.install()
        self.topology = topology
        self.faults = FaultRegistry()
        self.cloud = LocalCloud(topology.host, self.faults)
        primary = topology.regions[0]
        self.settings = [
            Settings(
                region=region,
                primary_region=primary,
                endpoint_url=self.cloud.endpoint_url,
                appsync_url=topology.url(index),
                control_cache_ms=control_cache_ms,
            )
            for index, region in enumerate(topology.regions)
        ]
        for settings in self.settings:
            create_tables(settings)
            create_dead_letter_table(settings, DEAD_LETTER_TABLE)
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
        # A global table: every region's changes reach every other region.
        self.replicator = Replicator(
            [
                ReplicaTable(
                    s.region,
                    StreamReader(streams_client(s), stream_arn(s)),
                    s.dynamodb(s.region),
                    s.write_table,
                )
                for s in self.settings
            ],
            lag_ms=topology.replication_lag_ms,
            faults=self.faults,
        )

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
        self.cloud.stop()
