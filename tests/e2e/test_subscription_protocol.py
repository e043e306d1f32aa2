"""graphql-transport-ws misuse gets the protocol's close codes and error messages."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from tests.e2e.support import Gateway

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

PROTOCOL = Subprotocol("graphql-transport-ws")
VALID = "subscription { onProductChanged { id } }"
ANSWER_TIMEOUT_S = 10.0


async def send(socket: ClientConnection, message: dict[str, Any]) -> None:
    await socket.send(json.dumps(message))


async def receive(socket: ClientConnection) -> dict[str, Any]:
    return dict(json.loads(await asyncio.wait_for(socket.recv(), ANSWER_TIMEOUT_S)))


async def close_code(socket: ClientConnection) -> int | None:
    """The code the server closed with; fails if the server sends anything else first."""
    try:
        message = await asyncio.wait_for(socket.recv(), ANSWER_TIMEOUT_S)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    raise AssertionError(f"expected the server to close, got {message!r}")


async def initialised(socket: ClientConnection, token: str) -> None:
    await send(socket, {"type": "connection_init", "payload": {"Authorization": token}})
    assert await receive(socket) == {"type": "connection_ack"}


def open_socket(gateway: Gateway) -> Any:
    return connect(gateway.ws_url("eu-west-1"), subprotocols=[PROTOCOL], proxy=None)


def test_wrong_client_token_in_connection_init_is_closed_4403(gateway: Gateway) -> None:
    """
    GIVEN a graphql-transport-ws connection
    WHEN connection_init carries the wrong client token
    THEN the server closes it with 4403 Forbidden
    """

    async def scenario() -> int | None:
        async with open_socket(gateway) as socket:
            await send(
                socket,
                {
                    "type": "connection_init",
                    "payload": {"Authorization": "WrongClientToken00000000000000000000000001"},
                },
            )
            return await close_code(socket)

    assert asyncio.run(scenario()) == 4403


def test_subscribe_before_connection_init_is_closed_4401(gateway: Gateway) -> None:
    """
    GIVEN a graphql-transport-ws connection that has not sent connection_init
    WHEN it subscribes
    THEN the server closes it with 4401 Unauthorized
    """

    async def scenario() -> int | None:
        async with open_socket(gateway) as socket:
            await send(socket, {"id": "1", "type": "subscribe", "payload": {"query": VALID}})
            return await close_code(socket)

    assert asyncio.run(scenario()) == 4401


def test_invalid_subscription_query_gets_an_error_for_its_id(gateway: Gateway) -> None:
    """
    GIVEN an initialised connection
    WHEN it subscribes with a query naming a field that does not exist
    THEN the server answers `error` for that id with a ValidationError, and the
         connection still serves a valid subscription on the same id
    """

    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        async with open_socket(gateway) as socket:
            await initialised(socket, gateway.public_token)
            bad = {"query": "subscription { onNothing { id } }"}
            await send(socket, {"id": "op-1", "type": "subscribe", "payload": bad})
            error = await receive(socket)
            await send(socket, {"id": "op-1", "type": "subscribe", "payload": {"query": VALID}})
            await send(socket, {"type": "ping"})
            return error, await receive(socket)

    error, after = asyncio.run(scenario())

    assert error["type"] == "error"
    assert error["id"] == "op-1"
    assert [item["errorType"] for item in error["payload"]] == ["ValidationError"]
    assert "onNothing" in error["payload"][0]["message"]
    assert after == {"type": "pong"}


def test_reused_subscription_id_is_closed_4409(gateway: Gateway) -> None:
    """
    GIVEN an initialised connection with an active subscription "op-1"
    WHEN it subscribes again with id "op-1"
    THEN the server closes it with 4409
    """

    async def scenario() -> int | None:
        async with open_socket(gateway) as socket:
            await initialised(socket, gateway.public_token)
            await send(socket, {"id": "op-1", "type": "subscribe", "payload": {"query": VALID}})
            await send(socket, {"id": "op-1", "type": "subscribe", "payload": {"query": VALID}})
            return await close_code(socket)

    assert asyncio.run(scenario()) == 4409
