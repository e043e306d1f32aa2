"""Every write carries the epoch it was issued under; a stale or fenced one never lands."""

from __future__ import annotations

from typing import Any

import pytest

from domain import records
from domain.errors import PrimaryUnavailable
from resolvers.handler import build_handler
from tests.integration.conftest import PRIMARY, REPLICA, Cloud, Region, appsync_event
from tests.integration.test_control import LAMP, _items
from tests.unit.fakes import control_item


def _warm(region: Region) -> Any:
    """A resolver Lambda that has already read (and cached, for 5 s) the control record."""
    handler = build_handler(region.settings._replace(control_cache_ms=60_000))
    assert handler(appsync_event("Query", "region", {}), None)["mode"] == "ACTIVE"
    return handler


def _put_control(region: Region, primary: str, mode: str, epoch: int) -> None:
    settings = region.settings
    settings.dynamodb(settings.region).put_item(
        TableName=settings.write_table, Item=control_item(primary, mode, epoch)
    )


def test_a_write_issued_before_a_fence_is_refused_by_the_primary(cloud: Cloud) -> None:
    """GIVEN eu-west-1 cached 'us-east-1 is primary, epoch 0' WHEN the operator fences
    us-east-1 (READ_ONLY, epoch 1) and the change has not replicated yet, and a write
    arrives through eu-west-1 THEN the primary refuses it on the epoch, the writer is
    told PrimaryUnavailable, and no write table gains an item."""
    stale = _warm(cloud.replica)
    _put_control(cloud.primary, PRIMARY, records.MODE_READ_ONLY, 1)
    before = (_items(cloud.primary), _items(cloud.replica))

    with pytest.raises(PrimaryUnavailable) as refused:
        stale(appsync_event("Mutation", "createProduct", {"input": LAMP}), None)

    assert "changed while this write was in flight" in refused.value.message
    assert (_items(cloud.primary), _items(cloud.replica)) == before


def test_a_write_that_meets_a_failover_follows_the_new_primary(cloud: Cloud) -> None:
    """GIVEN a region that cached the old primary WHEN the operator has moved the primary
    to eu-west-1 at epoch 1 (replicated everywhere) THEN the write is fenced off the old
    primary, re-read, and lands once, in eu-west-1's table, under epoch 1."""
    stale = _warm(cloud.replica)
    _put_control(cloud.primary, REPLICA, records.MODE_ACTIVE, 1)
    cloud.settle()
    old_primary = _items(cloud.primary)

    created = stale(appsync_event("Mutation", "createProduct", {"input": LAMP}), None)

    key = records.state_key(records.PRODUCT, created["id"])
    in_replica = [item for item in _items(cloud.replica) if item["pk"]["S"] == key["pk"]]
    assert {item["sk"]["S"] for item in in_replica} == {"STATE", "EVENT#0000000001"}
    assert _items(cloud.primary) == old_primary
