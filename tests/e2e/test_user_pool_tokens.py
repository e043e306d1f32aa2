"""`gateway token` mints what `gateway dev` accepts, as a Cognito user pool would."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.e2e.support import Gateway, post, unique

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

CREATE = (
    'mutation($s: String!) { createProduct(input: {sku: $s, name: "Stool", category: '
    '"tokens", priceCents: 2500, currency: "EUR", stock: 2}) { id version } }'
)


def mint(gateway: Gateway, *words: str) -> str:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli.main",
            "token",
            *words,
            "--state-dir",
            str(gateway.state_dir),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and result.stderr == ""  # stdout holds the token and nothing else
    return lines[0]


def test_staff_may_write_products_and_customers_may_not(gateway: Gateway) -> None:
    """GIVEN tokens from `gateway token` for a staff member and a customer WHEN each
    creates a product through eu-west-1 THEN staff succeed (raw or Bearer) and the
    customer gets Unauthorized, with nothing written."""
    staff = mint(gateway, "--sub", "staff-1", "--groups", "staff")
    customer = mint(gateway, "--sub", "c-1", "--groups", "customers")

    for header in (staff, f"Bearer {staff}"):
        status, body = post(
            gateway.replica, CREATE, {"s": unique("STOOL")}, {"Authorization": header}
        )
        assert status == 200 and body["data"]["createProduct"]["version"] == 1, body
    status, body = post(
        gateway.replica, CREATE, {"s": unique("STOOL")}, {"Authorization": customer}
    )
    assert status == 200
    assert body["data"]["createProduct"] is None
    assert body["errors"][0]["errorType"] == "Unauthorized"


def test_a_forged_token_gets_401(gateway: Gateway) -> None:
    """GIVEN a token whose payload was altered WHEN sent THEN HTTP 401, no data."""
    header, payload, signature = mint(gateway, "--sub", "c-1").split(".")
    forged = f"{header}.{payload[:-2]}xx.{signature}"
    status, body = post(gateway.primary, "{ region { name } }", None, {"Authorization": forged})
    assert status == 401
    assert body["errors"][0]["errorType"] == "UnauthorizedException"


@pytest.mark.parametrize(
    ("words", "complaint"), [(["--sub", " "], "--sub"), (["--sub", "x", "--ttl", "0"], "--ttl")]
)
def test_token_refuses_bad_flags(gateway: Gateway, words: list[str], complaint: str) -> None:
    """GIVEN an empty sub or a non-positive ttl THEN exit 2 naming the flag."""
    result = subprocess.run(
        [sys.executable, "-m", "cli", "token", *words], capture_output=True, text=True
    )
    assert result.returncode == 2 and complaint in result.stderr


def test_the_client_token_reads_products_but_places_no_orders(gateway: Gateway) -> None:
    """GIVEN only the client token WHEN it reads products THEN fine; WHEN it places an order
    or reads a customer THEN Unauthorized (DESIGN.md's auth table)."""
    place = (
        'mutation { placeOrder(input: {customerId: "c-1", idempotencyKey: "k", '
        'lines: [{productId: "p", quantity: 1}]}) { id } }'
    )
    status, body = post(gateway.primary, "{ products { nextToken } }", None, gateway.public())
    assert status == 200 and "errors" not in body
    for query in (place, '{ customer(id: "c-1") { id } }'):
        status, body = post(gateway.primary, query, None, gateway.public())
        assert body["errors"][0]["errorType"] == "Unauthorized", body


def test_a_customer_cannot_subscribe_to_anothers_orders(gateway: Gateway) -> None:
    """GIVEN customer ana's token WHEN she subscribes to customer ben's orders THEN the
    subscription's resolver refuses it with an Unauthorized error for that id; to her
    own orders, the subscription is accepted."""
    import asyncio
    import json

    from websockets.asyncio.client import connect
    from websockets.typing import Subprotocol

    token = gateway.token("ana", "customers")
    query = "subscription($c: ID) { onOrderChanged(customerId: $c) { id } }"

    async def attempt(customer_id: str) -> dict[str, object]:
        async with connect(
            gateway.ws_url("eu-west-1"), subprotocols=[Subprotocol("graphql-transport-ws")]
        ) as socket:
            await socket.send(
                json.dumps({"type": "connection_init", "payload": {"Authorization": token}})
            )
            assert json.loads(await socket.recv())["type"] == "connection_ack"
            payload = {"query": query, "variables": {"c": customer_id}}
            await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
            await socket.send(json.dumps({"type": "ping"}))
            answer: dict[str, object] = json.loads(await asyncio.wait_for(socket.recv(), 10))
            return answer

    refused = asyncio.run(attempt("ben"))
    assert refused["type"] == "error" and refused["id"] == "1"
    assert refused["payload"][0]["errorType"] == "Unauthorized"  # type: ignore[index]
    accepted = asyncio.run(attempt("ana"))
    assert accepted["type"] == "pong"  # no error came first: the subscription stands


def test_a_token_in_no_group_has_only_what_the_client_token_has(gateway: Gateway) -> None:
    """GIVEN `gateway token` for a user in no group WHEN they register as themselves and
    place an order THEN Unauthorized each time, and no customer record is there for staff
    to read; WHEN they read products THEN fine, as with the client token."""
    user = unique("nogroup")
    token = {"Authorization": mint(gateway, "--sub", user)}
    register = 'mutation($e: AWSEmail!) { registerCustomer(input: {email: $e, name: "N"}) { id } }'
    place = (
        'mutation($c: ID!) { placeOrder(input: {customerId: $c, idempotencyKey: "k", '
        'lines: [{productId: "p", quantity: 1}]}) { id } }'
    )

    for query, variables in ((register, {"e": f"{user}@example.com"}), (place, {"c": user})):
        status, body = post(gateway.primary, query, variables, token)
        assert status == 200 and body["errors"][0]["errorType"] == "Unauthorized", body
    read = "query($c: ID!) { customer(id: $c) { id } }"
    assert gateway.query(gateway.primary, read, {"c": user}) == {"customer": None}
    status, body = post(gateway.primary, "{ products { nextToken } }", None, token)
    assert status == 200 and "errors" not in body
