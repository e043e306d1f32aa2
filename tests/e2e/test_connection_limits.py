"""What one connection may hold over real sockets: bodies are refused before they are
read, and nothing sent to `gateway dev` stays in its memory."""

from __future__ import annotations

import asyncio
import contextlib
import json
import select
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from tests.e2e.support import (
    Gateway,
    free_base_port,
    post,
    post_raw,
    start_gateway,
    stop_gateway,
    unique,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

MIB = 1024 * 1024
ANSWER_TIMEOUT_S = 30.0
# What Python may keep of a refused request: buffers, a response, allocator slack.
RSS_GROWTH_BOUND_MIB = 32
# This gateway's bounds (shorter than the defaults, so that tests need not wait long),
# and a margin for a loaded machine to act on them.
REQUEST_READ_TIMEOUT_S = 2.0
CONNECTION_INIT_TIMEOUT_S = 1.0
SOCKETS_PER_KEY = 3
ANSWER_MARGIN_S = 5.0


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A gateway of its own: its memory is measured, so no other test may use it."""
    output: Path = tmp_path_factory.mktemp("limits") / "gateway-dev.log"
    running = start_gateway(
        output,
        free_base_port(2),
        "--request-read-timeout-ms",
        str(round(REQUEST_READ_TIMEOUT_S * 1000)),
        "--connection-init-timeout-ms",
        str(round(CONNECTION_INIT_TIMEOUT_S * 1000)),
        "--max-sockets-per-key",
        str(SOCKETS_PER_KEY),
    )
    yield running
    assert stop_gateway(running) == 0
    assert "Traceback" not in running.text(), running.text()


def rss_mib(pid: int) -> float:
    """The process's resident memory now, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for process {pid}")


def send_zeros(url: str, total: int, *, chunked: bool) -> tuple[int, dict[str, object]]:
    """POST ``total`` zero bytes without credentials, with a Content-Length or chunked,
    stopping as soon as the server answers; ``(status, JSON body)``."""
    address = urlsplit(url)
    headers = [f"POST {address.path} HTTP/1.1", f"Host: {address.netloc}"]
    headers += ["Content-Type: application/json"]
    headers += ["Transfer-Encoding: chunked"] if chunked else [f"Content-Length: {total}"]
    chunk = b"\0" * (256 * 1024)
    framed = b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk
    answer = b""
    with socket.create_connection((address.hostname, address.port), ANSWER_TIMEOUT_S) as conn:
        conn.sendall(("\r\n".join(headers) + "\r\n\r\n").encode())
        sent = 0
        try:
            while sent < total and not select.select([conn], [], [], 0)[0]:
                conn.sendall(framed)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused and closed mid-body: the answer is already in the buffer
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            data = conn.recv(65536)
            if not data:
                break
            answer += data
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_200_mb_without_credentials_is_refused_and_not_kept(
    gateway: Gateway, chunked: bool
) -> None:
    """
    GIVEN a running gateway and its resident memory
    WHEN 200 MB of zeros is posted to /graphql with no credentials, declared in
         Content-Length or chunked with no length
    THEN it is answered HTTP 413 LimitExceeded, the process grew by no more than a few
         megabytes (it never read the body), and the region answers the next query
    """
    pid = gateway.process.pid
    before = rss_mib(pid)

    status, body = send_zeros(gateway.primary, 200 * MIB, chunked=chunked)

    assert status == 413, body
    assert body["errors"][0]["errorType"] == "LimitExceeded"  # type: ignore[index]
    assert rss_mib(pid) - before < RSS_GROWTH_BOUND_MIB
    status, answer = post(gateway.primary, "{ region { name } }", None, gateway.public())
    assert (status, answer) == (200, {"data": {"region": {"name": "us-east-1"}}})


def test_a_client_that_sends_its_whole_body_before_reading_gets_the_413(
    gateway: Gateway,
) -> None:
    """
    GIVEN a client such as urllib, which sends all of a request body before it reads
    WHEN it posts 8 MB, ten times over
    THEN it reads HTTP 413 LimitExceeded every time: the server answers without reading
         the body, then discards what is still coming instead of resetting the
         connection (which would lose the answer)
    """
    body = b"\0" * (8 * MIB)
    answers = [post_raw(gateway.primary, body, gateway.public())[0] for _ in range(10)]

    assert answers == [413] * 10


def subscribers(gateway: Gateway, region: str) -> int:
    """How many subscriber sockets ``gateway status`` counts in ``region``."""
    request = urllib.request.Request(
        gateway.admin_url("/status", region), headers={"accept": "json", **gateway.operator()}
    )
    with urllib.request.urlopen(request, timeout=ANSWER_TIMEOUT_S) as response:
        status = json.loads(response.read())
    return next(int(r["subscribers"]) for r in status["regions"] if r["name"] == region)


@pytest.mark.parametrize("answered_first", [0, 1], ids=["first request", "after a request"])
def test_half_a_request_line_is_closed_within_the_bound(
    gateway: Gateway, answered_first: int
) -> None:
    """
    GIVEN a client that sends half a request line and then nothing, on a new connection
          or on one kept alive after an answered request
    WHEN the request read timeout passes
    THEN the server answers 408 and closes the connection, instead of holding it for ever
    """
    address = urlsplit(gateway.primary)
    body = json.dumps({"query": "{ region { name } }"}).encode()
    whole = (
        f"POST {address.path} HTTP/1.1\r\nHost: {address.netloc}\r\n"
        f"Content-Type: application/json\r\nAuthorization: {gateway.public_token}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    with socket.create_connection((address.hostname, address.port), ANSWER_TIMEOUT_S) as conn:
        answer = b""
        for _ in range(answered_first):
            conn.sendall(whole)
            while b'"eu-west-1"' not in answer and b'"us-east-1"' not in answer:
                answer += conn.recv(65536)
            answer = b""
        conn.sendall(b"POST /graph")
        conn.settimeout(REQUEST_READ_TIMEOUT_S + ANSWER_MARGIN_S)
        while data := conn.recv(65536):
            answer += data

    assert answer.startswith(b"HTTP/1.1 408 "), answer


def test_a_websocket_that_never_inits_is_not_a_subscriber_and_is_closed(
    gateway: Gateway,
) -> None:
    """
    GIVEN a client that opens an AppSync real-time socket with the client token in its
          upgrade headers and never sends connection_init
    WHEN the region's status is read, and the connection init timeout passes
    THEN it counts no subscriber (an unacknowledged socket subscribes to nothing), and
         the socket is closed with 4408
    """

    async def opened_silently() -> tuple[int, int | None]:
        async with ws_connect(
            gateway.ws_url("us-east-1"),
            subprotocols=[Subprotocol("graphql-ws")],
            additional_headers=gateway.public(),
        ) as socket:
            counted = await asyncio.to_thread(subscribers, gateway, "us-east-1")
            with contextlib.suppress(ConnectionClosed):
                await asyncio.wait_for(socket.recv(), CONNECTION_INIT_TIMEOUT_S + ANSWER_MARGIN_S)
            return counted, socket.close_code

    assert subscribers(gateway, "us-east-1") == 0
    assert asyncio.run(opened_silently()) == (0, 4408)


async def acknowledged(gateway: Gateway, headers: dict[str, str]) -> tuple[Any, Any]:
    """A socket in eu-west-1 after connection_init: the socket and the first answer."""
    socket = await ws_connect(
        gateway.ws_url("eu-west-1"),
        subprotocols=[Subprotocol("graphql-ws")],
        additional_headers=headers,
    )
    await socket.send(json.dumps({"type": "connection_init"}))
    return socket, json.loads(await asyncio.wait_for(socket.recv(), ANSWER_TIMEOUT_S))


def test_the_socket_over_a_keys_cap_is_refused_and_others_keys_still_connect(
    gateway: Gateway,
) -> None:
    """
    GIVEN a gateway that lets one key hold 3 sockets per region
    WHEN a fourth socket with the client token sends connection_init, and then a customer
         connects with their own token
    THEN the first three are acknowledged, the fourth gets a LimitExceeded
         connection_error and is closed with 1008, the region counts 3 subscribers,
         and the customer's socket is acknowledged
    """

    async def scenario() -> tuple[list[Any], Any, int | None, int, Any]:
        async with contextlib.AsyncExitStack() as stack:
            answers = []
            for _ in range(SOCKETS_PER_KEY):
                socket, answer = await acknowledged(gateway, gateway.public())
                stack.push_async_callback(socket.close)
                answers.append(answer)
            fourth, refusal = await acknowledged(gateway, gateway.public())
            with contextlib.suppress(ConnectionClosed):
                await asyncio.wait_for(fourth.recv(), ANSWER_TIMEOUT_S)
            counted = await asyncio.to_thread(subscribers, gateway, "eu-west-1")
            token = {"Authorization": gateway.token(unique("shopper"), "customers")}
            other, welcome = await acknowledged(gateway, token)
            stack.push_async_callback(other.close)
            return answers, refusal, fourth.close_code, counted, welcome

    answers, refusal, code, counted, welcome = asyncio.run(scenario())

    assert [answer["type"] for answer in answers] == ["connection_ack"] * SOCKETS_PER_KEY
    assert refusal["type"] == "connection_error"
    assert refusal["payload"]["errors"][0]["errorType"] == "LimitExceeded"
    assert code == 1008
    assert counted == SOCKETS_PER_KEY
    assert welcome["type"] == "connection_ack"


@pytest.mark.parametrize(
    ("padding", "status"),
    [({"target": 9000}, b"414"), ({"header": 9000}, b"431"), ({"headers": 200}, b"431")],
    ids=["request line", "header line", "header count"],
)
def test_a_websocket_handshake_too_long_to_parse_is_refused_not_held(
    gateway: Gateway, padding: dict[str, int], status: bytes
) -> None:
    """
    GIVEN a WebSocket handshake with a request line or a header line over 8 KB, or over
          a hundred headers: more than the WebSocket handshake parser reads
    WHEN it reaches the region
    THEN it is answered (414 or 431) and closed at once, instead of being held open and
         unanswered for as long as the client waits
    """
    address = urlsplit(gateway.primary)
    target = "/graphql/realtime?header=" + "a" * padding.get("target", 0)
    extra = "".join(f"x-pad-{index}: 1\r\n" for index in range(padding.get("headers", 0)))
    if "header" in padding:
        extra += f"x-padding: {'a' * padding['header']}\r\n"
    handshake = (
        f"GET {target} HTTP/1.1\r\nHost: {address.netloc}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: graphql-ws\r\n{extra}\r\n"
    ).encode()
    with socket.create_connection((address.hostname, address.port), ANSWER_TIMEOUT_S) as conn:
        conn.sendall(handshake)
        conn.settimeout(ANSWER_MARGIN_S)
        answer = b""
        while data := conn.recv(65536):
            answer += data

    assert answer.startswith(b"HTTP/1.1 " + status + b" "), answer
