"""The fault registry, the fault descriptions it accepts, and the gate in front of moto."""

from __future__ import annotations

import io
import json
import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from emulator.chaos.faults import BadFault, FaultRegistry, FaultSpec
from emulator.chaos.gate import OPERATOR_HEADER, fault_gate, region_of

from .fakes import ManualClock

REGIONS = ("us-east-1", "eu-west-1")
SIGNED = (
    "AWS4-HMAC-SHA256 Credential=AKIAGATEWAYLOCAL0001/20240501/{region}/dynamodb/aws4_request, "
    "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0123abcd"
)


def spec(**body: Any) -> FaultSpec:
    return FaultSpec.from_json(body, REGIONS)


def poll_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait for another thread to reach a state, in bounded waits."""
    pause, deadline = threading.Event(), time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        pause.wait(0.005)


# --- the registry ------------------------------------------------------------------


def test_faults_are_listed_oldest_first_with_ids_and_start_times_and_cleared_by_id() -> None:
    """GIVEN an outage then a crash WHEN listed, and the outage is cleared THEN each has
    its own id and start time, and clearing one leaves the other on."""
    clock = ManualClock()
    clock.now = 1_714_564_800.0
    faults = FaultRegistry(clock)
    outage = faults.add(spec(kind="outage", region="us-east-1"))
    clock.now += 2.5
    crash = faults.add(spec(kind="crash", region="eu-west-1", match="ORDER#"))

    listed = [fault.to_json() for fault in faults.active()]
    cleared = faults.clear(outage.id)

    assert [fault["id"] for fault in listed] == ["outage-1", "crash-2"]
    assert listed[0] == {
        "id": "outage-1",
        "kind": "outage",
        "region": "us-east-1",
        "mode": "fail",
        "startedAt": "2024-05-01T12:00:00.000Z",
    }
    assert listed[1]["startedAt"] == "2024-05-01T12:00:02.500Z"
    assert cleared == outage
    assert faults.active() == [crash]
    assert faults.clear(outage.id) is None
    assert faults.outage("us-east-1") is None


def test_a_second_outage_replaces_the_first_and_a_second_pause_is_the_same_pause() -> None:
    """GIVEN an outage that fails and a replication pause WHEN the outage is set to hang
    and the pause is asked for again THEN the region has one outage, hanging, and there
    is still one pause, with its first id: one `--resume` undoes it."""
    faults = FaultRegistry()
    faults.add(spec(kind="outage", region="us-east-1"))
    pause = faults.add(spec(kind="replication-pause"))

    hang = faults.add(spec(kind="outage", region="us-east-1", mode="hang"))
    again = faults.add(spec(kind="replication-pause"))
    faults.add(spec(kind="outage", region="eu-west-1"))

    assert faults.outage("us-east-1") == hang
    assert again == pause
    assert [fault.kind for fault in faults.active()] == ["replication-pause", "outage", "outage"]


def test_clear_all_switches_every_fault_off() -> None:
    faults = FaultRegistry()
    faults.add(spec(kind="throttle", region="eu-west-1", rate=0.5))
    faults.add(spec(kind="replication-lag", lagMs=250))

    cleared = faults.clear_all()

    assert [fault.kind for fault in cleared] == ["throttle", "replication-lag"]
    assert faults.active() == []
    assert faults.replication_lag_ms(configured=40) == 40
    assert not faults.throttles("eu-west-1")


def test_replication_faults_set_the_pause_and_replace_the_configured_lag() -> None:
    faults = FaultRegistry()
    assert (faults.replication_paused(), faults.replication_lag_ms(configured=40)) == (False, 40)

    faults.add(spec(kind="replication-pause"))
    faults.add(spec(kind="replication-lag", lagMs=0))

    assert (faults.replication_paused(), faults.replication_lag_ms(configured=40)) == (True, 0)


def test_a_disconnect_is_an_action_and_is_never_stored() -> None:
    with pytest.raises(BadFault, match="action"):
        FaultRegistry().add(spec(kind="disconnect"))


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        (0.3, [False, False, False, True, False, False, True, False, False, True] * 2),
        (0.5, [False, True] * 10),
        (1.0, [True] * 20),
    ],
)
def test_a_throttle_refuses_exactly_its_share_the_same_way_every_run(
    rate: float, expected: list[bool]
) -> None:
    """GIVEN a throttle at a rate WHEN 20 requests come THEN the refused ones are evenly
    spread, exactly rate x 20 of them, and another registry refuses the same ones."""
    runs = []
    for _ in range(2):
        faults = FaultRegistry()
        faults.add(spec(kind="throttle", region="us-east-1", rate=rate))
        runs.append([faults.throttles("us-east-1") for _ in range(20)])

    assert runs == [expected, expected]
    assert sum(expected) == round(rate * 20)


def test_a_throttle_leaves_other_regions_alone() -> None:
    faults = FaultRegistry()
    faults.add(spec(kind="throttle", region="us-east-1", rate=1.0))
    assert [faults.throttles("eu-west-1") for _ in range(5)] == [False] * 5


def test_a_crash_matches_part_of_a_pk_or_star_and_counts_itself_off() -> None:
    """GIVEN a crash on ORDER#o-2 twice, and one on everything in the other region WHEN
    batches are checked THEN only batches holding o-2 crash, twice, then the fault is off;
    * matches any record."""
    faults = FaultRegistry()
    twice = faults.add(spec(kind="crash", region="us-east-1", match="ORDER#o-2", times=2))
    every = faults.add(spec(kind="crash", region="eu-west-1", match="*"))

    checks = [
        faults.crash("us-east-1", ["ORDER#o-1", "PRODUCT#p-1"]),
        faults.crash("us-east-1", ["ORDER#o-1", "ORDER#o-2"]),
        faults.crash("us-east-1", ["ORDER#o-2"]),
        faults.crash("us-east-1", ["ORDER#o-2"]),
    ]

    assert [fault.id if fault else None for fault in checks] == [None, twice.id, twice.id, None]
    assert faults.active() == [every]
    assert faults.crash("eu-west-1", ["CUSTOMER#c-1"]) == every
    assert faults.crash("eu-west-1", ["CUSTOMER#c-1"]) == every


# --- what a client may ask for -----------------------------------------------------


def test_every_kind_is_read_from_its_json_form() -> None:
    assert spec(kind="outage", region="eu-west-1", mode="hang").to_json() == {
        "kind": "outage",
        "region": "eu-west-1",
        "mode": "hang",
    }
    assert spec(kind="throttle", region="us-east-1", rate=1).rate == 1.0
    assert spec(kind="replication-lag", lagMs=1500).lag_ms == 1500
    assert spec(kind="crash", region="us-east-1", match="*", times=3).times == 3
    assert spec(kind="disconnect").region is None


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ([], "JSON object"),
        ("outage", "JSON object"),
        ({}, "'kind' must be one of"),
        ({"kind": "meteor"}, "'kind' must be one of"),
        ({"kind": ["outage"]}, "'kind' must be one of"),
        ({"kind": "outage"}, "outage needs 'region'"),
        ({"kind": "outage", "region": "mars-1"}, "must be one of this deployment's"),
        ({"kind": "outage", "region": None}, "must be one of this deployment's"),
        ({"kind": "outage", "region": "us-east-1", "mode": "explode"}, "'mode' must be one of"),
        ({"kind": "outage", "region": "us-east-1", "rate": 1}, "does not take 'rate'"),
        ({"kind": "throttle", "region": "us-east-1"}, "needs 'rate'"),
        ({"kind": "throttle", "region": "us-east-1", "rate": 0}, "greater than 0"),
        ({"kind": "throttle", "region": "us-east-1", "rate": -0.1}, "greater than 0"),
        ({"kind": "throttle", "region": "us-east-1", "rate": 1.01}, "at most 1"),
        ({"kind": "throttle", "region": "us-east-1", "rate": float("nan")}, "at most 1"),
        ({"kind": "throttle", "region": "us-east-1", "rate": float("inf")}, "at most 1"),
        ({"kind": "throttle", "region": "us-east-1", "rate": True}, "must be a number"),
        ({"kind": "throttle", "region": "us-east-1", "rate": "0.5"}, "must be a number"),
        ({"kind": "replication-lag"}, "needs 'lagMs'"),
        ({"kind": "replication-lag", "lagMs": -1}, "'lagMs' must be from 0"),
        ({"kind": "replication-lag", "lagMs": 10**12}, "'lagMs' must be from 0"),
        ({"kind": "replication-lag", "lagMs": 2.5}, "whole number"),
        ({"kind": "replication-pause", "region": "us-east-1"}, "takes: nothing else"),
        ({"kind": "crash", "region": "us-east-1"}, "needs 'match'"),
        ({"kind": "crash", "region": "us-east-1", "match": "  "}, "non-empty string"),
        ({"kind": "crash", "region": "us-east-1", "match": "x" * 257}, "at most 256"),
        ({"kind": "crash", "region": "us-east-1", "match": "*", "times": 0}, "'times'"),
        ({"kind": "disconnect", "region": "mars-1"}, "must be one of this deployment's"),
    ],
)
def test_a_bad_fault_is_refused_with_what_to_fix(body: object, complaint: str) -> None:
    with pytest.raises(BadFault) as refused:
        FaultSpec.from_json(body, REGIONS)
    assert complaint in str(refused.value)


# --- the region a call is for -------------------------------------------------------


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "ap-southeast-2"])
def test_the_region_is_read_from_the_sigv4_credential_scope(region: str) -> None:
    assert region_of(SIGNED.format(region=region)) == region


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "garbage",
        "Bearer eyJhbGciOi.x.y",
        "AWS4-HMAC-SHA256",
        "AWS4-HMAC-SHA256 Credential=AKID/20240501/dynamodb/aws4_request",
        "AWS4-HMAC-SHA256 Credential=AKID/20240501//dynamodb/aws4_request",
        "AWS4-HMAC-SHA256 Credential=AKID/2024/us-east-1/dynamodb/aws4_request",
        "AWS4-HMAC-SHA256 Credential=AKID/20240501/us_east_1/dynamodb/aws4_request",
        "AWS4-HMAC-SHA256 Credential=AKID/20240501/-us-east-1/dynamodb/aws4_request",
        "AWS4-HMAC-SHA256 Credential=AKID/20240501/us-east-1;drop/dynamodb/aws4_request",
        "AWS4-HMAC-SHA256 Credential=AKID/20240501/us-east-1/dynamodb/aws4_requestX",
        "AWS4-HMAC-SHA256 Credential=" + "A/" * 5000 + "20240501/us-east-1/dynamodb/aws4_request",
        "AWS4-HMAC-SHA256 Credential=AKID/20240501/" + "a" * 70 + "/dynamodb/aws4_request",
    ],
)
def test_a_header_without_a_readable_region_names_none(header: str | None) -> None:
    assert region_of(header) is None


# --- the gate in front of moto ------------------------------------------------------


class FakeMoto:
    """The WSGI app behind the gate: counts the calls that reached it, and answers each
    with ``status``."""

    def __init__(self, status: str = "200 OK") -> None:
        self.calls = 0
        self.status = status

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.calls += 1
        start_response(self.status, [("Content-Type", "application/x-amz-json-1.0")])
        return [b"{}"]


def call(
    gate: Any,
    region: str | None,
    target: str = "DynamoDB_20120810.PutItem",
    socket_end: socket.socket | None = None,
    **headers: str,
) -> tuple[str, dict[str, Any]]:
    """One request through the gate (from ``socket_end``'s client, when given);
    ``(status, JSON body)``."""
    body = b'{"TableName": "gateway-write"}'
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "HTTP_X_AMZ_TARGET": target,
        **{f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()},
    }
    if region is not None:
        environ["HTTP_AUTHORIZATION"] = SIGNED.format(region=region)
    if socket_end is not None:
        environ["werkzeug.socket"] = socket_end
    answered: list[str] = []
    chunks = gate(environ, lambda status, _headers: answered.append(status))
    return answered[0], json.loads(b"".join(chunks))


def test_an_outage_answers_503_for_its_region_only_and_never_reaches_moto() -> None:
    """GIVEN an outage in us-east-1 WHEN calls come for both regions, and unsigned THEN
    us-east-1's (tables and streams) get 503 ServiceUnavailable, which botocore retries
    and then raises, and the others reach moto."""
    moto, faults = FakeMoto(), FaultRegistry()
    gate = fault_gate(moto, faults)
    faults.add(spec(kind="outage", region="us-east-1"))

    table = call(gate, "us-east-1")
    stream = call(gate, "us-east-1", "DynamoDBStreams_20120810.GetRecords")
    other = call(gate, "eu-west-1")
    unsigned = call(gate, None)

    assert table[0] == stream[0] == "503 Service Unavailable"
    assert table[1]["__type"] == "com.amazonaws.dynamodb.v20120810#ServiceUnavailable"
    assert "outage-1" in table[1]["message"]
    assert other[0] == unsigned[0] == "200 OK"
    assert moto.calls == 2


def test_a_hung_call_waits_for_the_cap_and_is_never_applied() -> None:
    """GIVEN an outage that hangs, with a 50 ms cap WHEN a call comes THEN it is held at
    least the cap, answered 503, and moto never sees it."""
    moto, faults = FakeMoto(), FaultRegistry()
    gate = fault_gate(moto, faults, hang_cap_s=0.05)
    faults.add(spec(kind="outage", region="eu-west-1", mode="hang"))

    started = time.monotonic()
    status, _ = call(gate, "eu-west-1")

    assert time.monotonic() - started >= 0.05
    assert (status, moto.calls) == ("503 Service Unavailable", 0)


def test_a_hung_call_is_let_go_when_the_outage_is_cleared() -> None:
    """GIVEN a call held by a hang (cap 30 s) WHEN the outage is cleared THEN the call is
    answered at once, and later calls reach moto."""
    moto, faults = FakeMoto(), FaultRegistry()
    gate = fault_gate(moto, faults)
    hang = faults.add(spec(kind="outage", region="eu-west-1", mode="hang"))
    answers: list[str] = []
    held = threading.Thread(target=lambda: answers.append(call(gate, "eu-west-1")[0]))
    held.start()
    poll_until(lambda: faults.held == 1)

    faults.clear(hang.id)
    held.join(timeout=5)

    assert answers == ["503 Service Unavailable"]
    assert call(gate, "eu-west-1")[0] == "200 OK"
    assert moto.calls == 1


def test_a_throttle_refuses_table_reads_and_writes_only() -> None:
    """GIVEN a throttle at rate 1 WHEN a write, a stream read and a DescribeTable come
    THEN the write gets ProvisionedThroughputExceededException and the others pass."""
    moto, faults = FakeMoto(), FaultRegistry()
    gate = fault_gate(moto, faults)
    faults.add(spec(kind="throttle", region="us-east-1", rate=1.0))

    write = call(gate, "us-east-1", "DynamoDB_20120810.TransactWriteItems")
    stream = call(gate, "us-east-1", "DynamoDBStreams_20120810.GetRecords")
    describe = call(gate, "us-east-1", "DynamoDB_20120810.DescribeTable")

    assert write == (
        "400 Bad Request",
        {
            "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
            "message": write[1]["message"],
        },
    )
    assert stream[0] == describe[0] == "200 OK"


def test_the_operators_own_calls_pass_every_fault() -> None:
    moto, faults = FakeMoto(), FaultRegistry()
    gate = fault_gate(moto, faults)
    faults.add(spec(kind="outage", region="us-east-1", mode="hang"))
    status, _ = call(gate, "us-east-1", **{OPERATOR_HEADER: "1"})
    assert (status, moto.calls) == ("200 OK", 1)


# --- lost replies -------------------------------------------------------------------


def test_a_lost_reply_counts_itself_off_or_stays_until_cleared() -> None:
    """GIVEN a lost reply twice in us-east-1, and one with no count in eu-west-1
    WHEN writes land THEN us-east-1 loses two replies and its fault is then off; eu-west-1
    loses every one, and shows no count."""
    faults = FaultRegistry()
    twice = faults.add(spec(kind="lost-reply", region="us-east-1", times=2))
    always = faults.add(spec(kind="lost-reply", region="eu-west-1"))

    lost = [faults.lose_reply("us-east-1") for _ in range(3)]

    assert [fault.id if fault else None for fault in lost] == [twice.id, twice.id, None]
    assert faults.active() == [always]
    assert [faults.lose_reply("eu-west-1") for _ in range(5)] == [always] * 5
    assert always.to_json().keys() == {"id", "kind", "region", "startedAt"}


def test_a_second_lost_reply_in_a_region_replaces_the_first() -> None:
    faults = FaultRegistry()
    faults.add(spec(kind="lost-reply", region="us-east-1"))

    again = faults.add(spec(kind="lost-reply", region="us-east-1", times=3))

    assert faults.active() == [again]
    assert faults.lost_reply("us-east-1") == again
    assert again.to_json()["times"] == 3


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ({"kind": "lost-reply"}, "lost-reply needs 'region'"),
        ({"kind": "lost-reply", "region": "mars-1"}, "must be one of this deployment's"),
        ({"kind": "lost-reply", "region": "us-east-1", "times": 0}, "'times' must be from 1"),
        ({"kind": "lost-reply", "region": "us-east-1", "times": -2}, "'times' must be from 1"),
        ({"kind": "lost-reply", "region": "us-east-1", "times": "2"}, "whole number"),
        ({"kind": "lost-reply", "region": "us-east-1", "times": True}, "whole number"),
        ({"kind": "lost-reply", "region": "us-east-1", "times": 1.5}, "whole number"),
        ({"kind": "lost-reply", "region": "us-east-1", "times": 10**9}, "'times' must be from"),
        ({"kind": "lost-reply", "region": "us-east-1", "mode": "hang"}, "does not take 'mode'"),
    ],
)
def test_a_bad_lost_reply_is_refused_with_what_to_fix(body: object, complaint: str) -> None:
    with pytest.raises(BadFault) as refused:
        FaultSpec.from_json(body, REGIONS)
    assert complaint in str(refused.value)


class Client:
    """The client end of a request: a local socket pair, as werkzeug hands the server's
    end to the app in ``werkzeug.socket``."""

    def __init__(self) -> None:
        self.end, self.server_end = socket.socketpair()

    def hang_up(self) -> None:
        self.end.close()

    def heard_hang_up(self) -> bool:
        """Whether the server closed the connection (an end of file, no answer)."""
        self.end.settimeout(5)
        return self.end.recv(1) == b""


def lose(
    gate: Any, region: str, target: str = "DynamoDB_20120810.TransactWriteItems"
) -> tuple[Client, threading.Thread, list[str]]:
    """One write through the gate, on a thread of its own, from a client that waits."""
    client, answered = Client(), []

    def send() -> None:
        answered.append(call(gate, region, target, socket_end=client.server_end)[0])

    thread = threading.Thread(target=send)
    thread.start()
    return client, thread, answered


def test_a_lost_reply_applies_the_write_and_answers_nothing_until_the_client_gives_up() -> None:
    """GIVEN a lost reply in us-east-1
    WHEN a transaction comes THEN moto applies it, and the client hears nothing;
    WHEN the client gives up (its read timeout) THEN the gate hangs up on it, answering
    nothing, and the fault was used once."""
    moto, faults = FakeMoto(), FaultRegistry()
    gate = fault_gate(moto, faults)
    faults.add(spec(kind="lost-reply", region="us-east-1", times=2))

    client, thread, answered = lose(gate, "us-east-1")
    poll_until(lambda: moto.calls == 1)
    waiting = thread.is_alive() and answered == []
    client.hang_up()
    thread.join(timeout=5)

    assert waiting
    assert not thread.is_alive()
    assert faults.active()[0].to_json()["times"] == 1


def test_a_client_that_waits_past_the_cap_is_hung_up_on_without_an_answer() -> None:
    """GIVEN a lost reply, with a 50 ms cap WHEN a client waits longer THEN after the cap
    the connection is closed with no answer: the client cannot tell if it was applied."""
    moto, faults = FakeMoto(), FaultRegistry()
    gate = fault_gate(moto, faults, hang_cap_s=0.05)
    faults.add(spec(kind="lost-reply", region="us-east-1"))

    client, thread, _ = lose(gate, "us-east-1")
    thread.join(timeout=5)

    assert client.heard_hang_up()
    assert moto.calls == 1


def test_a_lost_reply_without_a_socket_to_close_is_an_internal_server_error() -> None:
    """GIVEN a lost reply, with a 50 ms cap, behind a server that hands no socket
    WHEN a write comes THEN it is applied, held for the cap, and answered 500
    InternalServerError, which says nothing of whether it was applied."""
    moto, faults = FakeMoto(), FaultRegistry()
    gate = fault_gate(moto, faults, hang_cap_s=0.05)
    faults.add(spec(kind="lost-reply", region="us-east-1"))

    started = time.monotonic()
    status, body = call(gate, "us-east-1", "DynamoDB_20120810.PutItem")

    assert time.monotonic() - started >= 0.05
    assert (status, moto.calls) == ("500 Internal Server Error", 1)
    assert body["__type"] == "com.amazonaws.dynamodb.v20120810#InternalServerError"


def test_a_lost_reply_passes_refused_writes_reads_and_other_regions_without_counting() -> None:
    """GIVEN a lost reply once in us-east-1
    WHEN a write moto refuses (a failed condition), a read, a stream call, a write to
    eu-west-1 and the operator's own write come THEN each is answered as moto answered
    it, and the fault is still on, with its one reply to lose."""
    refusing, faults = FakeMoto("400 Bad Request"), FaultRegistry()
    faults.add(spec(kind="lost-reply", region="us-east-1", times=1))

    refused = call(fault_gate(refusing, faults), "us-east-1")
    gate = fault_gate(FakeMoto(), faults)
    others = [
        call(gate, "us-east-1", "DynamoDB_20120810.GetItem"),
        call(gate, "us-east-1", "DynamoDB_20120810.TransactGetItems"),
        call(gate, "us-east-1", "DynamoDBStreams_20120810.GetRecords"),
        call(gate, "eu-west-1", "DynamoDB_20120810.PutItem"),
        call(gate, "us-east-1", "DynamoDB_20120810.PutItem", **{OPERATOR_HEADER: "1"}),
    ]

    assert refused[0] == "400 Bad Request"
    assert [status for status, _ in others] == ["200 OK"] * 5
    assert faults.active()[0].to_json()["times"] == 1


@pytest.mark.parametrize(
    "action", ["PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"]
)
def test_every_write_action_loses_its_reply(action: str) -> None:
    moto, faults = FakeMoto(), FaultRegistry()
    faults.add(spec(kind="lost-reply", region="us-east-1", times=1))

    status, _ = call(
        fault_gate(moto, faults, hang_cap_s=0.01), "us-east-1", f"DynamoDB_20120810.{action}"
    )

    assert (status, moto.calls, faults.active()) == ("500 Internal Server Error", 1, [])
