"""AppSync's real-time protocol (graphql-ws), driven through a scripted fake WebSocket."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketDisconnected

from emulator.appsync.auth import Caller, LocalCredentials, authenticate
from emulator.appsync.executor import load_schema, subscribed_mutations
from emulator.appsync.lambda_auth import Operation
from emulator.appsync.realtime_ws import CONNECTION_TIMEOUT_MS, AppSyncRealtimeSession
from emulator.appsync.subscriptions import Subscriptions
from emulator.region import RegionRuntime
from tests.unit.fake_sockets import AsgiReceive
from tests.unit.fakes import (
    PUBLIC_TOKEN,
    WRONG_TOKEN,
    FakeAuthorizerFunction,
    lambda_authorizer,
)

SCHEMA = load_schema()
PROTOCOL = "graphql-ws"
TOYS = 'subscription { onProductChanged(category: "toys") { id name stock } }'
BALL = {"id": "p-1", "name": "Ball", "category": "toys", "stock": 10, "version": 3}
ACK = {"type": "connection_ack", "payload": {"connectionTimeoutMs": 300_000}}
WAIT_S = 2.0

Step = str | bytes | Callable[["FakeWebSocket"], Awaitable[None]]


@dataclass
class FakeWebSocket(AsgiReceive):
    """A Starlette WebSocket whose client sends a script, then hangs up.

    A step is the text the client sends next, or a coroutine function given the socket
    and run while the session waits for that text: the moment to act on an idle session.
    """

    script: list[Step]
    headers: dict[str, str] = field(default_factory=lambda: {"authorization": PUBLIC_TOKEN})
    query_params: dict[str, str] = field(default_factory=dict)
    subprotocols: list[str] = field(default_factory=lambda: [PROTOCOL])
    accepted: list[str | None] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    closed: list[int] = field(default_factory=list)

    @property
    def scope(self) -> dict[str, Any]:
        return {"subprotocols": self.subprotocols}

    async def accept(self, subprotocol: str | None = None) -> None:
        self.accepted.append(subprotocol)

    async def receive_text(self) -> str:
        while self.script and not self.closed:
            step = self.script.pop(0)
            if isinstance(step, str | bytes):
                return step  # type: ignore[return-value]  # bytes: a binary frame
            await step(self)
        raise WebSocketDisconnect()

    async def send_text(self, text: str) -> None:
        self.sent.append(json.loads(text))

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed.append(code)


class FakeRegion:
    """The parts of a region a session uses: its auth modes (the client token through an
    authorizer, SigV4 with the local pair) and real subscriptions."""

    credentials = LocalCredentials()

    def __init__(self) -> None:
        self.subscriptions = Subscriptions(SCHEMA, subscribed_mutations(SCHEMA))
        self.registered: list[int] = []
        self.authorizer = lambda_authorizer()

    async def count(self, socket: FakeWebSocket) -> None:
        """A script step: note how many subscriptions the region holds right now."""
        self.registered.append(len(self.subscriptions))

    async def authenticate(
        self,
        headers: dict[str, str],
        request: tuple[str, str, bytes] | None = None,
        operation: Operation | None = None,
    ) -> Caller | None:
        return await authenticate(
            self.credentials, "us-east-1", headers, request, None, self.authorizer, operation
        )


@dataclass
class VanishingWebSocket(FakeWebSocket):
    """A client gone as the server answers ``vanish_on``: Starlette fails that send with
    WebSocketDisconnect(1006), then every receive with WebSocketDisconnected."""

    vanish_on: str = "complete"
    gone: bool = False

    async def send_text(self, text: str) -> None:
        if self.gone or json.loads(text).get("type") == self.vanish_on:
            self.gone = True
            raise WebSocketDisconnect(1006)
        await super().send_text(text)

    async def receive_text(self) -> str:
        if self.gone:
            raise WebSocketDisconnected('WebSocket is not connected. Need to call "accept" first.')
        return await super().receive_text()


def play(
    script: Sequence[Step],
    region: FakeRegion | None = None,
    *,
    keepalive_s: float | None = None,
    client: type[FakeWebSocket] = FakeWebSocket,
    **connection: Any,
) -> FakeWebSocket:
    """Play a script through a session; ``connection`` overrides the socket's headers,
    query_params or subprotocols (by default: the client token in the upgrade headers)."""
    socket = client(list(script), **connection)
    session = AppSyncRealtimeSession(
        cast(WebSocket, socket), cast(RegionRuntime, region or FakeRegion())
    )
    if keepalive_s is not None:
        session.keepalive_s = keepalive_s
    asyncio.run(asyncio.wait_for(session.run(), timeout=5))
    return socket


def message(kind: str, **fields: Any) -> str:
    return json.dumps({"type": kind, **fields})


def init() -> str:
    return message("connection_init")


def start(operation_id: str, query: str = TOYS, authorization: dict[str, str] | None = None) -> str:
    payload: dict[str, Any] = {"data": json.dumps({"query": query, "variables": {}})}
    if authorization is not None:
        payload["extensions"] = {"authorization": authorization}
    return message("start", id=operation_id, payload=payload)


def encoded(headers: object, *, url_safe: bool = False) -> str:
    raw = json.dumps(headers, separators=(",", ":")).encode()
    if url_safe:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return base64.b64encode(raw).decode()


def errors_of(sent: dict[str, Any]) -> list[str]:
    return [error["errorType"] for error in sent["payload"]["errors"]]


HEADER_PROTOCOL = "header-" + encoded(
    {"authorization": PUBLIC_TOKEN, "host": "a~~~"}, url_safe=True
)


@pytest.mark.parametrize(
    "connection",
    [
        {
            "headers": {},
            "query_params": {"header": encoded({"authorization": PUBLIC_TOKEN, "host": "a~~~"})},
        },
        {"headers": {}, "subprotocols": [PROTOCOL, HEADER_PROTOCOL]},
        {"headers": {"Authorization": PUBLIC_TOKEN}},
    ],
    ids=["header-query-param", "header-subprotocol", "upgrade-header"],
)
def test_each_way_of_sending_the_client_token_is_acknowledged(connection: dict[str, Any]) -> None:
    """
    GIVEN the client token in header= (base64), a header- subprotocol (base64url, unpadded)
          or a plain upgrade header
    WHEN the client sends connection_init
    THEN the session accepts exactly graphql-ws (never the header- entry) and answers
         connection_ack with connectionTimeoutMs 300000, leaving the socket open
    """
    assert "=" not in HEADER_PROTOCOL and {"-", "_"} & set(HEADER_PROTOCOL)

    socket = play([init()], **connection)

    assert socket.accepted == [PROTOCOL]
    assert socket.sent == [ACK]
    assert socket.closed == []


@pytest.mark.parametrize(
    ("header", "error_type"),
    [
        (encoded({"authorization": WRONG_TOKEN}), "UnauthorizedException"),
        ("%%% not base64 %%%", "BadRequestException"),
        (base64.b64encode(b"not json").decode(), "BadRequestException"),
        (encoded(["authorization", PUBLIC_TOKEN]), "BadRequestException"),
        (base64.b64encode(b"[" * 2000 + b"]" * 2000).decode(), "BadRequestException"),
    ],
    ids=["wrong-token", "not-base64", "not-json", "json-array", "json-nested-too-deep"],
)
def test_bad_connection_headers_get_a_connection_error_and_a_close(
    header: str, error_type: str
) -> None:
    """
    GIVEN a header= query parameter with a wrong token, or that is not base64 JSON object
    WHEN the client sends connection_init, then tries to subscribe
    THEN it gets one connection_error of the matching errorType, the socket is closed,
         and nothing is registered
    """
    region = FakeRegion()

    socket = play([init(), start("1")], region, headers={}, query_params={"header": header})

    assert [sent["type"] for sent in socket.sent] == ["connection_error"]
    assert errors_of(socket.sent[0]) == [error_type]
    assert socket.closed != []
    assert len(region.subscriptions) == 0


def test_a_start_before_connection_init_is_ignored() -> None:
    """
    GIVEN a client that sends start "1" before connection_init
    WHEN it then initialises and sends start "1" again
    THEN the first start got no reply and registered nothing; the second is acknowledged
    """
    region = FakeRegion()

    socket = play([start("1"), region.count, init(), start("1")], region)

    assert region.registered == [0]
    assert socket.sent == [ACK, {"type": "start_ack", "id": "1"}]


def test_a_subscription_hears_its_changes_until_stopped_or_the_client_leaves() -> None:
    """
    GIVEN a client subscribed to toys under "s1", and to another category under "s2"
    WHEN a book, then a toy, are published; it stops "s1", then "nope"; then it hangs up
    THEN it gets one data message for "s1" with its selection of the toy, and complete for
         "s1" only; the region holds "s2" alone once "s1" is stopped, and nothing at the end
    """
    region = FakeRegion()

    async def publish(socket: FakeWebSocket) -> None:
        await region.subscriptions.publish("publishProductChanged", {**BALL, "category": "b"})
        await region.subscriptions.publish("publishProductChanged", BALL)

    other = start("s2", 'subscription { onProductChanged(category: "c") { id } }')
    stops: list[Step] = [message("stop", id="s1"), region.count, message("stop", id="nope")]
    socket = play([init(), start("s1"), other, region.count, publish, *stops], region)

    selection = {"id": "p-1", "name": "Ball", "stock": 10}
    data = {"type": "data", "id": "s1", "payload": {"data": {"onProductChanged": selection}}}
    acks = [{"type": "start_ack", "id": "s1"}, {"type": "start_ack", "id": "s2"}]
    assert socket.sent == [ACK, *acks, data, {"type": "complete", "id": "s1"}]
    assert region.registered == [2, 1]
    assert len(region.subscriptions) == 0


@pytest.mark.parametrize(
    ("starts", "error_type", "registered"),
    [
        ([start("bad"), start("bad")], "DuplicatedOperationError", 1),
        ([start("bad", "subscription { onProductChanged { colour } }")], "ValidationError", 0),
        ([message("start", id="bad", payload={"data": "{not json"})], "MalformedMessage", 0),
        (
            [message("start", id="bad", payload={"data": "[" * 2000 + "]" * 2000})],
            "MalformedMessage",
            0,
        ),
        ([start("bad", authorization={"authorization": WRONG_TOKEN})], "UnauthorizedException", 0),
    ],
    ids=[
        "reused-id",
        "invalid-query",
        "data-not-json",
        "data-nested-too-deep",
        "wrong-token-in-extensions",
    ],
)
def test_a_bad_start_gets_an_error_under_its_id(
    starts: list[str], error_type: str, registered: int
) -> None:
    """
    GIVEN an acknowledged client
    WHEN it starts "bad" twice, or with an invalid query, non-JSON data, or a wrong token in
         extensions.authorization
    THEN it gets an error for "bad" with the matching errorType, and the bad start
         registered nothing
    """
    region = FakeRegion()

    socket = play([init(), *starts, region.count], region)

    error = socket.sent[-1]
    assert (error["type"], error.get("id")) == ("error", "bad")
    assert errors_of(error) == [error_type]
    assert region.registered == [registered]


def test_a_message_over_240_kb_becomes_a_limit_exceeded_error() -> None:
    """
    GIVEN a client subscribed to toys' descriptions under "big"
    WHEN a toy with a 250 KB description is published
    THEN it gets an error for "big" typed LimitExceeded, and no data message
    """
    region = FakeRegion()
    query = 'subscription { onProductChanged(category: "toys") { id description } }'

    async def publish(socket: FakeWebSocket) -> None:
        huge = {**BALL, "description": "x" * (250 * 1024)}
        await region.subscriptions.publish("publishProductChanged", huge)

    socket = play([init(), start("big", query), publish], region)

    assert [sent["type"] for sent in socket.sent] == ["connection_ack", "start_ack", "error"]
    assert socket.sent[-1]["id"] == "big"
    assert errors_of(socket.sent[-1]) == ["LimitExceeded"]


def test_misuse_gets_errors_the_session_serves_on_and_terminate_closes_it() -> None:
    """
    GIVEN an acknowledged client
    WHEN it sends an unknown message type, text that is not JSON, a valid start,
         connection_terminate, then another start
    THEN it gets UnsupportedOperation, MalformedMessage, then start_ack; the socket is
         closed with 1000 and the last start is never read
    """
    script = [init(), message("shout"), "not json", start("s1")]

    socket = play([*script, message("connection_terminate"), start("late")])

    assert [sent["type"] for sent in socket.sent[1:]] == ["error", "error", "start_ack"]
    assert errors_of(socket.sent[1]) == ["UnsupportedOperation"]
    assert errors_of(socket.sent[2]) == ["MalformedMessage"]
    assert socket.sent[3] == {"type": "start_ack", "id": "s1"}
    assert socket.closed == [1000]


def test_an_idle_acknowledged_connection_gets_keep_alives() -> None:
    """
    GIVEN an acknowledged client and a keep-alive interval of a millisecond
    WHEN the session waits for the client's next message
    THEN it sends {"type": "ka"}
    """

    class KeepAliveWatcher(FakeWebSocket):
        """Signals the moment a ka is sent."""

        kept_alive: asyncio.Event | None = None

        async def send_text(self, text: str) -> None:
            await super().send_text(text)
            if json.loads(text) == {"type": "ka"} and self.kept_alive is not None:
                self.kept_alive.set()

    async def until_ka(socket: FakeWebSocket) -> None:
        assert isinstance(socket, KeepAliveWatcher)
        socket.kept_alive = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(socket.kept_alive.wait(), WAIT_S)

    socket = play([init(), until_ka], keepalive_s=0.001, client=KeepAliveWatcher)

    assert socket.sent[0] == ACK
    assert {"type": "ka"} in socket.sent[1:]


# Amplify JS v6 flags a connection whose last ka is older than this (its
# DEFAULT_KEEP_ALIVE_ALERT_TIMEOUT) and reports it as ConnectedPendingKeepAlive.
AMPLIFY_KEEP_ALIVE_ALERT_S = 65.0


def test_keep_alives_come_twice_within_amplifys_alert_and_well_within_the_timeout() -> None:
    """GIVEN the real-time session's keep-alive interval WHEN a client waits for ka
    THEN two arrive within Amplify's 65 s alert, so one late or lost ka on a busy machine
    raises no alert; and ten within the connectionTimeoutMs the ack announces."""
    interval = AppSyncRealtimeSession.keepalive_s

    assert 2 * interval <= AMPLIFY_KEEP_ALIVE_ALERT_S
    assert 10 * interval <= CONNECTION_TIMEOUT_MS / 1000


def test_a_client_that_hangs_up_while_answered_ends_the_session_quietly() -> None:
    """
    GIVEN a client subscribed under "s1" that stops it and hangs up before complete is sent
          (gql's AppSyncWebsocketsTransport can close that early)
    WHEN the session answers the stop
    THEN the session ends without an exception, and the region holds no subscription
    """
    region = FakeRegion()
    script = [init(), start("s1"), message("stop", id="s1"), start("s2")]

    socket = play(script, region, client=VanishingWebSocket)

    assert isinstance(socket, VanishingWebSocket) and socket.gone
    assert len(region.subscriptions) == 0


@pytest.mark.parametrize(
    "frame",
    [b"\x00\x01binary", '{"type":"start","id":"d","payload":' + "[" * 10_000],
    ids=["binary frame", "nested too deep"],
)
def test_a_frame_that_is_not_json_text_is_a_malformed_message(frame: str | bytes) -> None:
    """GIVEN an acknowledged client WHEN it sends a binary frame, or JSON nested too deep
    for the parser THEN it gets a MalformedMessage error, and the session keeps serving."""
    socket = play([init(), frame, message("ping-that-is-unknown")])

    assert errors_of(socket.sent[1]) == ["MalformedMessage"]
    assert errors_of(socket.sent[2]) == ["UnsupportedOperation"]


def iam_authorization(data: str, content_hash: str) -> dict[str, str]:
    """What an IAM client puts in a start's extensions.authorization: a POST to /graphql
    with ``data`` as its body, signed with ``x-amz-content-sha256: content_hash``."""
    host = "127.0.0.1:4000"
    request = AWSRequest(
        method="POST",
        url=f"https://{host}/graphql",
        data=data.encode(),
        headers={"content-type": "application/json", "X-Amz-Content-SHA256": content_hash},
    )
    SigV4Auth(FakeRegion.credentials.botocore(), "appsync", "us-east-1").add_auth(request)
    return {**{name.lower(): value for name, value in request.headers.items()}, "host": host}


@pytest.mark.parametrize(
    "content_hash",
    [
        hashlib.sha256(json.dumps({"query": TOYS, "variables": {}}).encode()).hexdigest(),
        "UNSIGNED-PAYLOAD",
    ],
    ids=["hash-of-the-signed-start", "unsigned-payload"],
)
def test_a_starts_iam_signature_does_not_carry_over_to_another_subscription(
    content_hash: str,
) -> None:
    """
    GIVEN the IAM authorization a client signed for one start (toys), naming its payload
          in x-amz-content-sha256 (or UNSIGNED-PAYLOAD)
    WHEN another start reuses it for another subscription (every product)
    THEN that start gets UnauthorizedException under its id, and registers nothing
    """
    region = FakeRegion()
    authorization = iam_authorization(json.dumps({"query": TOYS, "variables": {}}), content_hash)
    everything = "subscription { onProductChanged { id name stock } }"

    socket = play([init(), start("b", everything, authorization), region.count], region)

    assert (socket.sent[-1]["type"], socket.sent[-1].get("id")) == ("error", "b")
    assert errors_of(socket.sent[-1]) == ["UnauthorizedException"]
    assert region.registered == [0]


def test_the_authorizer_hears_the_connection_and_each_start_with_its_own_query() -> None:
    """
    GIVEN an authorizer whose answers are not kept (ttlOverride 0)
    WHEN a client connects with the client token in header=, then starts a subscription
         with the token in extensions.authorization
    THEN the authorizer was asked twice, as AppSync asks it: for the connection with no
         query, and for the start with the start's own query; the start is acknowledged
    """
    function = FakeAuthorizerFunction(ttlOverride=0)
    region = FakeRegion()
    region.authorizer = lambda_authorizer(function)
    connection = {"authorization": PUBLIC_TOKEN, "host": "a~~~"}

    socket = play(
        [init(), start("s1", TOYS, connection)],
        region,
        headers={},
        query_params={"header": encoded(connection)},
    )

    assert [event["requestContext"]["queryString"] for event in function.events] == ["", TOYS]
    assert socket.sent[-1] == {"type": "start_ack", "id": "s1"}
