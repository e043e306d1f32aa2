"""AppSync's real-time protocol (graphql-ws) end to end: raw clients and gql's AppSync one."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import pytest
from gql import Client, gql
from gql.transport.appsync_auth import AppSyncJWTAuthentication
from gql.transport.appsync_websockets import AppSyncWebsocketsTransport
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from tests.e2e.support import Gateway, post, unique

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

PROTOCOL = Subprotocol("graphql-ws")
REGIONS = ("us-east-1", "eu-west-1")
SUBSCRIBE = "subscription($c: String) { onProductChanged(category: $c) { id name category } }"
CREATE = """
mutation($input: CreateProductInput!) { createProduct(input: $input) { id name category } }"""
ANSWER_TIMEOUT_S = 10.0
GQL_ATTEMPTS = 20
GQL_ATTEMPT_WAIT_S = 0.5


def port(gateway: Gateway, region: str) -> int:
    found = urlsplit(gateway.urls[region]).port
    assert found is not None
    return found


def realtime_url(
    gateway: Gateway,
    region: str,
    token: str,
    path: str = "/graphql/realtime",
    extra: dict[str, str] | None = None,
) -> str:
    """The URL an AppSync client opens: auth headers as standard base64 JSON in ``header=``,
    not URL-escaped, as AWS's guide and gql write it."""
    host = f"127.0.0.1:{port(gateway, region)}"
    headers = json.dumps({"host": host, "Authorization": token, **(extra or {})}).encode()
    return f"ws://{host}{path}?header={base64.b64encode(headers).decode()}&payload=e30="


@asynccontextmanager
async def opened(url: str) -> AsyncIterator[ClientConnection]:
    async with connect(url, subprotocols=[PROTOCOL], proxy=None) as socket:
        assert socket.subprotocol == PROTOCOL
        yield socket


async def send(socket: ClientConnection, message: dict[str, Any]) -> None:
    await socket.send(json.dumps(message))


async def receive(socket: ClientConnection) -> dict[str, Any]:
    """The next message that is not a keep-alive."""
    while True:
        message = json.loads(await asyncio.wait_for(socket.recv(), ANSWER_TIMEOUT_S))
        if message.get("type") != "ka":
            return dict(message)


async def acknowledged(socket: ClientConnection) -> None:
    await send(socket, {"type": "connection_init"})
    assert await receive(socket) == {
        "type": "connection_ack",
        "payload": {"connectionTimeoutMs": 300_000},
    }


def start(operation_id: str, category: str) -> dict[str, Any]:
    data = json.dumps({"query": SUBSCRIBE, "variables": {"c": category}})
    return {"type": "start", "id": operation_id, "payload": {"data": data}}


def create_product(gateway: Gateway, category: str) -> dict[str, Any]:
    """Create a product in ``category`` through eu-west-1; return what the mutation answered."""
    product: dict[str, Any] = {"sku": unique("RT"), "name": "Kite", "category": category}
    product |= {"priceCents": 1500, "currency": "USD", "stock": 3}
    return dict(gateway.query(gateway.replica, CREATE, {"input": product})["createProduct"])


def test_raw_clients_in_each_region_hear_a_product_created_through_eu_west_1(
    gateway: Gateway,
) -> None:
    """
    GIVEN a raw AppSync-protocol client in each region, subscribed to category C with
          start_ack received
    WHEN a product in C is created through eu-west-1
    THEN each client gets one data message for its id with its selection of the product
    """

    async def scenario() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        category = unique("kites")
        async with (
            opened(realtime_url(gateway, "us-east-1", gateway.public_token)) as east,
            opened(realtime_url(gateway, "eu-west-1", gateway.public_token)) as west,
        ):
            for socket, operation_id in ((east, "east"), (west, "west")):
                await acknowledged(socket)
                await send(socket, start(operation_id, category))
                assert await receive(socket) == {"type": "start_ack", "id": operation_id}
            created = await asyncio.to_thread(create_product, gateway, category)
            return created, [await receive(east), await receive(west)]

    created, messages = asyncio.run(scenario())

    assert messages == [
        {"type": "data", "id": name, "payload": {"data": {"onProductChanged": created}}}
        for name in ("east", "west")
    ]


async def first_gql_message(gateway: Gateway, region: str, category: str) -> dict[str, Any]:
    """The first product gql's AppSync transport hears in ``category`` from ``region``."""
    host = f"127.0.0.1:{port(gateway, region)}"
    transport = AppSyncWebsocketsTransport(
        url=f"ws://{host}/graphql/realtime",
        # gql's "JWT" auth sends {host, Authorization}: what a Lambda authorizer's client sends.
        auth=AppSyncJWTAuthentication(host=host, jwt=gateway.public_token),
    )
    request = gql(SUBSCRIBE)
    request.variable_values = {"c": category}
    async with Client(transport=transport) as session:
        async for data in session.subscribe(request):
            # `return`, not `break`: leaving through the `async with` closes the transport.
            return dict(data["onProductChanged"])
    raise AssertionError(f"{region}: the subscription ended without a message")


def test_gql_appsync_transport_in_each_region_hears_products(gateway: Gateway) -> None:
    """
    GIVEN gql's AppSyncWebsocketsTransport, API-key auth, subscribed to category C in
          each region
    WHEN products in C are created through eu-west-1 until both have heard one
    THEN each hears a product it was sent, in C, within a bounded number of attempts
    """

    async def scenario() -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
        category = unique("gql-kites")
        listeners = {
            region: asyncio.create_task(first_gql_message(gateway, region, category))
            for region in REGIONS
        }
        created: list[dict[str, Any]] = []
        try:
            for _attempt in range(GQL_ATTEMPTS):
                created.append(await asyncio.to_thread(create_product, gateway, category))
                pending = [task for task in listeners.values() if not task.done()]
                if pending:
                    await asyncio.wait(pending, timeout=GQL_ATTEMPT_WAIT_S)
                if all(task.done() for task in listeners.values()):
                    break
            # result() re-raises a failed subscription's own error.
            heard = {region: task.result() for region, task in listeners.items() if task.done()}
        finally:
            for task in listeners.values():
                task.cancel()
            await asyncio.gather(*listeners.values(), return_exceptions=True)
        return created, heard

    created, heard = asyncio.run(scenario())

    assert sorted(heard) == sorted(REGIONS), f"heard nothing after {len(created)} products"
    for region, product in heard.items():
        assert product in created, region


def test_raw_edge_cases_and_http_still_answers_afterwards(gateway: Gateway) -> None:
    """
    GIVEN the raw AppSync protocol on /graphql, header= carrying the client token
    WHEN a client starts "op", starts "op" again, then stops "op"
    THEN the second start gets DuplicatedOperationError for "op", the stop gets complete
         for "op", and the region still answers HTTP
    """

    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        url = realtime_url(gateway, "eu-west-1", gateway.public_token, path="/graphql")
        async with opened(url) as socket:
            await acknowledged(socket)
            await send(socket, start("op", unique("edge")))
            assert await receive(socket) == {"type": "start_ack", "id": "op"}
            await send(socket, start("op", unique("edge")))
            duplicated = await receive(socket)
            await send(socket, {"type": "stop", "id": "op"})
            return duplicated, await receive(socket)

    duplicated, stopped = asyncio.run(scenario())

    assert (duplicated["type"], duplicated["id"]) == ("error", "op")
    errors = duplicated["payload"]["errors"]
    assert [error["errorType"] for error in errors] == ["DuplicatedOperationError"]
    assert stopped == {"type": "complete", "id": "op"}
    status, body = post(gateway.replica, "{ region { name } }", None, gateway.public())
    assert (status, body.get("data")) == (200, {"region": {"name": "eu-west-1"}})


def test_wrong_client_token_gets_connection_error_then_close(gateway: Gateway) -> None:
    """
    GIVEN a raw AppSync-protocol connection whose header= carries a wrong client token
    WHEN it sends connection_init
    THEN it gets connection_error typed UnauthorizedException, then the server closes it,
         and the region still answers HTTP
    """

    async def scenario() -> tuple[dict[str, Any], int | None]:
        async with opened(
            realtime_url(gateway, "us-east-1", "WrongClientToken00000000000000000000000001")
        ) as socket:
            await send(socket, {"type": "connection_init"})
            refused = await receive(socket)
            try:
                extra = await asyncio.wait_for(socket.recv(), ANSWER_TIMEOUT_S)
            except ConnectionClosed as closed:
                return refused, closed.rcvd.code if closed.rcvd else None
            raise AssertionError(f"expected the server to close, got {extra!r}")

    refused, code = asyncio.run(scenario())

    assert refused["type"] == "connection_error"
    assert [error["errorType"] for error in refused["payload"]["errors"]] == [
        "UnauthorizedException"
    ]
    assert code == 1000
    status, body = post(gateway.primary, "{ region { name } }", None, gateway.public())
    assert (status, body.get("data")) == (200, {"region": {"name": "us-east-1"}})


def test_header_param_with_a_plus_sent_unescaped_is_acknowledged(gateway: Gateway) -> None:
    """
    GIVEN a header= whose standard base64 contains '+', written into the URL unescaped as
          gql's AppSync authentications write it (any JSON with a run of five or
          more '~' encodes an aligned "~~~" as "fn5+")
    WHEN the client sends connection_init
    THEN it gets connection_ack, as with any other valid client token
    """
    url = realtime_url(gateway, "eu-west-1", gateway.public_token, extra={"x-note": "~" * 6})
    assert "+" in url

    async def scenario() -> dict[str, Any]:
        async with opened(url) as socket:
            await send(socket, {"type": "connection_init"})
            return await receive(socket)

    assert asyncio.run(scenario()) == {
        "type": "connection_ack",
        "payload": {"connectionTimeoutMs": 300_000},
    }
