"""`gateway failover`: fence, drain, promote; or promote at once and name the window."""

from __future__ import annotations

from typing import Any

import pytest

from cli.failover import FailoverError, failover, read_control
from domain import records
from domain.errors import PrimaryUnavailable
from resolvers.handler import build_handler
from tests.integration.conftest import PRIMARY, REPLICA, Cloud, Region, appsync_event
from tests.integration.test_control import LAMP, _items


def _clients(cloud: Cloud) -> dict[str, Any]:
    return {
        region.settings.region: region.settings.dynamodb(region.settings.region)
        for region in (cloud.primary, cloud.replica)
    }


def _run(cloud: Cloud, to_region: str, **options: Any) -> Any:
    """The failover, with replication stepped while it waits for the fence to drain."""
    return failover(
        _clients(cloud),
        cloud.primary.settings.write_table,
        PRIMARY,
        to_region,
        pause=lambda _seconds: cloud.settle(),
        **options,
    )


def _handler(region: Region) -> Any:
    handler = build_handler(region.settings._replace(control_cache_ms=0))
    return lambda parent, field, arguments: handler(appsync_event(parent, field, arguments), None)


def test_a_planned_failover_fences_drains_and_promotes(cloud: Cloud) -> None:
    """GIVEN us-east-1 primary, with a product written there WHEN the operator fails over
    to eu-west-1 THEN the new primary holds that product, both regions hold the control
    at epoch 2 naming eu-west-1, writes land in eu-west-1, and us-east-1 reports it."""
    old = _handler(cloud.primary)
    lamp = old("Mutation", "createProduct", {"input": LAMP})

    report = _run(cloud, REPLICA)
    cloud.settle()

    assert (report.old_primary, report.new_primary, report.epoch) == (PRIMARY, REPLICA, 2)
    assert not report.forced
    for region in (PRIMARY, REPLICA):
        control = read_control(_clients(cloud)[region], cloud.primary.settings.write_table, PRIMARY)
        assert control == (REPLICA, records.MODE_ACTIVE, 2)
    lamp_key = records.state_key(records.PRODUCT, lamp["id"])["pk"]
    assert any(item["pk"]["S"] == lamp_key for item in _items(cloud.replica))
    vase = old("Mutation", "createProduct", {"input": {**LAMP, "sku": "VASE-1"}})
    assert old("Query", "region", {})["primary"] == REPLICA
    vase_key = records.state_key(records.PRODUCT, vase["id"])["pk"]
    assert any(item["pk"]["S"] == vase_key for item in _items(cloud.replica))


def test_while_the_fence_drains_writes_are_refused_with_a_clear_type(cloud: Cloud) -> None:
    """GIVEN the fence is written but has not replicated WHEN a write arrives at the old
    primary THEN it is refused with PrimaryUnavailable and nothing is written."""
    old = _handler(cloud.primary)
    seen: list[str] = []

    def pause(_seconds: float) -> None:
        with pytest.raises(PrimaryUnavailable):
            old("Mutation", "createProduct", {"input": {**LAMP, "sku": f"X-{len(seen)}"}})
        seen.append("refused")
        cloud.settle()

    failover(_clients(cloud), cloud.primary.settings.write_table, PRIMARY, REPLICA, pause=pause)
    assert seen and not any(item["pk"]["S"].startswith("SKU#X-") for item in _items(cloud.primary))


def test_a_forced_failover_names_the_data_loss_window(cloud: Cloud) -> None:
    """GIVEN the primary is lost with 200 ms of writes not replicated WHEN the operator
    forces eu-west-1 THEN it is promoted at the next epoch at once, and the report says
    the window is 200 ms."""
    report = _run(cloud, REPLICA, force=True, replication_lag_ms=lambda source, target: 200)
    assert report.forced and report.data_loss_window_ms == 200 and report.epoch == 1
    control = read_control(_clients(cloud)[REPLICA], cloud.replica.settings.write_table, PRIMARY)
    assert control == (REPLICA, records.MODE_ACTIVE, 1)


@pytest.mark.parametrize(
    ("to_region", "complaint"),
    [("us-east-1", "already the primary"), ("mars-1", "not a region of this deployment")],
)
def test_a_failover_that_makes_no_sense_is_refused(
    cloud: Cloud, to_region: str, complaint: str
) -> None:
    """GIVEN us-east-1 primary WHEN asked to fail over to itself or to an unknown region
    THEN FailoverError says why, and the control record is untouched."""
    with pytest.raises(FailoverError, match=complaint):
        _run(cloud, to_region)
    assert read_control(_clients(cloud)[PRIMARY], cloud.primary.settings.write_table, PRIMARY) == (
        PRIMARY,
        records.MODE_ACTIVE,
        0,
    )


def test_an_unreachable_primary_needs_force(cloud: Cloud) -> None:
    """GIVEN the primary cannot be reached WHEN failing over without --force THEN the
    error says to add --force and what it costs; nothing changes in eu-west-1."""

    class Unreachable:
        def get_item(self, **_: Any) -> Any:
            from botocore.exceptions import EndpointConnectionError

            raise EndpointConnectionError(endpoint_url="http://us-east-1.invalid")

    clients = {**_clients(cloud), PRIMARY: Unreachable()}
    with pytest.raises(FailoverError, match="--force"):
        failover(clients, cloud.primary.settings.write_table, PRIMARY, REPLICA)
    assert read_control(_clients(cloud)[REPLICA], cloud.replica.settings.write_table, PRIMARY) == (
        PRIMARY,
        records.MODE_ACTIVE,
        0,
    )


def test_a_failback_before_the_promotion_has_replicated_fences_the_real_primary(
    cloud: Cloud,
) -> None:
    """GIVEN a planned failover to eu-west-1 whose promotion has not reached us-east-1 yet
    (us-east-1 still holds its own fence, epoch 1) WHEN the operator fails back to
    us-east-1 THEN the failback fences eu-west-1, the latest primary by epoch (2), rather
    than trusting us-east-1's stale copy and promoting it while eu-west-1 keeps taking
    writes; once the fence has drained, us-east-1 is promoted above it, and every region
    ends up naming us-east-1 at that epoch."""
    table = cloud.primary.settings.write_table
    _run(cloud, REPLICA)
    stale = read_control(_clients(cloud)[PRIMARY], table, PRIMARY)

    report = _run(cloud, PRIMARY)
    cloud.settle()
    held = {
        region: read_control(client, table, PRIMARY) for region, client in _clients(cloud).items()
    }

    assert stale == (PRIMARY, records.MODE_READ_ONLY, 1)
    assert (report.old_primary, report.new_primary, report.epoch) == (REPLICA, PRIMARY, 4)
    assert held == {
        PRIMARY: (PRIMARY, records.MODE_ACTIVE, 4),
        REPLICA: (PRIMARY, records.MODE_ACTIVE, 4),
    }
