"""The graphql-transport-ws session, driven through a scripted fake WebSocket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, cast

import pytest
from starlette.websockets import WebSocket, WebSocketDisconnect

from emulator.appsync.auth import AWS_IAM, AWS_LAMBDA, Caller
from emulator.appsync.executor import load_schema, subscribed_mutations
from emulator.appsync.lambda_auth import Operation
from emulator.appsync.subscriptions import Subscriptions
from emulator.appsync.transport_ws import PROTOCOL, TransportWsSession
from emulator.region import RegionRuntime
from tests.unit.fake_sockets import AsgiReceive
from tests.unit.fakes import PUBLIC_TOKEN, WRONG_TOKEN

SCHEMA = load_schema()
IAM_TOKEN = "signed-by-the-stream-handler"
BALL = {"id": "p-1", "name": "Ball", "category": "toys", "stock": 10, "version": 3}

Step = str | bytes | Callable[[], Awaitable[None]]


class FakeWebSocket(AsgiReceive):
    """A Starlette WebSocket whose client sends a script, then hangs up.

    A step is the text the client sends next, or a coroutine function run while the
    session waits for that text: the moment to act on a connected, idle session.
    """

    def __init__(self, script: Sequence[Step], headers: dict[str, str] | None = None) -> None:
        self.headers = headers or {}
        self.scope: dict[str, Any] = {"subprotocols": [PROTOCOL]}
        self.accepted: list[str | None] = []
        self.sent: list[dict[str, Any]] = []
        self.closed: list[tuple[int, str]] = []
        self._script = list(script)

    async def accept(self, subprotocol: str | None = None) -> None:
        self.accepted.append(subprotocol)

    async def receive_text(self) -> str:
        while self._script and not self.closed:
            step = self._script.pop(0)
            if isinstance(step, str | bytes):
                return step  # type: ignore[return-value]  # bytes: a binary frame
            await step()
        raise WebSocketDisconnect()

    async def send_text(self, text: str) -> None:
        self.sent.append(json.loads(text))

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed.append((code, reason or ""))


class FakeRegion:
    """The parts of a region a session uses: its credential check and its subscribers."""

    def __init__(self) -> None:
        self.subscriptions = Subscriptions(SCHEMA, subscribed_mutations(SCHEMA))

    async def authenticate(
        self,
        headers: dict[str, str],
        request: tuple[str, str, bytes] | None = None,
        operation: Operation | None = None,
    ) -> Caller | None:
        if headers.get("authorization") == PUBLIC_TOKEN:
            return Caller(AWS_LAMBDA, {"resolverContext": {}}, headers, credential=PUBLIC_TOKEN)
        if headers.get("authorization") == IAM_TOKEN:
            return Caller(AWS_IAM, {"username": "stream"}, headers)
        return None


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """One event loop for the module, made before the conftest's ``no_sockets`` runs.

    An asyncio loop wakes itself through a local ``socketpair``, which the socket guard
    refuses, so ``asyncio.run`` cannot start a loop inside a unit test.
    """
    event_loop = asyncio.new_event_loop()
    yield event_loop
    event_loop.close()


def message(kind: str, **fields: Any) -> str:
    return json.dumps({"type": kind, **fields})


def init(payload: dict[str, Any] | None = None) -> str:
    return message(
        "connection_init", payload={"Authorization": PUBLIC_TOKEN} if payload is None else payload
    )


def subscribe(operation_id: str, query: str, variables: dict[str, Any] | None = None) -> str:
    return message("subscribe", id=operation_id, payload={"query": query, "variables": variables})


def run(
    loop: asyncio.AbstractEventLoop,
    script: Sequence[Step],
    region: FakeRegion | None = None,
    headers: dict[str, str] | None = None,
) -> FakeWebSocket:
    """Play a script through a session until the client hangs up or is closed."""
    socket = FakeWebSocket(script, headers)
    session = TransportWsSession(
        cast(WebSocket, socket), cast(RegionRuntime, region or FakeRegion())
    )
    loop.run_until_complete(asyncio.wait_for(session.run(), timeout=5))
    return socket


def test_the_right_client_token_in_connection_init_is_acknowledged(
    loop: asyncio.AbstractEventLoop,
) -> None:
    """
    GIVEN a client that opens with connection_init carrying the client token
    WHEN the session runs
    THEN it accepts graphql-transport-ws, acknowledges, and closes nothing
    """
    socket = run(loop, [init()])

    assert socket.accepted == [PROTOCOL]
    assert socket.sent == [{"type": "connection_ack"}]
    assert socket.closed == []


def test_the_client_token_in_the_upgrade_headers_is_enough(loop: asyncio.AbstractEventLoop) -> None:
    """
    GIVEN the client token in the upgrade request's headers and an empty init payload
    WHEN the session runs
    THEN it acknowledges
    """
    socket = run(loop, [init({})], headers={"Authorization": PUBLIC_TOKEN})

    assert socket.sent == [{"type": "connection_ack"}]
    assert socket.closed == []


@pytest.mark.parametrize(
    ("script", "code"),
    [
        ([init({"Authorization": WRONG_TOKEN})], 4403),
        ([init({})], 4403),
        ([subscribe("1", "subscription { onProductChanged { id } }")], 4401),
        (["this is not json"], 4400),
        ([init(), "[1, 2]"], 4400),
        ([init(), message("shout")], 4400),
        ([init(), init()], 4429),
    ],
    ids=["wrong-key", "no-key", "subscribe-first", "not-json", "not-object", "unknown", "re-init"],
)
def test_a_protocol_violation_closes_with_its_code(
    loop: asyncio.AbstractEventLoop, script: Sequence[Step], code: int
) -> None:
    """
    GIVEN a client that breaks the protocol: bad credentials, no init, malformed messages
    WHEN the session runs
    THEN it closes the socket with the code graphql-transport-ws assigns
    """
    socket = run(loop, script)

    assert [closed_code for closed_code, _ in socket.closed] == [code]


def test_ping_is_answered_with_pong(loop: asyncio.AbstractEventLoop) -> None:
    """
    GIVEN an acknowledged client that pings
    WHEN the session runs
    THEN it answers pong
    """
    socket = run(loop, [init(), message("ping")])

    assert socket.sent == [{"type": "connection_ack"}, {"type": "pong"}]


def test_a_reused_operation_id_closes_with_4409(loop: asyncio.AbstractEventLoop) -> None:
    """
    GIVEN a client that subscribes twice under the same id
    WHEN the session runs
    THEN it closes with 4409, and the first subscription does not outlive the socket
    """
    region = FakeRegion()
    query = "subscription { onProductChanged { id } }"

    socket = run(loop, [init(), subscribe("1", query), subscribe("1", query)], region)

    assert socket.closed == [(4409, "Subscriber for 1 already exists")]
    assert len(region.subscriptions) == 0


def test_an_invalid_subscription_gets_an_error_under_its_id(
    loop: asyncio.AbstractEventLoop,
) -> None:
    """
    GIVEN a subscription selecting a field Product does not have
    WHEN the session runs
    THEN the client gets an error for that id, typed ValidationError, and the socket stays open
    """
    socket = run(loop, [init(), subscribe("7", "subscription { onProductChanged { colour } }")])

    assert socket.closed == []
    error = socket.sent[-1]
    assert (error["type"], error["id"]) == ("error", "7")
    assert error["payload"][0]["errorType"] == "ValidationError"
    assert "colour" in error["payload"][0]["message"]


def test_bad_variables_get_a_validation_error_under_their_id(
    loop: asyncio.AbstractEventLoop,
) -> None:
    """
    GIVEN a valid subscription whose String variable is sent as a number
    WHEN the session runs
    THEN the client gets an error for that id typed ValidationError, not an internal failure
    """
    query = "subscription S($c: String) { onProductChanged(category: $c) { id } }"

    socket = run(loop, [init(), subscribe("8", query, {"c": 5})])

    assert socket.closed == []
    error = socket.sent[-1]
    assert (error["type"], error["id"]) == ("error", "8")
    assert error["payload"][0]["errorType"] == "ValidationError"
    assert "String" in error["payload"][0]["message"]


def test_a_refused_caller_gets_an_unauthorized_error(loop: asyncio.AbstractEventLoop) -> None:
    """
    GIVEN an IAM caller subscribing to onProductChanged, which is for the API key only
    WHEN the session runs
    THEN the client gets an error for that id, typed Unauthorized
    """
    script = [
        init({"Authorization": IAM_TOKEN}),
        subscribe("9", "subscription { onProductChanged { id } }"),
    ]

    socket = run(loop, script)

    error = socket.sent[-1]
    assert (error["type"], error["id"]) == ("error", "9")
    assert error["payload"][0]["errorType"] == "Unauthorized"


def test_a_published_change_reaches_the_subscriber_as_next(
    loop: asyncio.AbstractEventLoop,
) -> None:
    """
    GIVEN an acknowledged client subscribed to toys under id "s1"
    WHEN a toy and a book change while it is connected, and it then hangs up
    THEN it gets one next message for "s1" with its selection of the toy,
    and its subscription is gone once it has hung up
    """
    region = FakeRegion()
    connected: list[int] = []

    async def publish_while_connected() -> None:
        connected.append(len(region.subscriptions))
        await region.subscriptions.publish("publishProductChanged", {**BALL, "category": "books"})
        await region.subscriptions.publish("publishProductChanged", BALL)

    query = 'subscription { onProductChanged(category: "toys") { id name stock } }'
    socket = run(loop, [init(), subscribe("s1", query), publish_while_connected], region)

    assert connected == [1]
    assert socket.sent[1:] == [
        {
            "id": "s1",
            "type": "next",
            "payload": {"data": {"onProductChanged": {"id": "p-1", "name": "Ball", "stock": 10}}},
        }
    ]
    assert len(region.subscriptions) == 0


def test_complete_stops_delivery_while_connected(loop: asyncio.AbstractEventLoop) -> None:
    """
    GIVEN a client that subscribes under "s1" and then sends complete for "s1"
    WHEN a product changes while it is still connected
    THEN it gets nothing for "s1", and the region holds no subscription
    """
    region = FakeRegion()
    reached: list[int] = []

    async def publish_while_connected() -> None:
        reached.append(await region.subscriptions.publish("publishProductChanged", BALL))

    script: list[Step] = [
        init(),
        subscribe("s1", "subscription { onProductChanged { id } }"),
        message("complete", id="s1"),
        publish_while_connected,
    ]

    socket = run(loop, script, region)

    assert reached == [0]
    assert socket.sent == [{"type": "connection_ack"}]
    assert socket.closed == []


@pytest.mark.parametrize(
    "frame",
    [b"\x00\x01binary", '{"type":"subscribe","id":"d","payload":' + "[" * 10_000],
    ids=["binary frame", "nested too deep"],
)
def test_a_frame_that_is_not_json_text_closes_with_4400(
    loop: asyncio.AbstractEventLoop, frame: str | bytes
) -> None:
    """GIVEN an acknowledged client WHEN it sends a binary frame, or JSON nested too deep
    for the parser THEN the session closes with 4400, as for any malformed message."""
    socket = run(loop, [init({"Authorization": PUBLIC_TOKEN}), frame])

    assert [code for code, _ in socket.closed] == [4400]
