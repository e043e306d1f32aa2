"""Ctrl-C stops ``gateway dev`` cleanly, even with clients connected, and frees its ports."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from tests.e2e.support import (
    STOP_TIMEOUT_S,
    STOPPED,
    Gateway,
    free_base_port,
    port_is_free,
    start_gateway,
    stop_gateway,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]


def assert_stopped_cleanly(gateway: Gateway, exit_code: int, took: float) -> None:
    text = gateway.text()
    assert exit_code == 0, text
    assert took < STOP_TIMEOUT_S
    assert STOPPED in text, text
    assert "Traceback" not in text, text
    assert port_is_free(gateway.port, as_a_server=True), "us-east-1's port is still taken"
    assert port_is_free(gateway.port + 1, as_a_server=True), "eu-west-1's port is still taken"


def test_ctrl_c_stops_an_idle_gateway(tmp_path: Path) -> None:
    """
    GIVEN a gateway dev of its own, ready on two free ports
    WHEN it gets SIGINT
    THEN it exits 0 within 15 s, says it stopped, shows no traceback, and frees both ports
    """
    gateway = start_gateway(tmp_path / "gateway-dev.log", free_base_port(2))
    assert gateway.query(gateway.replica, "{ region { name } }") == {
        "region": {"name": "eu-west-1"}
    }

    started = time.monotonic()
    exit_code = stop_gateway(gateway)

    assert_stopped_cleanly(gateway, exit_code, time.monotonic() - started)


def test_ctrl_c_stops_a_gateway_with_an_open_subscription(tmp_path: Path) -> None:
    """
    GIVEN a gateway dev of its own, with a WebSocket client subscribed in eu-west-1
    WHEN it gets SIGINT
    THEN the client's connection is closed, and the gateway exits 0 within 15 s,
         says it stopped, shows no traceback, and frees both ports
    """
    gateway = start_gateway(tmp_path / "gateway-dev.log", free_base_port(2))

    async def scenario() -> tuple[int, float, bool]:
        async with connect(
            gateway.ws_url("eu-west-1"),
            subprotocols=[Subprotocol("graphql-transport-ws")],
            proxy=None,
        ) as socket:
            init = {"type": "connection_init", "payload": gateway.public()}
            await socket.send(json.dumps(init))
            assert json.loads(await asyncio.wait_for(socket.recv(), 10)) == {
                "type": "connection_ack"
            }
            query = "subscription { onProductChanged { id } }"
            subscribe = {"id": "1", "type": "subscribe", "payload": {"query": query}}
            await socket.send(json.dumps(subscribe))
            await socket.send(json.dumps({"type": "ping"}))
            assert json.loads(await asyncio.wait_for(socket.recv(), 10)) == {"type": "pong"}

            started = time.monotonic()
            gateway.process.send_signal(signal.SIGINT)
            try:
                exit_code = await asyncio.to_thread(gateway.process.wait, STOP_TIMEOUT_S)
            finally:
                stop_gateway(gateway)
            took = time.monotonic() - started
            try:
                await asyncio.wait_for(socket.recv(), 5)
            except ConnectionClosed:
                return exit_code, took, True
            return exit_code, took, False

    exit_code, took, client_closed = asyncio.run(scenario())

    assert_stopped_cleanly(gateway, exit_code, took)
    assert client_closed
