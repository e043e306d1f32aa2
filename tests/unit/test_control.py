"""The control record: each region's cached view of where writes go and whether they are taken."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from domain.control import Control, ControlRecord
from domain.errors import PrimaryUnavailable
from domain.primary_store import PrimaryWriteStore
from domain.store import Change

from .fakes import FakeControlClient, ManualClock, control_item

DEFAULT = Control("us-east-1", "ACTIVE", 0)
TTL_S = 5.0


def _record(client: FakeControlClient, clock: ManualClock, ttl_s: float = TTL_S) -> ControlRecord:
    return ControlRecord(client, "gateway-write", DEFAULT, ttl_s, clock)


def test_without_a_control_item_the_deployment_default_holds() -> None:
    """GIVEN no control item in this region's replica WHEN the control is asked for THEN it
    is the deployment's primary, ACTIVE, epoch 0, and writes are taken."""
    record = _record(FakeControlClient(), ManualClock())

    assert record.current() == DEFAULT
    assert record.writable() == DEFAULT


def test_the_control_item_overrides_the_default() -> None:
    """GIVEN a control item naming eu-west-1, READ_ONLY, epoch 3 WHEN asked THEN that is
    the control, and a write is refused with PrimaryUnavailable saying reads still work."""
    record = _record(FakeControlClient(control_item("eu-west-1", "READ_ONLY", 3)), ManualClock())

    assert record.current() == Control("eu-west-1", "READ_ONLY", 3)
    with pytest.raises(PrimaryUnavailable, match="paused by the operator") as refused:
        record.writable()
    assert "reads still work" in refused.value.message


def test_within_the_ttl_the_cached_control_is_reused_without_a_read() -> None:
    """GIVEN a control read at t=0 WHEN it is asked for again up to just before the TTL,
    even after the item changed THEN the replica was read once and the first answer holds."""
    client = FakeControlClient(control_item("eu-west-1", "ACTIVE", 1))
    clock = ManualClock()
    record = _record(client, clock)
    first = record.current()
    client.item = control_item("eu-west-1", "READ_ONLY", 2)

    answers = []
    for now in (0.0, 1.0, TTL_S - 0.001):
        clock.now = now
        answers.append(record.current())

    assert answers == [first] * 3
    assert client.reads == 1


def test_after_the_ttl_the_control_is_read_again() -> None:
    """GIVEN a control read at t=0 and then changed by the operator WHEN asked at t=TTL
    THEN the replica is read again and the new control holds, then is cached in turn."""
    client = FakeControlClient(control_item("eu-west-1", "ACTIVE", 1))
    clock = ManualClock()
    record = _record(client, clock)
    record.current()
    client.item = control_item("eu-west-1", "READ_ONLY", 2)

    clock.now = TTL_S
    changed = record.current()
    clock.now = TTL_S + 1.0
    again = record.current()

    assert changed == again == Control("eu-west-1", "READ_ONLY", 2)
    assert client.reads == 2


def test_a_deleted_control_item_gives_back_the_default() -> None:
    """GIVEN a READ_ONLY control item WHEN the operator deletes it THEN after the TTL the
    deployment default (ACTIVE) holds again."""
    client = FakeControlClient(control_item("eu-west-1", "READ_ONLY", 4))
    clock = ManualClock()
    record = _record(client, clock)
    record.current()

    client.item = None
    clock.now = TTL_S

    assert record.current() == DEFAULT


def test_a_zero_ttl_reads_on_every_call() -> None:
    """GIVEN a TTL of 0 WHEN asked three times at the same instant THEN each is a read."""
    client = FakeControlClient(control_item())
    record = _record(client, ManualClock(), ttl_s=0)

    for _ in range(3):
        record.current()

    assert client.reads == 3


@pytest.mark.parametrize(
    "failure",
    [
        ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "GetItem"),
        EndpointConnectionError(endpoint_url="https://dynamodb.eu-west-1.amazonaws.com"),
    ],
    ids=["throttled", "unreachable"],
)
def test_a_failed_read_keeps_the_last_known_control_until_the_next_expiry(
    failure: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    """GIVEN a READ_ONLY control read at t=0 WHEN the replica cannot be read at t=TTL
    THEN the region keeps READ_ONLY instead of failing, logs a warning, does not read again
    before the next expiry, and picks up the item once the replica answers."""
    client = FakeControlClient(control_item("eu-west-1", "READ_ONLY", 5))
    clock = ManualClock()
    record = _record(client, clock)
    known = record.current()

    client.failure = failure
    clock.now = TTL_S
    with caplog.at_level(logging.WARNING, logger="gateway.control"):
        during = [record.current(), record.current()]
    clock.now = TTL_S + TTL_S / 2
    during.append(record.current())
    reads_while_failing = client.reads

    client.failure = None
    client.item = control_item("eu-west-1", "ACTIVE", 6)
    clock.now = 2 * TTL_S
    recovered = record.current()

    assert during == [known] * 3
    assert reads_while_failing == 2
    assert "control record unreadable" in caplog.text
    assert recovered == Control("eu-west-1", "ACTIVE", 6)


def test_a_read_slower_than_the_ttl_is_reused_for_the_ttl_after_it_ends() -> None:
    """GIVEN a replica that hangs until the client gives up, longer than the TTL WHEN the
    control is asked for again right after that read failed THEN it is not read again
    (each call would otherwise wait out the timeout) until a TTL has passed."""

    class Hanging(FakeControlClient):
        def get_item(self, *, TableName: str, Key: dict[str, Any]) -> dict[str, Any]:
            clock.advance(1.6)  # the client's timeouts
            return super().get_item(TableName=TableName, Key=Key)

    clock = ManualClock()
    client = Hanging(control_item("eu-west-1", "ACTIVE", 2))
    record = _record(client, clock, ttl_s=0.1)
    known = record.current()
    client.failure = EndpointConnectionError(endpoint_url="https://dynamodb.local")
    clock.advance(0.1)

    answers = [record.current(), record.current()]
    reads_right_after = client.reads
    clock.advance(0.1)
    answers.append(record.current())

    assert answers == [known] * 3
    assert reads_right_after == 2
    assert client.reads == 3


def test_a_failed_first_read_serves_the_default() -> None:
    """GIVEN a region that has never read the control WHEN its replica cannot be read
    THEN the deployment default holds: the region keeps taking writes as deployed."""
    client = FakeControlClient()
    client.failure = EndpointConnectionError(endpoint_url="https://dynamodb.local")

    assert _record(client, ManualClock()).current() == DEFAULT


def _broken(**changes: Any) -> dict[str, Any]:
    item = control_item("eu-west-1", "READ_ONLY", 7)
    for name, value in changes.items():
        if value is None:
            item.pop(name)
        else:
            item[name] = value
    return item


@pytest.mark.parametrize(
    ("item", "named"),
    [
        (_broken(mode={"S": "BANANA"}), "mode"),
        (_broken(mode={"S": "read_only"}), "mode"),
        (_broken(epoch={"S": "x"}), "epoch"),
        (_broken(epoch={"N": "1.5"}), "epoch"),
        (_broken(epoch={"N": "-1"}), "epoch"),
        (_broken(epoch=None), "epoch"),
        (_broken(primaryRegion=None), "primaryRegion"),
        (_broken(primaryRegion={"S": ""}), "primaryRegion"),
        (_broken(primaryRegion={"S": "eu west 1"}), "primaryRegion"),
        (_broken(primaryRegion={"N": "1"}), "primaryRegion"),
    ],
    ids=[
        "mode BANANA",
        "mode lower case",
        "epoch not a number",
        "epoch a fraction",
        "epoch negative",
        "no epoch",
        "no primaryRegion",
        "empty primaryRegion",
        "primaryRegion with spaces",
        "primaryRegion a number",
    ],
)
def test_a_malformed_control_item_is_ignored_and_logged(
    item: dict[str, Any], named: str, caplog: pytest.LogCaptureFixture
) -> None:
    """GIVEN a region that last read eu-west-1 ACTIVE epoch 1 WHEN the operator writes a
    control item with a bad attribute THEN the region keeps what it knew (a typo neither
    moves the primary nor pauses writes) and logs an error naming the attribute."""
    client = FakeControlClient(control_item("eu-west-1", "ACTIVE", 1))
    clock = ManualClock()
    record = _record(client, clock)
    known = record.current()

    client.item = item
    clock.now = TTL_S
    with caplog.at_level(logging.ERROR, logger="gateway.control"):
        seen = record.current()

    assert seen == known
    assert "control record in table gateway-write (this region) ignored" in caplog.text
    assert f"({named} must" in caplog.text


def test_a_malformed_control_item_before_any_good_one_leaves_the_default() -> None:
    """GIVEN a fresh region WHEN the only control item has mode BANANA THEN the default holds."""
    record = _record(FakeControlClient(_broken(mode={"S": "BANANA"})), ManualClock())

    assert record.current() == DEFAULT


class RegionClients:
    """Makes a stand-in client per region and remembers each request for one."""

    def __init__(self) -> None:
        self.made: list[str] = []

    def __call__(self, region: str) -> object:
        self.made.append(region)
        return object()


def test_the_write_store_makes_each_region_client_once_on_first_use() -> None:
    """GIVEN a write store following the control WHEN it is built THEN it has made no
    client (nothing on the cold-start path); WHEN the operator moves the primary to
    eu-west-1 and back THEN writes follow, and each region's client was made once."""
    client, clock, clients = FakeControlClient(), ManualClock(), RegionClients()
    store = PrimaryWriteStore(_record(client, clock), clients)
    built = list(clients.made)

    first = store.client
    client.item = control_item("eu-west-1", "ACTIVE", 1)
    clock.now = TTL_S
    moved = store.client
    client.item = control_item("us-east-1", "ACTIVE", 2)
    clock.now = 2 * TTL_S
    back = store.client

    assert built == []
    assert moved is not first
    assert back is first
    assert clients.made == ["us-east-1", "eu-west-1"]


def test_a_commit_while_paused_is_refused_before_any_client_is_made() -> None:
    """GIVEN the control at READ_ONLY WHEN a change is committed straight to the write
    store (no resolver in front) THEN PrimaryUnavailable, and no region's table was even
    reached: the store's own guard holds whoever calls it."""
    clients = RegionClients()
    store = PrimaryWriteStore(
        _record(FakeControlClient(control_item("us-east-1", "READ_ONLY", 1)), ManualClock()),
        clients,
    )
    change = Change("PRODUCT", "p-1", {"id": "p-1", "version": 1}, 0, [])

    with pytest.raises(PrimaryUnavailable, match="paused by the operator"):
        store.commit(change)

    assert clients.made == []


def _with_peer(
    own: FakeControlClient, peer: FakeControlClient, clock: ManualClock
) -> ControlRecord:
    return ControlRecord(own, "gateway-write", DEFAULT, TTL_S, clock, peers={"eu-west-1": peer})


def test_a_peers_copy_with_a_higher_epoch_wins_over_this_regions_stale_one() -> None:
    """GIVEN us-east-1, lost during a forced failover, back with its own copy still naming
    itself ACTIVE at epoch 0, and eu-west-1's copy naming eu-west-1 at epoch 1 WHEN
    us-east-1 asks where writes go THEN to eu-west-1: it does not take writes itself."""
    own = FakeControlClient(control_item("us-east-1", "ACTIVE", 0))
    peer = FakeControlClient(control_item("eu-west-1", "ACTIVE", 1))

    control = _with_peer(own, peer, ManualClock()).writable()

    assert control == Control("eu-west-1", "ACTIVE", 1)


def test_this_regions_copy_wins_when_it_is_newer_or_as_new() -> None:
    """GIVEN a peer that trails (its copy is older, or has none) WHEN asked THEN this
    region's own copy holds; on an equal epoch, too."""
    own = FakeControlClient(control_item("eu-west-1", "READ_ONLY", 3))
    trailing = FakeControlClient(control_item("us-east-1", "ACTIVE", 2))
    empty = FakeControlClient()
    equal = FakeControlClient(control_item("us-east-1", "ACTIVE", 3))

    answers = [_with_peer(own, peer, ManualClock()).current() for peer in (trailing, empty, equal)]

    assert answers == [Control("eu-west-1", "READ_ONLY", 3)] * 3


def test_an_unreachable_peer_keeps_its_last_copy_and_is_not_asked_again_at_once() -> None:
    """GIVEN a peer read once (epoch 2), then lost WHEN the control is refreshed every TTL
    THEN its last copy still counts, and it is asked again only after PEER_RETRY_S, so a
    hanging peer does not cost every refresh a timeout."""
    from domain.control import PEER_RETRY_S

    clock = ManualClock()
    own = FakeControlClient(control_item("us-east-1", "ACTIVE", 1))
    peer = FakeControlClient(control_item("eu-west-1", "ACTIVE", 2))
    record = ControlRecord(own, "gateway-write", DEFAULT, 0.1, clock, peers={"eu-west-1": peer})
    record.current()
    peer.failure = EndpointConnectionError(endpoint_url="https://dynamodb.eu-west-1")

    answers = []
    for _ in range(5):
        clock.advance(0.1)
        answers.append(record.current())
    reads_while_lost = peer.reads
    clock.advance(PEER_RETRY_S)
    record.current()

    assert answers == [Control("eu-west-1", "ACTIVE", 2)] * 5
    assert reads_while_lost == 2  # the first read, and the one that failed
    assert peer.reads == 3
