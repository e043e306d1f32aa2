"""A two-region cloud in moto, in-process, driven step by step (no threads, no waits)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws

from emulator.cloud.replication import ReplicaTable, Replicator
from emulator.cloud.server import create_tables, moto_fixes, stream_arn
from emulator.cloud.streams import StreamPoller, StreamReader
from projections.settings import Settings
from projections.stream import StreamProjector
from projections.table import ProjectionTable
from resolvers.bootstrap import build_app, build_services
from resolvers.handler import ResolverHandler, build_handler
from tests.integration.stage import STAGE, deploy

PRIMARY, REPLICA = "us-east-1", "eu-west-1"


@dataclass
class RecordingPublisher:
    """Stands in for the region's AppSync API: remembers what it was asked to publish."""

    published: list[dict[str, Any]] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)

    def product_changed(self, product: dict[str, Any]) -> None:
        self.published.append(product)

    def order_changed(self, order: dict[str, Any]) -> None:
        self.orders.append(order)


@dataclass
class Region:
    settings: Settings
    handler: ResolverHandler
    projector: StreamProjector
    poller: StreamPoller
    publisher: RecordingPublisher

    def call(self, parent: str, field: str, arguments: dict[str, Any]) -> Any:
        """Invoke the resolver Lambda as AppSync would for one field."""
        return self.handler(appsync_event(parent, field, arguments), None)


@dataclass
class Cloud:
    primary: Region
    replica: Region
    replicator: Replicator

    def settle(self) -> None:
        """Run replication and both regions' stream handlers until nothing is left."""
        for _ in range(5):
            self.primary.poller.step()
            self.replicator.step()
            self.replica.poller.step()


def appsync_event(parent: str, field: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "arguments": arguments,
        "identity": None,
        "source": None,
        "request": {"headers": {"x-correlation-id": "test"}},
        "info": {
            "parentTypeName": parent,
            "fieldName": field,
            "variables": {},
            "selectionSetList": [],
        },
    }


def counted_handler(settings: Settings) -> tuple[ResolverHandler, list[str]]:
    """A resolver Lambda for ``settings``, and the list of DynamoDB operations it sends
    (counted with botocore's event hooks, on both its clients)."""
    services = build_services(settings)
    sent: list[str] = []
    for client in (services.projections.client, services.write_store.client):  # type: ignore[attr-defined]
        client.meta.events.register(
            "before-send.dynamodb.*",
            lambda request, **_: sent.append(request.headers["X-Amz-Target"].decode()),
        )
    return ResolverHandler(build_app(services)), sent


def _streams(region: str) -> Any:
    return boto3.client(
        "dynamodbstreams",
        region_name=region,
        config=Config(account_id_endpoint_mode="disabled"),
    )


def _region(settings: Settings, tables: bool = True) -> Region:
    """A region wired from ``settings``; its tables made here unless ``tables`` is False
    (a stage's come from its stack)."""
    if tables:
        create_tables(settings)
    publisher = RecordingPublisher()
    table = ProjectionTable(settings.dynamodb(settings.region), settings.projection_table)
    projector = StreamProjector(table, publisher)
    reader = StreamReader(_streams(settings.region), stream_arn(settings))
    poller = StreamPoller(settings.region, reader, projector.handle)
    return Region(settings, build_handler(settings), projector, poller, publisher)


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch) -> Iterator[Cloud]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    # DynamoDB's ClientRequestToken, which moto ignores; gateway dev installs it too.
    moto_fixes.install_client_request_tokens()
    with mock_aws():
        wait = {"min_version_wait_ms": 50}
        primary = _region(Settings(region=PRIMARY, primary_region=PRIMARY, **wait))
        replica = _region(Settings(region=REPLICA, primary_region=PRIMARY, **wait))
        replicator = Replicator(
            [
                ReplicaTable(
                    region.settings.region,
                    StreamReader(_streams(region.settings.region), stream_arn(region.settings)),
                    region.settings.dynamodb(region.settings.region),
                    region.settings.write_table,
                )
                for region in (primary, replica)
            ]
        )
        yield Cloud(primary, replica, replicator)


@dataclass
class Stage:
    """A deployed stage: its name, and its regions' Lambdas and replication to drive."""

    name: str
    cloud: Cloud


def replicated(regions: list[Region]) -> Replicator:
    """The global table's stand-in between ``regions``' write tables."""
    return Replicator(
        [
            ReplicaTable(
                region.settings.region,
                StreamReader(_streams(region.settings.region), stream_arn(region.settings)),
                region.settings.dynamodb(region.settings.region),
                region.settings.write_table,
            )
            for region in regions
        ]
    )


@pytest.fixture
def stage(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stage]:
    """Stage ``test`` deployed to moto in two regions: CloudFormation stacks whose
    outputs name the tables and queue made from their templates (tests/integration/
    stage.py), and the regions' Lambdas wired from those outputs."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    moto_fixes.install_client_request_tokens()
    with mock_aws():
        regions = [
            _region(deploy(STAGE, region, (PRIMARY, REPLICA)), tables=False)
            for region in (PRIMARY, REPLICA)
        ]
        yield Stage(STAGE, Cloud(*regions, replicated(regions)))
