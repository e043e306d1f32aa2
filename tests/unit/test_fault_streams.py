"""Replication between every region, the stream poller, and subscriber disconnects,
under injected faults, with fake tables and streams (no sockets, no threads)."""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from emulator.appsync.subscriptions import Subscriptions
from emulator.chaos.faults import FaultRegistry, FaultSpec
from emulator.cloud.replication import ReplicaTable, ReplicationLag, Replicator
from emulator.cloud.streams import StreamPoller, StreamReader

from .fakes import ManualClock

REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
T0 = 1_714_564_800.0


class FakeRegionTable:
    """One region's write table and its stream, in memory.

    It serves as both clients the emulator uses: DynamoDB's (``put_item``,
    ``delete_item``) and DynamoDB Streams' (read through a real :class:`StreamReader`).
    Every change adds a stream record stamped with the clock, as moto's do; ``down``
    refuses every call, as an injected outage does.
    """

    def __init__(self, clock: ManualClock) -> None:
        self._clock = clock
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.records: list[dict[str, Any]] = []
        self.down = False

    # DynamoDB
    def put_item(self, *, TableName: str, Item: dict[str, Any]) -> dict[str, Any]:
        self._check("PutItem")
        key = (Item["pk"]["S"], Item["sk"]["S"])
        old = self.items.get(key)
        self.items[key] = copy.deepcopy(Item)
        self._record("MODIFY" if old else "INSERT", Item)
        return {}

    def delete_item(
        self, *, TableName: str, Key: dict[str, Any], ReturnValues: str = "NONE"
    ) -> dict[str, Any]:
        self._check("DeleteItem")
        old = self.items.pop((Key["pk"]["S"], Key["sk"]["S"]), None)
        if old is None:
            return {}
        self._record("REMOVE", None, Key)
        return {"Attributes": old} if ReturnValues == "ALL_OLD" else {}

    # DynamoDB Streams
    def describe_stream(self, *, StreamArn: str) -> dict[str, Any]:
        self._check("DescribeStream")
        return {"StreamDescription": {"Shards": [{"ShardId": "shard-1"}]}}

    def get_shard_iterator(self, **_: Any) -> dict[str, Any]:
        return {"ShardIterator": "0"}

    def get_records(self, *, ShardIterator: str, Limit: int) -> dict[str, Any]:
        self._check("GetRecords")
        start = int(ShardIterator)
        records = copy.deepcopy(self.records[start : start + Limit])
        return {"Records": records, "NextShardIterator": str(start + len(records))}

    def _record(self, name: str, image: dict[str, Any] | None, key: Any = None) -> None:
        change: dict[str, Any] = {
            "ApproximateCreationDateTime": datetime.fromtimestamp(self._clock(), UTC),
            "SequenceNumber": str(len(self.records) + 1),
            "Keys": key or {"pk": image["pk"], "sk": image["sk"]},  # type: ignore[index]
        }
        if image is not None:
            change["NewImage"] = copy.deepcopy(image)
        self.records.append({"eventName": name, "dynamodb": change})

    def _check(self, operation: str) -> None:
        if self.down:
            error = {"Error": {"Code": "ServiceUnavailable", "Message": "down"}}
            raise ClientError(error, operation)  # type: ignore[arg-type]


def item(pk: str, **attributes: str) -> dict[str, Any]:
    values = {name: {"S": value} for name, value in attributes.items()}
    return {"pk": {"S": pk}, "sk": {"S": "STATE"}, **values}


class Deployment:
    """Three regions' tables and the replicator between them, driven step by step."""

    def __init__(self, lag_ms: int = 0) -> None:
        self.clock = ManualClock()
        self.clock.now = T0
        self.faults = FaultRegistry(self.clock)
        self.tables = {region: FakeRegionTable(self.clock) for region in REGIONS}
        self.replicator = Replicator(
            [
                ReplicaTable(region, StreamReader(table, "arn"), table, "gateway-write")
                for region, table in self.tables.items()
            ],
            lag_ms=lag_ms,
            clock=self.clock,
            faults=self.faults,
        )

    def settle(self, rounds: int = 4) -> None:
        for _ in range(rounds):
            self.replicator.step()

    def fault(self, **body: Any) -> str:
        return self.faults.add(FaultSpec.from_json(body, REGIONS)).id

    def everywhere(self, pk: str) -> list[dict[str, Any] | None]:
        return [table.items.get((pk, "STATE")) for table in self.tables.values()]


def test_a_change_made_in_any_region_reaches_every_other_once_and_stops() -> None:
    """GIVEN three regions WHEN the operator puts the control record in eu-west-1 and a
    command writes in us-east-1 THEN every region holds both, and after many rounds each
    stream shows each change once per region: nothing is copied back."""
    cloud = Deployment()
    control = item("CONTROL", primaryRegion="eu-west-1")
    product = item("PRODUCT#p-1", name="Lamp")
    cloud.tables["eu-west-1"].put_item(TableName="gateway-write", Item=control)
    cloud.tables["us-east-1"].put_item(TableName="gateway-write", Item=product)

    cloud.settle(rounds=10)

    assert cloud.everywhere("CONTROL") == [control] * 3
    assert cloud.everywhere("PRODUCT#p-1") == [product] * 3
    assert [len(table.records) for table in cloud.tables.values()] == [2, 2, 2]
    assert cloud.replicator.lag() == {region: ReplicationLag(0, 0) for region in REGIONS}


def test_a_change_made_where_a_copy_landed_travels_back() -> None:
    """GIVEN a product copied from us-east-1 into the others WHEN eu-west-1 changes it (a
    new primary) THEN us-east-1 and ap-southeast-2 get the change, and it stays."""
    cloud = Deployment()
    cloud.tables["us-east-1"].put_item(TableName="t", Item=item("PRODUCT#p-1", name="Lamp"))
    cloud.settle()
    renamed = item("PRODUCT#p-1", name="Desk lamp")

    cloud.tables["eu-west-1"].put_item(TableName="t", Item=renamed)
    cloud.settle(rounds=10)

    assert cloud.everywhere("PRODUCT#p-1") == [renamed] * 3
    assert [len(table.records) for table in cloud.tables.values()] == [2, 2, 2]


def test_a_delete_that_finds_nothing_leaves_no_echo_to_swallow_a_later_one() -> None:
    """GIVEN an item deleted in two regions at once (each copy of the delete finds
    nothing) WHEN eu-west-1 creates it again and deletes it THEN that delete reaches
    every region: the first deletes left nothing behind that would mistake it for theirs."""
    cloud = Deployment()
    cloud.tables["us-east-1"].put_item(TableName="t", Item=item("PRODUCT#p-1"))
    cloud.settle()
    key = {"pk": {"S": "PRODUCT#p-1"}, "sk": {"S": "STATE"}}
    for region in ("us-east-1", "eu-west-1"):
        cloud.tables[region].delete_item(TableName="t", Key=key)
    cloud.settle()
    cloud.tables["eu-west-1"].put_item(TableName="t", Item=item("PRODUCT#p-1"))
    cloud.settle()
    assert cloud.everywhere("PRODUCT#p-1") == [item("PRODUCT#p-1")] * 3

    cloud.tables["eu-west-1"].delete_item(TableName="t", Key=key)
    cloud.settle()

    assert cloud.everywhere("PRODUCT#p-1") == [None] * 3


def test_a_paused_replication_keeps_every_change_and_reports_how_old_the_oldest_is() -> None:
    """GIVEN replication paused WHEN two changes are made 1.5 s apart THEN no other region
    gets them, each replica reports 2 waiting and the oldest's age, growing; WHEN resumed
    THEN both land and the lag is 0."""
    cloud = Deployment()
    pause = cloud.fault(kind="replication-pause")
    cloud.tables["us-east-1"].put_item(TableName="t", Item=item("ORDER#o-1"))
    cloud.clock.now += 1.5
    cloud.tables["us-east-1"].put_item(TableName="t", Item=item("ORDER#o-2"))
    cloud.settle()
    cloud.clock.now += 0.5

    paused_lag = cloud.replicator.lag()
    behind = cloud.replicator.lag_by_source()["eu-west-1"]
    held = cloud.everywhere("ORDER#o-1") + cloud.everywhere("ORDER#o-2")
    cloud.faults.clear(pause)
    cloud.settle()

    assert paused_lag == {
        "us-east-1": ReplicationLag(0, 0),
        "eu-west-1": ReplicationLag(2000, 2),
        "ap-southeast-2": ReplicationLag(2000, 2),
    }
    assert behind == {"us-east-1": ReplicationLag(2000, 2), "ap-southeast-2": ReplicationLag(0, 0)}
    assert held.count(None) == 4
    assert None not in cloud.everywhere("ORDER#o-1") + cloud.everywhere("ORDER#o-2")
    assert cloud.replicator.backlog == 0


def test_a_lag_fault_replaces_the_configured_lag_until_cleared() -> None:
    """GIVEN a deployment with no lag and a 500 ms lag fault WHEN a change is made THEN it
    lands 500 ms after it was made, not before; once the fault is cleared, at once."""
    cloud = Deployment(lag_ms=0)
    lag = cloud.fault(kind="replication-lag", lagMs=500)
    cloud.tables["us-east-1"].put_item(TableName="t", Item=item("ORDER#o-1"))

    cloud.clock.now += 0.499
    cloud.settle()
    early = cloud.everywhere("ORDER#o-1")
    cloud.clock.now += 0.001
    cloud.settle()
    on_time = cloud.everywhere("ORDER#o-1")
    cloud.faults.clear(lag)
    cloud.tables["us-east-1"].put_item(TableName="t", Item=item("ORDER#o-2"))
    cloud.settle()

    assert early[1:] == [None, None]
    assert None not in on_time
    assert None not in cloud.everywhere("ORDER#o-2")


def test_a_region_that_is_down_gets_every_change_in_order_once_it_is_back() -> None:
    """GIVEN eu-west-1 down WHEN us-east-1 makes three changes THEN ap-southeast-2 gets
    them at once and eu-west-1 keeps them waiting, whatever the rounds; WHEN it is back
    THEN it gets all three, the last one winning."""
    cloud = Deployment()
    cloud.tables["eu-west-1"].down = True
    for name in ("one", "two", "three"):
        cloud.tables["us-east-1"].put_item(TableName="t", Item=item("PRODUCT#p-1", name=name))
    for _ in range(5):
        with pytest.raises(ClientError):
            cloud.replicator.step()
    waiting = cloud.replicator.lag()["eu-west-1"].backlog

    cloud.tables["eu-west-1"].down = False
    cloud.settle()

    assert waiting == 3
    assert cloud.everywhere("PRODUCT#p-1") == [item("PRODUCT#p-1", name="three")] * 3
    names = [r["dynamodb"]["NewImage"]["name"]["S"] for r in cloud.tables["eu-west-1"].records]
    assert names == ["one", "two", "three"]


def test_a_lost_region_keeps_what_it_had_not_shipped_until_it_is_back() -> None:
    """GIVEN a 200 ms replication lag and a change us-east-1 made and replication already
    read WHEN us-east-1 is lost before the lag has passed THEN no other region gets it,
    however long they wait (it is the RPO of a failover now); WHEN us-east-1 is back THEN
    it arrives everywhere."""
    cloud = Deployment(lag_ms=200)
    cloud.tables["us-east-1"].put_item(TableName="t", Item=item("ORDER#o-1"))
    cloud.settle()
    outage = cloud.fault(kind="outage", region="us-east-1", mode="fail")

    cloud.clock.now += 60
    cloud.settle()
    while_lost = cloud.everywhere("ORDER#o-1")
    cloud.faults.clear(outage)
    cloud.settle()

    assert while_lost[1:] == [None, None]
    assert None not in cloud.everywhere("ORDER#o-1")


def test_a_lost_regions_late_change_loses_to_a_newer_write_of_the_same_item() -> None:
    """GIVEN us-east-1 lost with a change of PRODUCT#p-1 still in transit, and eu-west-1,
    promoted, writing the same item a second later WHEN us-east-1 is back and its old
    change arrives THEN every region keeps eu-west-1's newer write: the last writer
    wins, as in DynamoDB, and nobody's stock goes back in time."""
    cloud = Deployment(lag_ms=200)
    cloud.tables["us-east-1"].put_item(TableName="t", Item=item("PRODUCT#p-1", stock="7"))
    cloud.settle()
    outage = cloud.fault(kind="outage", region="us-east-1", mode="fail")
    cloud.clock.now += 1
    cloud.tables["eu-west-1"].put_item(TableName="t", Item=item("PRODUCT#p-1", stock="5"))
    cloud.clock.now += 60
    cloud.settle()

    cloud.faults.clear(outage)
    cloud.clock.now += 1
    cloud.settle(rounds=10)

    assert cloud.everywhere("PRODUCT#p-1") == [item("PRODUCT#p-1", stock="5")] * 3
    assert cloud.replicator.backlog == 0


# --- the stream poller ---------------------------------------------------------------


def event_record(sequence: int, pk: str, made_at: float = T0) -> dict[str, Any]:
    image = {"pk": {"S": pk}, "sk": {"S": "EVENT#0000000001"}, "recordKind": {"S": "EVENT"}}
    change = {
        "ApproximateCreationDateTime": datetime.fromtimestamp(made_at, UTC),
        "SequenceNumber": str(sequence),
        "Keys": {"pk": image["pk"], "sk": image["sk"]},
        "NewImage": image,
    }
    return {"eventName": "INSERT", "dynamodb": change}


class OneBatch:
    """A stream reader that has one batch, then nothing."""

    stream_arn = "arn:aws:dynamodb:us-east-1:123456789012:table/gateway-write/stream/x"

    def __init__(self, batch: list[dict[str, Any]]) -> None:
        self._batch = batch

    def read(self) -> list[dict[str, Any]]:
        batch, self._batch = self._batch, []
        return batch


class Projector:
    """The stream handler: applies every record it is given, and remembers them."""

    def __init__(self) -> None:
        self.invocations: list[list[str]] = []
        self.applied: list[str] = []
        self.watch: Any = None

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        pks = [record["dynamodb"]["NewImage"]["pk"]["S"] for record in event["Records"]]
        self.invocations.append(pks)
        if self.watch is not None:
            self.watch()
        self.applied += pks
        return {"batchItemFailures": []}


def poller_for(
    batch: list[dict[str, Any]], faults: FaultRegistry, clock: ManualClock | None = None
) -> tuple[StreamPoller, Projector, list[str]]:
    projector, parked = Projector(), []

    def park(record: dict[str, Any], attempts: int) -> None:
        parked.append(record["dynamodb"]["NewImage"]["pk"]["S"])

    poller = StreamPoller(
        "us-east-1",
        OneBatch(batch),  # type: ignore[arg-type]
        projector,
        park=park,
        faults=faults,
        clock=clock or ManualClock(),
    )
    return poller, projector, parked


def crash(faults: FaultRegistry, **body: Any) -> str:
    return faults.add(FaultSpec.from_json({"kind": "crash", **body}, REGIONS)).id


def test_a_crash_on_one_order_parks_it_and_projects_its_neighbours() -> None:
    """GIVEN a crash on ORDER#o-2 in us-east-1 WHEN a batch of o-1, o-2, o-3 is delivered
    THEN the batch is split around the crash, o-1 and o-3 are applied, and o-2 is parked
    after three crashed deliveries of its own."""
    faults = FaultRegistry()
    crash(faults, region="us-east-1", match="ORDER#o-2")
    batch = [event_record(n, f"ORDER#o-{n}") for n in (1, 2, 3)]
    poller, projector, parked = poller_for(batch, faults)

    poller.step()

    assert projector.applied == ["ORDER#o-1", "ORDER#o-3"]
    assert parked == ["ORDER#o-2"]
    assert poller.lag() == (0, 0)


def test_a_crash_that_runs_out_lets_a_retry_apply_the_record() -> None:
    """GIVEN a crash on o-2 twice WHEN o-2 is delivered THEN the third delivery applies it
    and nothing is parked."""
    faults = FaultRegistry()
    crash(faults, region="us-east-1", match="o-2", times=2)
    poller, projector, parked = poller_for([event_record(2, "ORDER#o-2")], faults)

    poller.step()

    assert (projector.applied, parked, faults.active()) == (["ORDER#o-2"], [], [])


def test_a_crash_matches_only_its_region_and_star_matches_every_record() -> None:
    faults = FaultRegistry()
    crash(faults, region="eu-west-1", match="*")
    batch = [event_record(n, f"PRODUCT#p-{n}") for n in (1, 2)]
    here, here_projector, _ = poller_for(batch, faults)
    here.step()
    crash(faults, region="us-east-1", match="*")
    everything, _, parked = poller_for(batch, faults)
    everything.step()

    assert here_projector.applied == ["PRODUCT#p-1", "PRODUCT#p-2"]
    assert parked == ["PRODUCT#p-1", "PRODUCT#p-2"]


def test_a_record_that_cannot_be_parked_is_delivered_again_not_lost() -> None:
    """GIVEN a crash on o-1 and a dead-letter store that is down WHEN the poller steps
    THEN the step fails; WHEN the store and handler recover THEN o-1 is delivered again
    (from memory: the stream will not show it twice) and applied."""
    faults = FaultRegistry()
    fault = crash(faults, region="us-east-1", match="o-1")
    projector = Projector()
    store_down = [True]

    def park(record: dict[str, Any], attempts: int) -> None:
        if store_down[0]:
            raise ClientError({"Error": {"Code": "ServiceUnavailable"}}, "PutItem")  # type: ignore[typeddict-item]

    reader = OneBatch([event_record(1, "ORDER#o-1")])
    poller = StreamPoller("us-east-1", reader, projector, park=park, faults=faults)  # type: ignore[arg-type]
    with pytest.raises(ClientError):
        poller.step()
    waiting = poller.lag()[1]
    faults.clear(fault)
    store_down[0] = False

    poller.step()

    assert (waiting, projector.applied, poller.lag()) == (1, ["ORDER#o-1"], (0, 0))


def test_the_projection_lag_is_the_age_of_the_oldest_record_not_yet_applied() -> None:
    """GIVEN records made at T0 and T0 + 1 s WHEN the handler runs at T0 + 3 s THEN the
    poller reports 3000 ms and 2 waiting; after the batch, 0 and 0."""
    clock = ManualClock()
    clock.now = T0 + 3
    batch = [event_record(1, "ORDER#o-1", T0), event_record(2, "ORDER#o-2", T0 + 1)]
    poller, projector, _ = poller_for(batch, FaultRegistry(), clock)
    seen: list[tuple[int, int]] = []
    projector.watch = lambda: seen.append(poller.lag())

    poller.step()

    assert seen == [(3000, 2)]
    assert poller.lag() == (0, 0)


# --- subscriber disconnects ---------------------------------------------------------


class FakeConnection:
    def __init__(self) -> None:
        self.closed: tuple[int, str] | None = None

    async def drop(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


def test_dropping_a_regions_subscribers_closes_each_open_socket() -> None:
    subscriptions = Subscriptions(None, {})  # type: ignore[arg-type]
    sockets = [FakeConnection(), FakeConnection(), FakeConnection()]
    for socket in sockets:
        subscriptions.sockets.opened(socket, "127.0.0.1")
        subscriptions.sockets.acknowledged(socket, "da2-key")
    subscriptions.sockets.closed(sockets[2])

    closed = asyncio.run(subscriptions.drop_all(1012, "reconnect"))

    assert closed == 2
    assert [socket.closed for socket in sockets] == [(1012, "reconnect")] * 2 + [None]
