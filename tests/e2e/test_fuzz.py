"""Fuzzing over real sockets: random and mutated input gets typed errors, never a 5xx or a
leak, and the service answers correctly afterwards. Seeded, so every run sends the same."""

from __future__ import annotations

import asyncio
import base64
import json
import random
import time
import urllib.error
from collections import Counter
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest
from websockets.asyncio.client import ClientConnection, connect
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
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

SEED = 20261123
HTTP_INPUTS = 700
FRAMES_PER_PROTOCOL = 200
FUZZ_BUDGET_S = 90.0  # for each of HTTP and WebSockets
ANSWER_TIMEOUT_S = 5.0
REPLICATION_TIMEOUT_S = 15.0
REGIONS = ("us-east-1", "eu-west-1")
TRANSPORT_WS, APPSYNC_WS = Subprotocol("graphql-transport-ws"), Subprotocol("graphql-ws")
SUBSCRIBE = "subscription($c: String) { onProductChanged(category: $c) { id name version } }"
QUERIES = (
    "{ products { items { id name } nextToken } }",
    "{ region { name } }",
    "query P($c: String) { products(category: $c, first: 2) { items { id sku } nextToken } }",
    "query One($id: ID!) { product(id: $id, minVersion: 1) { id name stock } }",
    'mutation { adjustStock(input: {id: "nope", delta: 1}) { id stock } }',
    SUBSCRIBE,
)
CREATE = "mutation($input: CreateProductInput!) { createProduct(input: $input) { id name } }"
PRODUCT = "query($id: ID!) { product(id: $id) { id name } }"
NOISE = '{}()[]:$@!.,"\\#&|=\n\t \x00' + "abcXYZ019_é€𝕏\u200b\ufeff"
WRONG: tuple[Any, ...] = (None, 0, -1, 1.5, True, "", " ", [], [1, "a"], {}, {"a": None})
LEAKS = ("Traceback", "/work/")
S = TypeVar("S", str, bytes)
Problems = dict[str, list[str]]  # what went wrong -> the inputs it went wrong for


def note(problems: Problems, kind: str, example: str) -> None:
    problems.setdefault(kind, []).append(example[:300])


def report(problems: Problems) -> str:
    """Each kind of failure, counted, with its first example: a run's findings at a glance."""
    return "\n".join(
        f"{len(seen):4d} x {kind}; first: {seen[0]}" for kind, seen in problems.items()
    )


def mutate(rng: random.Random, data: S, noise: Sequence[S]) -> S:
    """Flip or replace, delete, duplicate, insert, or truncate, one to four times."""
    for _ in range(rng.randint(1, 4)):
        i, op = rng.randrange(len(data) + 1), rng.randrange(5)
        if op == 0 and i < len(data):
            flipped = bytes([data[i] ^ 1 << rng.randrange(8)]) if isinstance(data, bytes) else None
            data = data[:i] + (flipped or rng.choice(noise)) + data[i + 1 :]
        elif op == 1:
            data = data[:i] + data[i + rng.randint(1, 8) :]
        elif op == 2:
            data = data[:i] + data[i : i + rng.randint(1, 16)] + data[i:]
        elif op == 3:
            data = data[:i] + rng.choice(noise) + data[i:]
        else:
            data = data[:i]
    return data


def unicode_text(rng: random.Random, length: int) -> str:
    """Printable ASCII, the BMP and the astral planes; never a lone surrogate (unsendable)."""
    ranges = ((0x20, 0x7F), (0xA0, 0xD800), (0xE000, 0xFFFE), (0x10000, 0x10FFFF))
    return "".join(chr(rng.randrange(*rng.choice(ranges))) for _ in range(length))


def deep_or_huge(rng: random.Random) -> str:
    """A JSON text nested or sized to hurt a recursive parser or an unbounded buffer."""
    n = rng.choice((100, 1_000, 10_000, 50_000))
    shapes = (
        lambda: json.dumps({"query": "{" * n}),
        lambda: json.dumps({"query": "{ region " + "{ name " * n + "}" * (n + 1)}),
        lambda: "[" * n + "]" * n,
        lambda: (
            '{"query": "{ region { name } }", "variables": ' + '{"a":' * n + "1" + "}" * (n + 1)
        ),
        lambda: json.dumps({"query": f'{{ products(category: "{"x" * n * 4}") {{ nextToken }} }}'}),
        lambda: json.dumps({"query": "{" + " region { name }" * (n // 10) + "}"}),
        lambda: json.dumps({"query": "# over a megabyte at the largest n\n" * n}),
    )
    return rng.choice(shapes)()


def http_input(rng: random.Random) -> tuple[str, bytes]:
    """One fuzzed body for ``POST /graphql``, and the kind it is."""
    query = rng.choice(QUERIES)
    valid = {"query": query, "variables": {"c": "fuzz", "id": "p-1"}, "operationName": None}
    kinds = ("random bytes", "mutated JSON", "wrong types", "mutated GraphQL", "deep/huge")
    kind = rng.choice((*kinds, "unicode"))
    if kind == "random bytes":
        return kind, rng.randbytes(rng.randint(0, 512))
    if kind == "mutated JSON":
        return kind, mutate(rng, json.dumps(valid).encode(), [bytes([b]) for b in range(256)])
    if kind == "wrong types":
        field = rng.choice(("query", "variables", "operationName", "whole"))
        body: Any = rng.choice(WRONG) if field == "whole" else {**valid, field: rng.choice(WRONG)}
        return kind, json.dumps(body).encode()
    if kind == "mutated GraphQL":
        return kind, json.dumps({**valid, "query": mutate(rng, query, NOISE)}).encode()
    if kind == "deep/huge":
        return kind, deep_or_huge(rng).encode()
    spot = rng.randrange(len(query))
    odd = unicode_text(rng, rng.randint(1, 40)) + rng.choice(("", "\ud800", "\udfff\ud83d"))
    fields = {"query": query[:spot] + odd + query[spot:], "operationName": rng.choice((None, odd))}
    return kind, json.dumps({**valid, **fields, "variables": {odd: odd}}).encode()


def garbage_authorization(rng: random.Random) -> str:
    prefix = rng.choice(("", "Bearer ", "AWS4-HMAC-SHA256 ", "eyJ"))
    return prefix + "".join(chr(rng.randrange(0x21, 0x7F)) for _ in range(rng.randint(0, 200)))


def check_answer(kind: str, what: str, answer: Any, problems: Problems) -> None:
    """Every error names its errorType, and nothing names our insides."""
    text = json.dumps(answer)
    if any(leak in text for leak in LEAKS):
        note(problems, f"{kind}: the answer leaks a trace or a path", f"{what} -> {text}")
    errors = answer.get("errors") if isinstance(answer, dict) else None
    if isinstance(answer, dict) and answer.get("type") in ("error", "connection_error"):
        payload = answer.get("payload")
        errors = payload.get("errors") if isinstance(payload, dict) else payload
        if not errors:
            note(problems, f"{kind}: an error message without errors", f"{what} -> {text}")
    for error in errors if isinstance(errors, list) else [errors] if errors else []:
        if not isinstance(error, dict) or not error.get("errorType"):
            note(problems, f"{kind}: an error without errorType", f"{what} -> {text}")


def http_status(error: BaseException | None) -> int | None:
    """The status of the HTTPError that ``error`` was raised while handling, if any."""
    while error is not None and not isinstance(error, urllib.error.HTTPError):
        error = error.__context__
    return None if error is None else error.code


def fuzz_http(gateway: Gateway, rng: random.Random, sent: Counter[str], problems: Problems) -> None:
    deadline = time.monotonic() + FUZZ_BUDGET_S
    for _ in range(HTTP_INPUTS):
        if time.monotonic() > deadline:
            break
        kind, body = http_input(rng)
        headers, roll = gateway.public(), rng.random()
        if roll < 0.15:  # sometimes a garbage token, a third of those without the client token
            headers = {} if roll < 0.05 else headers
            headers["Authorization"] = garbage_authorization(rng)
        sent[f"http {kind}"] += 1
        url, what = (
            rng.choice([gateway.primary, gateway.replica]),
            f"POST ({len(body)} bytes) {body[:120]!r}",
        )
        try:
            status, answer = post_raw(url, body, headers)
        except ValueError as error:  # post_raw could not parse the answer
            note(problems, f"http {kind}: HTTP {http_status(error)} and not JSON", what)
            continue
        if status >= 500 or (status >= 400 and not answer.get("errors")):
            note(problems, f"http {kind}: HTTP {status}", f"{what} -> {json.dumps(answer)}")
        check_answer(f"http {kind}", what, answer, problems)


def ws_frame(
    rng: random.Random, protocol: Subprotocol, auth: dict[str, str], n: int
) -> tuple[str, Any]:
    """One fuzzed frame for ``protocol``, and the kind it is."""
    query, variables = rng.choice(QUERIES), {"c": rng.choice(("fuzz", 1, None))}
    data = json.dumps({"query": query, "variables": variables})
    payload: dict[str, Any] = {"query": query, "variables": variables}
    if protocol == APPSYNC_WS:
        payload = {"data": data, "extensions": {"authorization": auth}}
    start = "subscribe" if protocol == TRANSPORT_WS else "start"
    valid: dict[str, Any] = {"id": f"s{n}", "type": start, "payload": payload}
    kinds = ("random text", "mutated message", "wrong types", "mutated query", "binary")
    kind = rng.choice((*kinds, "deep"))
    if kind == "random text":
        return kind, unicode_text(rng, rng.randint(0, 300))
    if kind == "mutated message":
        return kind, mutate(rng, json.dumps(valid), NOISE)
    if kind == "wrong types":
        types = ("subscribe", "start", "stop", "complete", "ping", "pong", "connection_init", "ka")
        message = {**valid, "type": rng.choice((*types, *WRONG))}
        message[rng.choice(("id", "payload", "type"))] = rng.choice(WRONG)
        return kind, json.dumps(message)
    if kind == "mutated query":
        # Each protocol reads its own field and ignores the other.
        payload["query"] = mutate(rng, query, NOISE)
        payload["data"] = json.dumps({"query": payload["query"]})
        return kind, json.dumps(valid)
    if kind == "binary":
        return kind, rng.randbytes(rng.randint(0, 256))
    depth = rng.choice((100, 10_000, 50_000))
    return kind, '{"type": "subscribe", "id": "d", "payload": ' + "[" * depth + "]" * depth + "}"


async def opened(gateway: Gateway, rng: random.Random, protocol: Subprotocol) -> ClientConnection:
    """A connection past its handshake, with the client token, in a random region and path."""
    url = gateway.ws_url(rng.choice(REGIONS)) + rng.choice(("", "/realtime"))
    if protocol == APPSYNC_WS:
        header = json.dumps({"host": urlsplit(url).netloc, "Authorization": gateway.public_token})
        url += f"?header={base64.b64encode(header.encode()).decode()}&payload=e30="
    socket = await connect(url, subprotocols=[protocol], proxy=None, max_size=None)
    init: dict[str, Any] = {"type": "connection_init"}
    if protocol == TRANSPORT_WS:
        init["payload"] = gateway.public()
    await socket.send(json.dumps(init))
    ack = json.loads(await asyncio.wait_for(socket.recv(), ANSWER_TIMEOUT_S))
    assert ack["type"] == "connection_ack", ack
    return socket


async def answered(socket: ClientConnection, protocol: Subprotocol, n: int) -> list[Any]:
    """The answers up to a probe's: the server has handled every frame sent before it.
    The probe is a ping (graphql-transport-ws), or a message type it does not know, which it
    answers with an error carrying the probe's id (graphql-ws)."""
    probe = {"type": "ping"} if protocol == TRANSPORT_WS else {"type": "probe", "id": f"p{n}"}
    await socket.send(json.dumps(probe))
    answers = []
    while True:
        text = await asyncio.wait_for(socket.recv(), ANSWER_TIMEOUT_S)
        answers.append(json.loads(text))
        if answers[-1].get("type") == "pong" or answers[-1].get("id") == probe.get("id"):
            return answers


async def fuzz_sockets(
    gateway: Gateway, rng: random.Random, sent: Counter[str], problems: Problems
) -> None:
    deadline = time.monotonic() + FUZZ_BUDGET_S
    for protocol in (TRANSPORT_WS, APPSYNC_WS):
        n, closes, kind, what = 0, Counter[int | None](), "", ""
        auth = {"host": urlsplit(gateway.replica).netloc, **gateway.public()}
        while n < FRAMES_PER_PROTOCOL and time.monotonic() < deadline:
            socket = await opened(gateway, rng, protocol)
            try:
                while n < FRAMES_PER_PROTOCOL and time.monotonic() < deadline:
                    kind, frame = ws_frame(rng, protocol, auth, n)
                    sent[f"{protocol} {kind}"] += 1
                    n, what = n + 1, f"frame ({len(frame)} long) {frame[:120]!r}"
                    await socket.send(frame)
                    for answer in await answered(socket, protocol, n):
                        check_answer(f"{protocol} {kind}", what, answer, problems)
            except ConnectionClosed as closed:
                # Closing is a fine answer to garbage; dropping the connection is not.
                code = closed.rcvd.code if closed.rcvd else None
                closes[code] += 1
                if code in (None, 1011):
                    note(problems, f"{protocol} {kind}: connection dropped ({code})", what)
            except TimeoutError:
                note(problems, f"{protocol} {kind}: no answer in {ANSWER_TIMEOUT_S} s", what)
            finally:
                await socket.close()
        print(f"{protocol}: the server closed with codes {dict(closes)}")


async def hears_a_change(gateway: Gateway) -> dict[str, Any]:
    """A fresh graphql-transport-ws subscriber in eu-west-1 hears a staff write in us-east-1."""
    category, url = unique("fuzz-after"), gateway.ws_url("eu-west-1")
    async with connect(url, subprotocols=[TRANSPORT_WS], proxy=None) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": gateway.public()}))
        ack = json.loads(await asyncio.wait_for(socket.recv(), ANSWER_TIMEOUT_S))
        assert ack["type"] == "connection_ack", ack
        payload = {"query": SUBSCRIBE, "variables": {"c": category}}
        await socket.send(json.dumps({"id": "after", "type": "subscribe", "payload": payload}))
        # Messages are handled in order: the pong proves the subscription is registered.
        assert await answered(socket, TRANSPORT_WS, 0) == [{"type": "pong"}]
        product: dict[str, Any] = {"sku": unique("FUZZ"), "name": "Mug", "category": category}
        product |= {"priceCents": 990, "currency": "EUR", "stock": 3, "description": "Still here"}
        status, body = await asyncio.to_thread(
            post, gateway.primary, CREATE, {"input": product}, gateway.staff()
        )
        assert status == 200 and not body.get("errors"), body
        created: dict[str, Any] = body["data"]["createProduct"]
        heard = json.loads(await asyncio.wait_for(socket.recv(), REPLICATION_TIMEOUT_S))
        assert heard["type"] == "next" and heard["id"] == "after", heard
        assert heard["payload"]["data"]["onProductChanged"]["id"] == created["id"], heard
        return created


def product_at(gateway: Gateway, url: str, product_id: str) -> Any:
    return gateway.query(url, PRODUCT, {"id": product_id})["product"]


def test_fuzzed_input_never_breaks_the_service(tmp_path: Path) -> None:
    """
    GIVEN gateway dev with two regions
    WHEN over a thousand random and mutated HTTP bodies and WebSocket frames arrive
    THEN no answer is a 5xx, every error has an errorType, nothing leaks a trace or a path,
         and afterwards both regions answer, a staff write lands in both, and a fresh
         subscriber hears it
    """
    gateway = start_gateway(tmp_path / "out.log", free_base_port(2))
    rng, sent, problems = random.Random(SEED), Counter[str](), Problems()
    try:
        fuzz_http(gateway, rng, sent, problems)
        asyncio.run(fuzz_sockets(gateway, rng, sent, problems))
        print("\n".join(f"sent {count:4d} {kind}" for kind, count in sorted(sent.items())))
        print(f"sent {sum(sent.values())} in all; problems:\n{report(problems)}")

        for region in REGIONS:
            status, body = post(
                gateway.urls[region], "{ region { name } }", headers=gateway.public()
            )
            assert (status, body.get("data")) == (200, {"region": {"name": region}}), body
        created = asyncio.run(hears_a_change(gateway))
        for url in (gateway.primary, gateway.replica):
            found = partial(product_at, gateway, url, created["id"])
            read = wait_until(found, REPLICATION_TIMEOUT_S, f"product {created['id']} at {url}")
            assert read == created
        assert sum(sent.values()) >= 1_000, sent
        assert not problems, report(problems)
    finally:
        exit_code = stop_gateway(gateway)
    assert exit_code == 0, gateway.text()
    assert "Traceback" not in gateway.text(), gateway.text()[-3000:]
