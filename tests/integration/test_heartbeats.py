"""Heartbeats through the write table, replication and each region's stream handler."""

from __future__ import annotations

import time

from projections import heartbeat, keys
from projections.rebuild import rebuild
from projections.table import ProjectionTable
from tests.integration.conftest import PRIMARY, REPLICA, Cloud

REGIONS = [PRIMARY, REPLICA]


def _beat_everywhere(cloud: Cloud) -> None:
    for region in (cloud.primary, cloud.replica):
        settings = region.settings
        heartbeat.beat(settings.dynamodb(settings.region), settings.write_table, settings.region)


def test_every_region_sees_every_regions_heartbeat(cloud: Cloud) -> None:
    """GIVEN both regions' writers beat, each into its own replica WHEN replication and
    the stream handlers have run THEN each region's projection table holds both regions'
    heartbeats, a moment old: the stream filter let them through, and replication
    carried each both ways."""
    _beat_everywhere(cloud)
    cloud.settle()

    for region in (cloud.primary, cloud.replica):
        ages = heartbeat.ages(region.projector._table, REGIONS)
        assert all(age is not None and age < 5000 for age in ages.values()), (region, ages)


def test_a_heartbeat_stuck_in_replication_shows_as_a_growing_age(cloud: Cloud) -> None:
    """GIVEN both regions saw the primary's heartbeat WHEN the primary beats again but
    nothing replicates THEN the primary's stream handler sees the new one, and the
    replica still knows only the old one, whose age keeps growing."""
    settings = cloud.primary.settings
    client = settings.dynamodb(settings.region)
    first = heartbeat.beat(client, settings.write_table, PRIMARY)
    cloud.settle()

    second = heartbeat.beat(client, settings.write_table, PRIMARY)
    cloud.primary.poller.step()  # the primary's own stream; no replication step

    def seen(table: ProjectionTable) -> str:
        item = table.get(keys.heartbeat_seen_key(PRIMARY))
        assert item is not None
        return str(item["writtenAt"])

    assert seen(cloud.primary.projector._table) == second.written_at
    assert seen(cloud.replica.projector._table) == first.written_at
    later = time.time() + 60
    stalled = heartbeat.ages(cloud.replica.projector._table, [PRIMARY], now_s=later)
    assert stalled == {PRIMARY: first.age_ms(later)}


def test_a_rebuild_keeps_the_heartbeats_seen(cloud: Cloud) -> None:
    """GIVEN a region saw both heartbeats WHEN its projections are rebuilt THEN it still
    knows them: a rebuild replaces views, not the region's bookkeeping."""
    _beat_everywhere(cloud)
    cloud.settle()
    table = cloud.replica.projector._table
    settings = cloud.replica.settings

    rebuild(settings.dynamodb(settings.region), settings.write_table, table)

    assert table.get(keys.heartbeat_seen_key(PRIMARY)) is not None
    assert None not in heartbeat.ages(table, REGIONS).values()
