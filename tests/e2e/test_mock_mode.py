"""`gateway dev --mock`: a front end builds a whole screen before the back end exists."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gql import Client, GraphQLRequest, gql
from gql.transport.websockets import WebsocketsTransport

from tests.e2e.support import (
    REPO_ROOT,
    Gateway,
    error_type,
    free_base_port,
    post,
    start_gateway,
    stop_gateway,
    unique,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

CATALOGUE = """
query Catalogue($category: String) {
  products(category: $category, first: 4) {
    items { id sku name category priceCents currency stock updatedAt }
  }
}"""
ON_PRODUCT_CHANGED = gql(
    "subscription($c: String) { onProductChanged(category: $c) { id name category stock } }"
)
EMIT_TIMEOUT_S = 15.0


@pytest.fixture(scope="module")
def mocked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """`gateway dev --mock all --mock-seed 42` on two free ports."""
    output = tmp_path_factory.mktemp("mock-all") / "gateway-dev.log"
    running = start_gateway(output, free_base_port(2), "--mock", "all", "--mock-seed", "42")
    yield running
    assert stop_gateway(running) == 0, running.text()
    assert "Traceback" not in running.text(), running.text()


def gateway_command(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *argv],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_a_screen_gets_plausible_data_that_stays_the_same(mocked: Gateway) -> None:
    """GIVEN `gateway dev --mock all` with no data written WHEN a catalogue screen asks
    for kitchen products, twice and in both regions THEN it gets four plausible kitchen
    products, the same each time."""
    answers = []
    for url in (mocked.primary, mocked.replica, mocked.primary):
        status, body = post(url, CATALOGUE, {"category": "kitchen"}, mocked.public())
        assert status == 200 and "errors" not in body, body
        answers.append(body["data"]["products"]["items"])

    items = answers[0]
    assert answers[1] == items and answers[2] == items
    assert len(items) == 4
    for product in items:
        assert product["category"] == "kitchen"
        assert re.fullmatch(r"[A-Z]+-\d{3}", product["sku"])
        assert product["priceCents"] > 0 and product["currency"] in {"USD", "EUR", "GBP"}
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z", product["updatedAt"])


def test_auth_rules_still_apply(mocked: Gateway) -> None:
    """GIVEN mock mode WHEN a request has no credential, or the client token asks for a
    customer THEN they get 401 and Unauthorized, as against the real back end."""
    status, _ = post(mocked.primary, "{ region { name } }")
    assert status == 401

    status, body = post(mocked.primary, '{ customer(id: "ana") { id } }', None, mocked.public())
    assert error_type(status, body) == "Unauthorized"


def test_a_mutation_answers_with_what_it_was_given(mocked: Gateway) -> None:
    """GIVEN mock mode WHEN staff create a product THEN the answer carries the input's
    values, with a generated id and version, and nothing is written."""
    sku = unique("MOCK").upper()
    created = mocked.query(
        mocked.primary,
        "mutation($i: CreateProductInput!) { createProduct(input: $i) { id sku name stock } }",
        {
            "i": {
                "sku": sku,
                "name": "Desk lamp",
                "category": "lighting",
                "priceCents": 4500,
                "currency": "EUR",
                "stock": 3,
            }
        },
    )["createProduct"]

    assert (created["sku"], created["name"], created["stock"]) == (sku, "Desk lamp", 3)
    assert created["id"]


def test_gateway_mock_emit_reaches_a_subscriber_with_a_matching_event(mocked: Gateway) -> None:
    """GIVEN a subscriber to lighting products WHEN `gateway mock emit onProductChanged
    --set stock=0` runs THEN it hears a lighting product that is out of stock."""

    async def scenario() -> dict[str, Any]:
        transport = WebsocketsTransport(
            url=mocked.ws_url("eu-west-1"),
            subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
            init_payload=mocked.public(),
        )
        request = GraphQLRequest(ON_PRODUCT_CHANGED, variable_values={"c": "lighting"})
        async with Client(transport=transport) as session:
            stream = session.subscribe(request)
            heard = asyncio.ensure_future(stream.__anext__())
            deadline = time.monotonic() + EMIT_TIMEOUT_S
            # Emit until the server says a subscriber was told: then it was registered.
            while True:
                assert time.monotonic() < deadline, "no subscriber was ever told"
                emitted = await asyncio.to_thread(
                    gateway_command,
                    "mock",
                    "emit",
                    "onProductChanged",
                    "--set",
                    "stock=0",
                    "--state-dir",
                    str(mocked.state_dir),
                )
                assert emitted.returncode == 0, emitted.stderr
                if "told 1 subscriber\n" in emitted.stdout:
                    break
            return await asyncio.wait_for(heard, EMIT_TIMEOUT_S)

    product = asyncio.run(scenario())["onProductChanged"]

    assert product["category"] == "lighting"
    assert product["stock"] == 0
    assert product["name"]


def test_emit_refuses_what_it_cannot_send(mocked: Gateway) -> None:
    """GIVEN a name that is no subscription, or a --set without a value THEN exit 2 with
    the reason: the subscriptions there are, or the form --set takes."""
    state = ["--state-dir", str(mocked.state_dir)]
    unknown = gateway_command("mock", "emit", "onPriceChanged", *state)
    malformed = gateway_command("mock", "emit", "onProductChanged", "--set", "stock", *state)

    assert unknown.returncode == 2
    assert "onOrderChanged, onProductChanged" in unknown.stderr
    assert malformed.returncode == 2
    assert "--set takes NAME=VALUE" in malformed.stderr


def test_emit_without_mock_mode_says_how_to_turn_it_on(gateway: Gateway) -> None:
    """GIVEN `gateway dev` without --mock WHEN `gateway mock emit` runs THEN exit 2, and it
    says to start with --mock: real subscriptions hear only real writes."""
    emitted = gateway_command(
        "mock", "emit", "onProductChanged", "--state-dir", str(gateway.state_dir)
    )

    assert emitted.returncode == 2
    assert "not in mock mode: start it with --mock" in emitted.stderr


def test_mock_missing_keeps_what_the_back_end_answers(tmp_path: Path) -> None:
    """GIVEN `gateway dev --mock` (every field has a resolver today) WHEN staff write a
    product and read it back THEN the answers are the real ones, not generated."""
    running = start_gateway(tmp_path / "out.log", free_base_port(2), "--mock")
    try:
        mock = urllib.request.Request(running.admin_url("/mock/"), headers=running.operator())
        with urllib.request.urlopen(mock, timeout=15) as r:
            assert json.loads(r.read())["mode"] == "missing"
        sku = unique("REAL").upper()
        created = running.query(
            running.primary,
            "mutation($i: CreateProductInput!) { createProduct(input: $i) { id version } }",
            {
                "i": {
                    "sku": sku,
                    "name": "Real lamp",
                    "category": "lighting",
                    "priceCents": 1234,
                    "currency": "EUR",
                    "stock": 7,
                }
            },
        )["createProduct"]
        read = running.query(
            running.primary,
            "query($id: ID!, $v: Int) { product(id: $id, minVersion: $v) { sku name stock } }",
            {"id": created["id"], "v": created["version"]},
        )["product"]

        assert read == {"sku": sku, "name": "Real lamp", "stock": 7}
    finally:
        assert stop_gateway(running) == 0
