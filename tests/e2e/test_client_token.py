"""One public client token for anonymous access, the same in every region, end to end.

Each region's API runs the authorizer function over its own copy of the client-token
secret (as each AWS region reads its replica), and the resolvers sign page tokens with
the page-token secret read the same way.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any
from urllib.parse import urlsplit

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from tests.e2e.support import Gateway, error_type, post, unique, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

REGIONS = ("us-east-1", "eu-west-1")
WRONG_TOKEN = "WrongClientToken00000000000000000000000001"
REALTIME = Subprotocol("graphql-ws")
TRANSPORT_WS = Subprotocol("graphql-transport-ws")
SUBSCRIBE = "subscription($c: String) { onProductChanged(category: $c) { id name } }"
CREATE = "mutation($i: CreateProductInput!) { createProduct(input: $i) { id name } }"
LISTING = "query($c: String, $after: String) { products(category: $c, first: 1, after: $after) "
LISTING += "{ items { sku } nextToken } }"
ANSWER_TIMEOUT_S = 10.0
UNAUTHORIZED = "You are not authorized to make this call."


def test_one_client_token_reads_in_every_region(gateway: Gateway) -> None:
    """GIVEN the one client token gateway dev printed WHEN a client sends it to each
    region THEN each answers from its own projection: no region needs its own key."""
    for region in REGIONS:
        status, body = post(gateway.urls[region], "{ region { name } }", None, gateway.public())

        assert (status, body) == (200, {"data": {"region": {"name": region}}}), region


@pytest.mark.parametrize(
    "headers",
    [{"Authorization": WRONG_TOKEN}, {"x-api-key": "da2-gatewaylocaldevelopmentkey"}],
    ids=["wrong client token", "an api key"],
)
def test_a_wrong_credential_gets_appsyncs_401_in_every_region(
    gateway: Gateway, headers: dict[str, str]
) -> None:
    """GIVEN a wrong client token, or an API key (there is none) WHEN it reaches either
    region THEN HTTP 401 with AppSync's body: one UnauthorizedException error, no data."""
    for region in REGIONS:
        status, body = post(gateway.urls[region], "{ region { name } }", None, headers)

        assert error_type(status, body) == "UnauthorizedException", region
        assert status == 401, region
        assert body["data"] is None and body["errors"][0]["message"] == UNAUTHORIZED


def realtime_url(gateway: Gateway, region: str, token: str) -> str:
    """AppSync's real-time URL, the token in ``header=`` as AppSync's clients put it."""
    host = urlsplit(gateway.urls[region]).netloc
    header = base64.b64encode(json.dumps({"host": host, "Authorization": token}).encode())
    return f"{gateway.ws_url(region)}/realtime?header={header.decode()}&payload=e30="


async def receive(socket: ClientConnection) -> dict[str, Any]:
    """The next message that is not a keep-alive."""
    while True:
        message = json.loads(await asyncio.wait_for(socket.recv(), ANSWER_TIMEOUT_S))
        if message.get("type") != "ka":
            return dict(message)


async def appsync_subscriber(gateway: Gateway, region: str, category: str) -> ClientConnection:
    socket = await connect(
        realtime_url(gateway, region, gateway.public_token), subprotocols=[REALTIME], proxy=None
    )
    await socket.send(json.dumps({"type": "connection_init"}))
    assert (await receive(socket))["type"] == "connection_ack"
    data = json.dumps({"query": SUBSCRIBE, "variables": {"c": category}})
    await socket.send(json.dumps({"type": "start", "id": "s", "payload": {"data": data}}))
    assert await receive(socket) == {"type": "start_ack", "id": "s"}
    return socket


async def transport_ws_subscriber(gateway: Gateway, region: str, category: str) -> ClientConnection:
    socket = await connect(gateway.ws_url(region), subprotocols=[TRANSPORT_WS], proxy=None)
    await socket.send(json.dumps({"type": "connection_init", "payload": gateway.public()}))
    assert await receive(socket) == {"type": "connection_ack"}
    payload = {"query": SUBSCRIBE, "variables": {"c": category}}
    await socket.send(json.dumps({"type": "subscribe", "id": "s", "payload": payload}))
    return socket


def test_one_client_token_subscribes_in_every_region_over_both_protocols(
    gateway: Gateway,
) -> None:
    """GIVEN the one client token on AppSync's real-time protocol and on
    graphql-transport-ws, in each region WHEN staff create a product in the category they
    watch THEN all four subscribers hear it."""
    category = unique("token")
    product = {"sku": unique("TOK"), "name": "Token lamp", "category": category}
    product |= {"priceCents": 1200, "currency": "EUR", "stock": 1}

    async def scenario() -> list[dict[str, Any]]:
        sockets = [
            await subscribe(gateway, region, category)
            for region in REGIONS
            for subscribe in (appsync_subscriber, transport_ws_subscriber)
        ]
        try:
            await asyncio.to_thread(gateway.query, gateway.primary, CREATE, {"i": product})
            return [await receive(socket) for socket in sockets]
        finally:
            for socket in sockets:
                await socket.close()

    heard = asyncio.run(scenario())

    names = [
        (message.get("payload") or {}).get("data", {}).get("onProductChanged", {}).get("name")
        for message in heard
    ]
    assert names == ["Token lamp"] * 4, heard


def test_a_wrong_client_token_is_refused_on_both_protocols(gateway: Gateway) -> None:
    """GIVEN a wrong client token WHEN it opens AppSync's real-time protocol, or
    graphql-transport-ws THEN the first gets connection_error UnauthorizedException, the
    second is closed 4403: no subscriber either way."""

    async def scenario() -> tuple[dict[str, Any], int | None]:
        url = realtime_url(gateway, "eu-west-1", WRONG_TOKEN)
        async with connect(url, subprotocols=[REALTIME], proxy=None) as realtime:
            await realtime.send(json.dumps({"type": "connection_init"}))
            refused = await receive(realtime)
        url = gateway.ws_url("us-east-1")
        async with connect(url, subprotocols=[TRANSPORT_WS], proxy=None) as transport:
            init = {"type": "connection_init", "payload": {"Authorization": WRONG_TOKEN}}
            await transport.send(json.dumps(init))
            try:
                await asyncio.wait_for(transport.recv(), ANSWER_TIMEOUT_S)
            except ConnectionClosed as closed:
                return refused, closed.rcvd.code if closed.rcvd else None
        raise AssertionError("graphql-transport-ws was not closed")

    refused, code = asyncio.run(scenario())

    assert refused["type"] == "connection_error"
    assert [error["errorType"] for error in refused["payload"]["errors"]] == [
        "UnauthorizedException"
    ]
    assert code == 4403


def test_a_page_token_from_one_region_pages_in_the_other(gateway: Gateway) -> None:
    """GIVEN two products in a category, listed one per page in us-east-1 WHEN the
    nextToken it gave is passed to eu-west-1 THEN eu-west-1 answers the second page:
    both regions read the one page-token secret at run time."""
    category = unique("pages")
    for index in (1, 2):
        product = {"sku": f"{category.upper()}-{index}", "name": "Page", "category": category}
        product |= {"priceCents": 100, "currency": "EUR", "stock": 1}
        gateway.query(gateway.primary, CREATE, {"i": product})

    def both_listed(url: str) -> bool:
        first = gateway.query(url, LISTING, {"c": category})["products"]
        return first["nextToken"] is not None

    for url in (gateway.primary, gateway.replica):
        wait_until(lambda url=url: both_listed(url), 15, f"both products in {url}")
    first = gateway.query(gateway.primary, LISTING, {"c": category})["products"]

    status, body = post(
        gateway.replica, LISTING, {"c": category, "after": first["nextToken"]}, gateway.public()
    )

    assert status == 200 and not body.get("errors"), body
    [second] = body["data"]["products"]["items"]
    assert {first["items"][0]["sku"], second["sku"]} == {
        f"{category.upper()}-1",
        f"{category.upper()}-2",
    }
