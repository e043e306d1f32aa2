"""The global endpoint: every region behind the edge function, routed by health.

One `gateway dev` of its own, with the canary every half second and no caching of the
edge function's answer, so a failover is seen in seconds; faults are cleared after each
test.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from tests.e2e.support import (
    LEAK_MARKERS,
    Gateway,
    free_base_port,
    gateway_cli,
    post,
    start_gateway,
    stop_gateway,
    unique,
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

PRIMARY, REPLICA = "us-east-1", "eu-west-1"
APPSYNC = Subprotocol("graphql-ws")
TRANSPORT_WS = Subprotocol("graphql-transport-ws")
REGION = "{ region { name } }"
CREATE = """
mutation($s: String!, $c: String!) { createProduct(input: {sku: $s, name: "Lamp",
  category: $c, priceCents: 1200, currency: "EUR", stock: 4}) { id name version } }"""
PRODUCT = "query($id: ID!, $v: Int) { product(id: $id, minVersion: $v) { id name } }"
SUBSCRIBE = "subscription($c: String) { onProductChanged(category: $c) { id name category } }"
ANSWER_S = 10.0
# Two failed canary runs half a second apart, and the time they take.
FAILOVER_S = 20.0


@pytest.fixture(scope="module")
def edge_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    output = tmp_path_factory.mktemp("edge") / "gateway-dev.log"
    running = start_gateway(
        output,
        free_base_port(2),
        "--regions",
        f"{PRIMARY},{REPLICA}",
        "--health-interval-s",
        "0.5",
        "--edge-cache-s",
        "0",
    )
    yield running
    assert stop_gateway(running) == 0, running.text()


@pytest.fixture
def gateway(edge_gateway: Gateway) -> Iterator[Gateway]:
    """The deployment, healthy again after each test: faults off, routed to us-east-1."""
    yield edge_gateway
    assert gateway_cli(edge_gateway, "chaos", "clear", "--all").returncode == 0
    wait_until(lambda: served_by(edge_gateway) == PRIMARY, FAILOVER_S, "us-east-1 healthy again")


def served_by(gateway: Gateway) -> str | None:
    """The region that answers a read sent to the global endpoint."""
    status, body = post(gateway.global_url, REGION, None, gateway.public())
    return body["data"]["region"]["name"] if status == 200 and body.get("data") else None


def host_of(url: str) -> str:
    return urlsplit(url).netloc


def status_of(gateway: Gateway) -> dict[str, Any]:
    result = gateway_cli(gateway, "status", "--json")
    assert result.returncode == 0, result.stderr
    return {region["name"]: region for region in json.loads(result.stdout)["regions"]}


def create(gateway: Gateway, url: str, category: str) -> dict[str, Any]:
    status, body = post(url, CREATE, {"s": unique("LAMP"), "c": category}, gateway.staff())
    assert status == 200 and not body.get("errors"), body
    return dict(body["data"]["createProduct"])


def appsync_socket(gateway: Gateway, url: str, header: str | None = None) -> ClientConnection:
    """AppSync's real-time handshake on ``url``'s host: auth in ``header=``."""
    host = host_of(url)
    if header is None:
        auth = json.dumps({"host": host, "Authorization": gateway.public_token}).encode()
        header = base64.b64encode(auth).decode()
    return connect(
        f"ws://{host}/graphql/realtime?header={header}&payload=e30=",
        subprotocols=[APPSYNC],
        proxy=None,
        open_timeout=ANSWER_S,
    )


def receive(socket: ClientConnection) -> dict[str, Any]:
    """The next message that is not a keep-alive (or a pong)."""
    while True:
        message = json.loads(socket.recv(timeout=ANSWER_S))
        if message.get("type") not in ("ka", "pong"):
            return dict(message)


@contextlib.contextmanager
def appsync_subscribed(gateway: Gateway, url: str, category: str) -> Iterator[ClientConnection]:
    """An acknowledged AppSync real-time subscription to ``category``'s products."""
    with appsync_socket(gateway, url) as socket:
        socket.send(json.dumps({"type": "connection_init"}))
        assert receive(socket)["type"] == "connection_ack"
        data = json.dumps({"query": SUBSCRIBE, "variables": {"c": category}})
        authorization = {"host": host_of(url), "Authorization": gateway.public_token}
        start = {"data": data, "extensions": {"authorization": authorization}}
        socket.send(json.dumps({"id": "1", "type": "start", "payload": start}))
        assert receive(socket) == {"id": "1", "type": "start_ack"}
        yield socket


@contextlib.contextmanager
def transport_ws_subscribed(
    gateway: Gateway, url: str, category: str
) -> Iterator[ClientConnection]:
    """A graphql-transport-ws subscription, known to be registered: the server handles a
    socket's messages in order, so the pong after the subscribe comes after it."""
    with connect(
        url.replace("http://", "ws://", 1),
        subprotocols=[TRANSPORT_WS],
        proxy=None,
        open_timeout=ANSWER_S,
    ) as socket:
        socket.send(json.dumps({"type": "connection_init", "payload": gateway.public()}))
        assert receive(socket)["type"] == "connection_ack"
        payload = {"query": SUBSCRIBE, "variables": {"c": category}}
        socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        socket.send(json.dumps({"type": "ping"}))
        while json.loads(socket.recv(timeout=ANSWER_S)).get("type") != "pong":
            pass
        yield socket


def heard(socket: ClientConnection) -> dict[str, Any]:
    """The product the next ``data`` (or ``next``) message carries."""
    message = receive(socket)
    assert message["type"] in ("data", "next"), message
    return dict(message["payload"]["data"]["onProductChanged"])


def test_a_query_and_a_mutation_through_the_global_endpoint(gateway: Gateway) -> None:
    """GIVEN both regions healthy, us-east-1 nearest WHEN a client reads and writes through
    the global endpoint THEN us-east-1 answers, the write lands, and a read through the
    same endpoint gets it back."""
    assert served_by(gateway) == PRIMARY

    product = create(gateway, gateway.global_url, unique("global"))
    variables = {"id": product["id"], "v": product["version"]}
    status, body = post(gateway.global_url, PRODUCT, variables, gateway.public())

    assert status == 200 and not body.get("errors"), body
    assert body["data"]["product"] == {"id": product["id"], "name": "Lamp"}


@pytest.mark.parametrize("subscribed", [appsync_subscribed, transport_ws_subscribed])
def test_a_subscription_through_the_global_endpoint_hears_a_change(
    gateway: Gateway, subscribed: Any
) -> None:
    """GIVEN a subscription opened through the global endpoint, in AppSync's real-time
    protocol (/graphql/realtime, auth in header=, which the edge function rewrites) or
    in graphql-transport-ws WHEN a product of its category is created THEN it hears it."""
    category = unique("heard")
    with subscribed(gateway, gateway.global_url, category) as socket:
        product = create(gateway, gateway.global_url, category)
        assert heard(socket) == {"id": product["id"], "name": "Lamp", "category": category}


def test_an_outage_moves_new_requests_and_subscriptions_to_the_healthy_region(
    gateway: Gateway,
) -> None:
    """GIVEN us-east-1 nearest WHEN its DynamoDB fails (reads answer 200 with errors) THEN
    its read canary marks it unhealthy, and new requests and new subscriptions through
    the global endpoint go to eu-west-1; WHEN the fault is cleared THEN us-east-1 takes
    new requests again, and the subscription opened in eu-west-1 hears a new change."""
    category = unique("failover")
    before = status_of(gateway)
    result = gateway_cli(gateway, "chaos", "outage", "--region", PRIMARY)
    assert result.returncode == 0, result.stderr

    wait_until(lambda: served_by(gateway) == REPLICA, FAILOVER_S, "eu-west-1 to take over")
    health = status_of(gateway)
    assert health[PRIMARY]["health"]["healthy"] is False
    assert health[REPLICA]["health"]["healthy"] is True
    with appsync_subscribed(gateway, gateway.global_url, category) as socket:
        during = status_of(gateway)
        assert during[REPLICA]["subscribers"] == before[REPLICA]["subscribers"] + 1
        assert during[PRIMARY]["subscribers"] == before[PRIMARY]["subscribers"]

        assert gateway_cli(gateway, "chaos", "clear", "--all").returncode == 0
        wait_until(lambda: served_by(gateway) == PRIMARY, FAILOVER_S, "us-east-1 back")
        product = create(gateway, gateway.global_url, category)
        assert heard(socket)["id"] == product["id"]


def test_status_shows_a_stalled_replication_as_a_growing_heartbeat_age(
    gateway: Gateway,
) -> None:
    """GIVEN heartbeats every half second WHEN replication is paused THEN `gateway status`
    shows eu-west-1's age of us-east-1's heartbeat growing past seconds, while each
    region's own stays fresh; WHEN resumed THEN it is fresh again."""

    def age(status: dict[str, Any], region: str, source: str) -> int:
        value = status[region]["heartbeats"][source]["ageMs"]
        assert value is not None, (region, source)
        return int(value)

    wait_until(lambda: age(status_of(gateway), REPLICA, PRIMARY) < 3000, ANSWER_S, "fresh")
    assert gateway_cli(gateway, "chaos", "replication", "--pause").returncode == 0

    def grown() -> dict[str, Any] | None:
        status = status_of(gateway)
        return status if age(status, REPLICA, PRIMARY) > 4000 else None

    stalled = wait_until(grown, ANSWER_S, "the age to grow")
    assert age(stalled, REPLICA, REPLICA) < 3000
    assert age(stalled, PRIMARY, PRIMARY) < 3000
    text = gateway_cli(gateway, "status")
    assert "heartbeat age" in text.stdout and "from us-east-1" in text.stdout

    assert gateway_cli(gateway, "chaos", "replication", "--resume").returncode == 0
    wait_until(lambda: age(status_of(gateway), REPLICA, PRIMARY) < 3000, ANSWER_S, "fresh again")


def raw(url: str, method: str, path: str, body: bytes = b"", **headers: str) -> tuple[int, bytes]:
    """One request sent as it is (no client tidies the path), its status and body."""
    connection = http.client.HTTPConnection(host_of(url), timeout=ANSWER_S)
    try:
        connection.request(method, path, body=body or None, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def same_answer(
    gateway: Gateway, method: str, path: str, body: bytes = b"", **headers: str
) -> None:
    """The global endpoint answers exactly as the region it routes to (us-east-1), never
    with a 5xx, and without our insides."""
    direct = raw(gateway.primary, method, path, body, **headers)
    routed = raw(gateway.global_url, method, path, body, **headers)
    assert routed == direct, (path, routed, direct)
    assert routed[0] < 500
    for marker in LEAK_MARKERS:
        assert marker.encode() not in routed[1], (path, routed)


@pytest.mark.parametrize(
    "path",
    [
        "/nope",
        "/graphql/realtimex",
        "/graphql/realtime/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/graphql%00",
        "/graphql?query=%ZZ",
        "/_emulator/status",
        "/graphiql-assets/../../pyproject.toml",
    ],
)
def test_a_bad_path_gets_the_same_answer_through_the_global_endpoint(
    gateway: Gateway, path: str
) -> None:
    """GIVEN a path no route serves (or that tries to climb out, or reach the admin)
    WHEN sent to the global endpoint THEN the answer is the region's own."""
    same_answer(gateway, "GET", path)


def test_hostile_requests_get_the_same_answers_through_the_global_endpoint(
    gateway: Gateway,
) -> None:
    """GIVEN requests no client should send (malformed JSON, a body over the limit, a
    12 KB header, a 40 KB header) WHEN sent to the global endpoint THEN each gets what
    the region answers directly: a clear 4xx, or the query's answer."""
    key = {**gateway.public(), "content-type": "application/json"}
    query = json.dumps({"query": REGION}).encode()
    same_answer(gateway, "POST", "/graphql", b"{not json", **key)
    same_answer(gateway, "POST", "/graphql", b"[" * 2_000_000, **key)
    same_answer(gateway, "POST", "/graphql", query, **key, **{"x-padding": "x" * 12_000})
    same_answer(gateway, "POST", "/graphql", query, **key, **{"x-padding": "x" * 40_000})
    same_answer(gateway, "POST", "/graphql", query, **{"content-type": "application/json"})


@pytest.mark.parametrize(
    ("header", "answer"),
    [
        ("%%%not-base64", "connection_error"),
        (base64.b64encode(b"not json").decode(), "connection_error"),
        (base64.b64encode(b"[" * 2000 + b"]" * 2000).decode(), "connection_error"),
        (
            base64.b64encode(json.dumps({"host": "x", "Authorization": "no"}).encode()).decode(),
            "connection_error",
        ),
        ("a" * 9000, 414),
    ],
    ids=["not-base64", "not-json", "nested-too-deep", "wrong-token", "too-long"],
)
def test_a_garbage_header_parameter_gets_the_same_answer_through_the_global_endpoint(
    gateway: Gateway, header: str, answer: str | int
) -> None:
    """GIVEN an AppSync real-time handshake whose header= is garbage WHEN opened through
    the global endpoint THEN the handshake's answer, the messages and the close are those
    the region gives directly: a connection_error (or, for a request line too long to
    read, a 414), never a 5xx or a socket left hanging."""

    def conversation(url: str) -> list[Any]:
        said: list[Any] = []
        try:
            with appsync_socket(gateway, url, header) as socket:
                # The region may refuse these headers before connection_init arrives.
                with contextlib.suppress(ConnectionClosed):
                    socket.send(json.dumps({"type": "connection_init"}))
                while True:
                    said.append(receive(socket))
        except ConnectionClosed as closed:
            said.append(closed.rcvd.code if closed.rcvd else None)
        except InvalidStatus as refused:
            said.append(refused.response.status_code)
        return said

    routed = conversation(gateway.global_url)
    assert routed == conversation(gateway.primary)
    first = routed[0]
    assert (first["type"] if isinstance(first, dict) else first) == answer, routed


def test_a_handshake_the_region_refuses_is_refused_alike_through_the_global_endpoint(
    gateway: Gateway,
) -> None:
    """GIVEN a WebSocket handshake offering no protocol the region speaks WHEN opened
    through the global endpoint THEN it is refused with the region's own status."""

    def refusal(url: str) -> int:
        with pytest.raises(InvalidStatus) as refused:
            connect(url.replace("http://", "ws://", 1), proxy=None, open_timeout=ANSWER_S)
        return refused.value.response.status_code

    assert refusal(gateway.global_url) == refusal(gateway.primary) == 403


def test_the_global_endpoint_answers_only_its_own_loopback_name(gateway: Gateway) -> None:
    """GIVEN a request naming another host (DNS rebinding) WHEN it reaches the global
    endpoint THEN it is refused as every region refuses it, before the edge function."""
    status, _ = raw(gateway.global_url, "GET", "/graphql", Host=f"evil-{uuid.uuid4().hex}.test")
    assert status == 403
