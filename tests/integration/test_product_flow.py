"""Command -> primary write table -> stream -> replication -> projections, in moto."""

from __future__ import annotations

from typing import Any

import pytest

from domain.errors import VersionConflict
from resolvers.bootstrap import build_app, build_services
from resolvers.handler import ResolverHandler
from tests.integration.conftest import Cloud, appsync_event, counted_handler

LAMP = {
    "sku": "LAMP-1",
    "name": "Desk lamp",
    "category": "lighting",
    "priceCents": 4500,
    "currency": "EUR",
    "stock": 4,
}


def _create(cloud: Cloud, **overrides: Any) -> dict[str, Any]:
    result: dict[str, Any] = cloud.replica.call(
        "Mutation", "createProduct", {"input": {**LAMP, **overrides}}
    )
    return result


def test_product_created_in_the_replica_is_written_once_in_the_primary(cloud: Cloud) -> None:
    """GIVEN two regions WHEN eu-west-1 creates a product THEN the primary's write table
    holds it before any replication, and the replica's write table does not yet."""
    created = _create(cloud)

    primary_table = cloud.primary.settings.dynamodb("us-east-1")
    replica_table = cloud.replica.settings.dynamodb("eu-west-1")
    key = {"pk": {"S": f"PRODUCT#{created['id']}"}, "sk": {"S": "STATE"}}
    assert "Item" in primary_table.get_item(TableName="gateway-write", Key=key)
    assert "Item" not in replica_table.get_item(TableName="gateway-write", Key=key)


def test_each_region_projects_the_product_and_tells_its_subscribers(cloud: Cloud) -> None:
    """GIVEN a product created through eu-west-1 WHEN the streams are drained THEN both
    regions answer it from their own projection, and each region published it once."""
    created = _create(cloud)
    assert cloud.primary.call("Query", "product", {"id": created["id"]}) is None

    cloud.settle()

    for region in (cloud.primary, cloud.replica):
        view = region.call("Query", "product", {"id": created["id"]})
        assert view == created
        assert [p["version"] for p in region.publisher.published] == [1]
        listed = region.call("Query", "products", {"category": "lighting"})
        assert [item["id"] for item in listed["items"]] == [created["id"]]


def test_updates_and_stock_moves_reach_both_regions_in_order(cloud: Cloud) -> None:
    """GIVEN a product WHEN it is renamed and its stock moved THEN both regions end at
    version 3 with both changes, and region() reports a measured projection lag."""
    created = _create(cloud)
    update = {"id": created["id"], "expectedVersion": 1, "name": "Floor lamp"}
    cloud.primary.call("Mutation", "updateProduct", {"input": update})
    cloud.replica.call("Mutation", "adjustStock", {"input": {"id": created["id"], "delta": -3}})

    cloud.settle()

    for region in (cloud.primary, cloud.replica):
        view = region.call("Query", "product", {"id": created["id"]})
        assert (view["version"], view["name"], view["stock"]) == (3, "Floor lamp", 1)
        info = region.call("Query", "region", {})
        assert info["primary"] == "us-east-1"
        assert isinstance(info["projectionLagMs"], int) and info["projectionLagMs"] >= 0


def test_min_version_reads_through_to_the_primary_when_the_region_lags(cloud: Cloud) -> None:
    """GIVEN a product whose change has not reached eu-west-1 WHEN eu-west-1 is asked for
    it with minVersion 2 THEN it answers version 2 (from the primary), never version 1."""
    created = _create(cloud)
    cloud.settle()
    update = {"id": created["id"], "expectedVersion": 1, "name": "Wall lamp"}
    cloud.replica.call("Mutation", "updateProduct", {"input": update})

    plain = cloud.replica.call("Query", "product", {"id": created["id"]})
    fresh = cloud.replica.call("Query", "product", {"id": created["id"], "minVersion": 2})

    assert plain["version"] == 1
    assert (fresh["version"], fresh["name"]) == (2, "Wall lamp")
    assert fresh.keys() == plain.keys()


def test_a_redelivered_batch_changes_nothing(cloud: Cloud) -> None:
    """GIVEN a region that applied v1 and v2 WHEN the v1 record is delivered again THEN
    the view stays at v2."""
    created = _create(cloud)
    cloud.settle()
    reader = cloud.replica.poller._reader
    # A fresh reader sees the whole stream again, as a replay from TRIM_HORIZON would.
    replay = type(reader)(reader._client, reader.stream_arn).read()
    update = {"id": created["id"], "expectedVersion": 1, "priceCents": 3900}
    cloud.primary.call("Mutation", "updateProduct", {"input": update})
    cloud.settle()

    answer = cloud.replica.projector.handle({"Records": replay})

    assert answer == {"batchItemFailures": []}
    view = cloud.replica.call("Query", "product", {"id": created["id"]})
    assert (view["version"], view["priceCents"]) == (2, 3900)


def test_a_stale_write_is_refused_and_nothing_reaches_the_stream(cloud: Cloud) -> None:
    """GIVEN a product at version 2 WHEN a client updates with expectedVersion 1 THEN it
    gets VersionConflict and no region sees a third version."""
    created = _create(cloud)
    first = {"id": created["id"], "expectedVersion": 1, "name": "A"}
    cloud.replica.call("Mutation", "updateProduct", {"input": first})

    with pytest.raises(VersionConflict):
        stale = {"id": created["id"], "expectedVersion": 1, "name": "B"}
        cloud.replica.call("Mutation", "updateProduct", {"input": stale})
    cloud.settle()

    view = cloud.replica.call("Query", "product", {"id": created["id"]})
    assert (view["version"], view["name"]) == (2, "A")
    assert [p["version"] for p in cloud.replica.publisher.published] == [1, 2]


def test_a_poison_record_is_reported_and_the_rest_of_the_batch_still_applies(
    cloud: Cloud,
) -> None:
    """GIVEN a batch whose first record is an unknown event WHEN it is handled THEN that
    record is a batch-item failure and the good record after it is projected."""
    created = _create(cloud)
    good = [
        record
        for record in cloud.primary.poller._reader.read()
        if record["dynamodb"]["NewImage"].get("recordKind") == {"S": "EVENT"}
    ]
    poison = {
        **good[0],
        "dynamodb": {
            **good[0]["dynamodb"],
            "SequenceNumber": "1",
            "NewImage": {**good[0]["dynamodb"]["NewImage"], "eventType": {"S": "Bogus"}},
        },
    }

    answer = cloud.primary.projector.handle({"Records": [poison, *good]})

    assert answer == {"batchItemFailures": [{"itemIdentifier": "1"}]}
    assert cloud.primary.call("Query", "product", {"id": created["id"]})["version"] == 1


def test_product_by_id_costs_exactly_one_dynamodb_request(cloud: Cloud) -> None:
    """GIVEN a projected product WHEN product(id) is resolved THEN the resolver Lambda
    sends exactly one request to DynamoDB: a GetItem on this region's projection table."""
    created = _create(cloud)
    cloud.settle()
    handler, sent = counted_handler(cloud.replica.settings)

    view = handler(appsync_event("Query", "product", {"id": created["id"]}), None)

    assert view["id"] == created["id"]
    assert sent == ["DynamoDB_20120810.GetItem"]


def test_an_invocation_whose_request_has_no_wait_left_reads_through_at_once(
    cloud: Cloud,
) -> None:
    """
    GIVEN eu-west-1 one version behind on a product, and an invocation whose event says
          its request has no read-your-writes wait left (``stash.waitMsLeft`` 0: the
          request's one deadline, shared by all its fields, has passed)
    WHEN product(minVersion: 2) is resolved there
    THEN this region's projection is read once, never polled, and the answer is version 2,
         read through to the primary
    """
    created = _create(cloud)
    cloud.settle()
    update = {"id": created["id"], "expectedVersion": 1, "name": "Desk lamp"}
    cloud.primary.call("Mutation", "updateProduct", {"input": update})
    services = build_services(cloud.replica.settings._replace(min_version_wait_ms=1000))
    projection_reads: list[str] = []
    services.projections.client.meta.events.register(
        "before-send.dynamodb.*", lambda request, **_: projection_reads.append("read")
    )
    event = appsync_event("Query", "product", {"id": created["id"], "minVersion": 2})
    event["stash"] = {"waitMsLeft": 0}

    fresh = ResolverHandler(build_app(services))(event, None)

    assert (fresh["version"], fresh["name"]) == (2, "Desk lamp")
    assert projection_reads == ["read"]
