"""What a subscriber socket may hold: it must say connection_init in time, it counts as a
subscriber only once acknowledged, and one key or one address may open only so many."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any, cast

import pytest
from starlette.websockets import WebSocket, WebSocketDisconnect

from emulator.appsync.auth import AWS_LAMBDA, Caller
from emulator.appsync.executor import load_schema, subscribed_mutations
from emulator.appsync.lambda_auth import Operation
from emulator.appsync.limits import Limits
from emulator.appsync.realtime_ws import PROTOCOL as APPSYNC_REALTIME
from emulator.appsync.realtime_ws import AppSyncRealtimeSession
from emulator.appsync.socket_session import SocketSession
from emulator.appsync.subscriptions import Subscriptions
from emulator.appsync.transport_ws import PROTOCOL as TRANSPORT_WS
from emulator.appsync.transport_ws import TransportWsSession
from emulator.region import RegionRuntime
from tests.unit.fake_sockets import AsgiReceive

SCHEMA = load_schema()
KEY = "SocketLimitsClientToken00000000000000001"
SESSIONS: dict[str, type[SocketSession]] = {
    APPSYNC_REALTIME: AppSyncRealtimeSession,
    TRANSPORT_WS: TransportWsSession,
}
INIT = {
    APPSYNC_REALTIME: {"type": "connection_init"},
    TRANSPORT_WS: {"type": "connection_init", "payload": {"Authorization": KEY}},
}
ACK = {APPSYNC_REALTIME: "connection_ack", TRANSPORT_WS: "connection_ack"}
WAIT_S = 3.0


class Client(AsgiReceive):
    """A WebSocket client that sends ``frames``, then stays, silent, until closed."""

    def __init__(self, protocol: str, frames: list[dict[str, Any]], address: str) -> None:
        self.scope: dict[str, Any] = {"subprotocols": [protocol], "client": (address, 50000)}
        self.headers = {"authorization": KEY}
        self.query_params: dict[str, str] = {}
        self.sent: list[dict[str, Any]] = []
        self.closed: list[tuple[int, str]] = []
        # Set once the client has said all it will, or was closed.
        self.settled = asyncio.Event()
        self._frames = [json.dumps(frame) for frame in frames]
        self._gone = asyncio.Event()

    async def accept(self, subprotocol: str | None = None) -> None:
        return None

    async def receive_text(self) -> str:
        if self._frames and not self.closed:
            return self._frames.pop(0)
        self.settled.set()
        await self._gone.wait()
        raise WebSocketDisconnect()

    async def send_text(self, text: str) -> None:
        self.sent.append(json.loads(text))

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed.append((code, reason or ""))
        self.settled.set()
        self._gone.set()

    def acknowledged(self) -> bool:
        return any(message.get("type") == "connection_ack" for message in self.sent)


class Region:
    """A region's credential check and subscribers, with the limits under test."""

    def __init__(self, limits: Limits) -> None:
        self.subscriptions = Subscriptions(SCHEMA, subscribed_mutations(SCHEMA), limits)

    async def authenticate(
        self,
        headers: dict[str, str],
        request: tuple[str, str, bytes] | None = None,
        operation: Operation | None = None,
    ) -> Caller | None:
        token = headers.get("authorization")
        return Caller(AWS_LAMBDA, {}, headers, credential=token) if token == KEY else None


def session(protocol: str, client: Client, region: Region) -> SocketSession:
    return SESSIONS[protocol](cast(WebSocket, client), cast(RegionRuntime, region))


@pytest.mark.parametrize("protocol", SESSIONS)
def test_a_socket_that_never_sends_connection_init_is_closed_and_never_counted(
    protocol: str,
) -> None:
    """
    GIVEN a connection init timeout of 0.2 s
    WHEN a client opens a socket and says nothing
    THEN the region never counts it as a subscriber, and it is closed with 4408
         "Connection initialisation timeout" once the timeout passes
    """
    region = Region(Limits(connection_init_timeout_s=0.2))
    client = Client(protocol, [], "10.0.0.1")
    counted: list[int] = []

    async def scenario() -> None:
        running = asyncio.ensure_future(session(protocol, client, region).run())
        await client.settled.wait()
        counted.append(region.subscriptions.connections)
        await asyncio.wait_for(running, WAIT_S)

    asyncio.run(scenario())

    assert counted == [0]
    assert client.closed == [(4408, "Connection initialisation timeout")]


@pytest.mark.parametrize("protocol", SESSIONS)
def test_the_socket_over_the_cap_of_one_key_is_refused_with_a_reason(protocol: str) -> None:
    """
    GIVEN a cap of 2 sockets per key (here, a client token)
    WHEN three clients with that key open sockets and send connection_init
    THEN two are acknowledged and counted as subscribers, and the third is closed with
         1008 and a reason naming the limit, never acknowledged
    """
    region = Region(Limits(max_sockets_per_credential=2))
    clients = [Client(protocol, [INIT[protocol]], f"10.0.0.{n}") for n in range(3)]

    async def scenario() -> int:
        running = []
        for client in clients:
            running.append(asyncio.ensure_future(session(protocol, client, region).run()))
            await asyncio.wait_for(client.settled.wait(), WAIT_S)
        counted = region.subscriptions.connections
        for client in clients:
            await client.close()
        await asyncio.wait_for(asyncio.gather(*running), WAIT_S)
        return counted

    counted = asyncio.run(scenario())

    assert counted == 2
    assert [client.acknowledged() for client in clients] == [True, True, False]
    [(code, reason)] = clients[2].closed[:1]
    assert code == 1008
    assert "2 open sockets per key" in reason


@pytest.mark.parametrize("protocol", SESSIONS)
def test_the_socket_over_the_cap_of_one_address_is_refused_before_it_says_anything(
    protocol: str,
) -> None:
    """
    GIVEN a cap of 2 sockets per client address
    WHEN a third socket opens from the same address, with no credentials at all
    THEN it is closed at once with 1008 and a reason naming the limit, while a socket from
         another address is still let in
    """
    region = Region(Limits(max_sockets_per_address=2))
    clients = [Client(protocol, [], "10.0.0.9") for _ in range(3)]
    other = Client(protocol, [], "10.0.0.10")

    async def scenario() -> None:
        running = [
            asyncio.ensure_future(session(protocol, client, region).run())
            for client in [*clients, other]
        ]
        await asyncio.wait_for(clients[2].settled.wait(), WAIT_S)
        await asyncio.wait_for(other.settled.wait(), WAIT_S)
        closed_early = [bool(client.closed) for client in [*clients, other]]
        for client in [*clients, other]:
            await client.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*running), WAIT_S)
        assert closed_early == [False, False, True, False]

    asyncio.run(scenario())

    [(code, reason)] = clients[2].closed[:1]
    assert code == 1008
    assert "2 open sockets per address" in reason
