"""Durable local state: ``gateway dev --state-dir DIR`` stopped and started again keeps
its tables, its signing key, its stream positions and its dead letters; killed in the
middle of a load, it loses no acknowledged order and applies none twice."""

from __future__ import annotations

import contextlib
import http.client
import json
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from tests.e2e.support import (
    STOP_TIMEOUT_S,
    Gateway,
    free_base_port,
    gateway_cli,
    post,
    restart_gateway,
    start_gateway,
    stop_gateway,
    unique,
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

PRIMARY, REPLICA = "us-east-1", "eu-west-1"
STOCK = 100_000
ACKNOWLEDGED_BEFORE_THE_KILL = 20
SETTLE_TIMEOUT_S = 60.0
DELIVERY_TIMEOUT_S = 15.0
LOADERS = 2

CREATE = "mutation($i: CreateProductInput!) { createProduct(input: $i) { id version } }"
REGISTER = "mutation($i: RegisterCustomerInput!) { registerCustomer(input: $i) { id } }"
PLACE = "mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { id } }"
PRODUCT = "query($id: ID!) { product(id: $id) { id name stock version } }"
CUSTOMER = "query($id: ID!) { customer(id: $id) { id name email orderCount } }"
ORDER = "query($id: ID!) { order(id: $id) { id status lines { quantity } } }"
OWN_ORDERS = "query($c: ID!) { ordersByCustomer(customerId: $c) { items { id } } }"
LISTING = """
query($c: ID!, $after: String) {
  ordersByCustomer(customerId: $c, first: 50, after: $after) {
    items { id lines { quantity } } nextToken } }"""
ORDER_CHANGED = "subscription($c: ID) { onOrderChanged(customerId: $c) { id version } }"
PRODUCT_CHANGED = "subscription($p: ID) { onProductChanged(id: $p) { id version } }"


@dataclass
class Shop:
    product_id: str
    customer_id: str


def open_shop(gateway: Gateway) -> Shop:
    """A product with plenty of stock and a customer, both in every region."""
    product = {"sku": unique("KETTLE"), "name": "Kettle", "description": "Enamel"}
    product |= {"category": unique("kettles"), "priceCents": 2500, "currency": "EUR"}
    created = gateway.query(gateway.primary, CREATE, {"i": product | {"stock": STOCK}})
    registration = {"email": f"{unique('ana')}@example.com", "name": "Ana"}
    customer = gateway.query(gateway.primary, REGISTER, {"i": registration})
    shop = Shop(created["createProduct"]["id"], customer["registerCustomer"]["id"])
    for url in gateway.urls.values():
        wait_until(lambda u=url: customer_in(gateway, u, shop), SETTLE_TIMEOUT_S, "the shop")
    return shop


def customer_in(gateway: Gateway, url: str, shop: Shop) -> Any:
    return gateway.query(url, CUSTOMER, {"id": shop.customer_id})["customer"]


def order_input(shop: Shop, key: str, quantity: int) -> dict[str, Any]:
    lines = [{"productId": shop.product_id, "quantity": quantity}]
    return {"customerId": shop.customer_id, "lines": lines, "idempotencyKey": key}


def orders_in(gateway: Gateway, url: str, shop: Shop) -> list[tuple[str, int]]:
    """Every order the region lists for the customer: ``(id, quantity)``, duplicates kept."""
    found: list[tuple[str, int]] = []
    after = None
    while True:
        page = gateway.query(url, LISTING, {"c": shop.customer_id, "after": after})
        listing = page["ordersByCustomer"]
        found += [(o["id"], sum(line["quantity"] for line in o["lines"])) for o in listing["items"]]
        after = listing["nextToken"]
        if not after:
            return found


def stock_in(gateway: Gateway, url: str, shop: Shop) -> int:
    return int(gateway.query(url, PRODUCT, {"id": shop.product_id})["product"]["stock"])


def chaos(gateway: Gateway, *words: str) -> None:
    result = gateway_cli(gateway, "chaos", *words)
    assert result.returncode == 0, result.stderr


def dead_letters(gateway: Gateway, region: str) -> int:
    request = urllib.request.Request(gateway.admin_url("/status"), headers=gateway.operator())
    with urllib.request.urlopen(request, timeout=15) as answer:
        regions = json.loads(answer.read())["regions"]
    return int(next(entry for entry in regions if entry["name"] == region)["deadLetters"])


def stopped(gateway: Gateway, how: signal.Signals) -> int:
    """Send ``how`` to the gateway; its exit code."""
    gateway.process.send_signal(how)
    return gateway.process.wait(STOP_TIMEOUT_S)


def test_a_restart_keeps_every_table_the_signing_key_and_the_dead_letters(
    tmp_path: Path,
) -> None:
    """
    GIVEN a gateway dev with a product, a customer and an order in both regions, a token
          minted for the customer, and a second order dead-lettered in eu-west-1
    WHEN it is stopped (SIGTERM) and started again with the same state directory
    THEN it says what it restored, every region answers for the product, the customer
         and the order, the old token still reads the customer's orders, the dead
         letter is still listed (and not applied behind its back), and a redrive applies it
    """
    output = tmp_path / "first.log"
    gateway = start_gateway(output, free_base_port(2))
    try:
        shop = open_shop(gateway)
        placed = gateway.query(gateway.primary, PLACE, {"i": order_input(shop, "first", 2)})
        order_id = placed["placeOrder"]["id"]
        token = gateway.token(shop.customer_id, "customers")
        chaos(gateway, "replication", "--pause")
        poisoned = gateway.query(gateway.primary, PLACE, {"i": order_input(shop, "second", 1)})
        poison_id = poisoned["placeOrder"]["id"]
        chaos(gateway, "crash", "--region", REPLICA, "--match", f"ORDER#{poison_id}")
        chaos(gateway, "replication", "--resume")
        wait_until(lambda: dead_letters(gateway, REPLICA) == 1, SETTLE_TIMEOUT_S, "a dead letter")
        wait_until(lambda: stock_in(gateway, gateway.replica, shop) == STOCK - 3, 30, "replica")
        before = {
            region: (
                gateway.query(url, PRODUCT, {"id": shop.product_id})["product"],
                customer_in(gateway, url, shop),
                gateway.query(url, ORDER, {"id": order_id})["order"],
            )
            for region, url in gateway.urls.items()
        }
        assert stopped(gateway, signal.SIGTERM) == 0, gateway.text()
    finally:
        stop_gateway(gateway)

    again = restart_gateway(gateway, tmp_path / "second.log")
    try:
        assert "gateway dev: restored" in again.text()
        after = {
            region: (
                again.query(url, PRODUCT, {"id": shop.product_id})["product"],
                customer_in(again, url, shop),
                again.query(url, ORDER, {"id": order_id})["order"],
            )
            for region, url in again.urls.items()
        }
        assert after == before
        assert after[PRIMARY][2] == {"id": order_id, "status": "PLACED", "lines": [{"quantity": 2}]}
        status, mine = post(
            again.replica, OWN_ORDERS, {"c": shop.customer_id}, {"Authorization": token}
        )
        assert status == 200 and not mine.get("errors"), mine
        assert {o["id"] for o in mine["data"]["ordersByCustomer"]["items"]} == {order_id}

        listed = gateway_cli(again, "dlq", "list", "--region", REPLICA)
        assert listed.returncode == 0, listed.stderr
        assert f"{REPLICA}: 1 dead letters" in listed.stdout
        assert f"ORDER#{poison_id}" in listed.stdout
        assert again.query(again.replica, ORDER, {"id": poison_id})["order"] is None
        redriven = gateway_cli(again, "dlq", "redrive", "--region", REPLICA)
        assert redriven.stdout.strip() == f"{REPLICA}: 1 applied, 0 still failing"
        assert again.query(again.replica, ORDER, {"id": poison_id})["order"]["id"] == poison_id
    finally:
        assert stop_gateway(again) == 0, again.text()
    assert "Traceback" not in again.text()


def dev(state_dir: Path, port: int, *extra: str) -> subprocess.CompletedProcess[str]:
    """``gateway dev`` that is expected to stop on its own, as it does when it refuses."""
    command = [sys.executable, "-m", "cli", "dev", "--port", str(port)]
    return subprocess.run(
        [*command, "--state-dir", str(state_dir), *extra],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_journal_cut_short_starts_and_one_spoiled_inside_stops_start_up(tmp_path: Path) -> None:
    """
    GIVEN a stopped gateway dev's state, with a product
    WHEN the journal ends in half a line (a kill while writing it) and it starts again
    THEN it starts, warns that it dropped the torn entry, and has the product;
    WHEN a line inside the journal is spoiled instead
    THEN start-up stops with exit 2, naming the file and the line, with no traceback;
    WHEN a second gateway dev is started on the state a running one uses
    THEN it stops with exit 2 and says the state is in use
    """
    gateway = start_gateway(tmp_path / "first.log", free_base_port(2))
    try:
        product = {"sku": unique("LAMP"), "name": "Lamp", "description": "Brass"}
        product |= {"category": "lighting", "priceCents": 4500, "currency": "EUR", "stock": 3}
        created = gateway.query(gateway.primary, CREATE, {"i": product})["createProduct"]
    finally:
        assert stop_gateway(gateway) == 0, gateway.text()
    assert gateway.state_dir is not None
    journal = gateway.state_dir / "dynamodb.journal"
    whole = journal.read_bytes()
    journal.write_bytes(whole + b'0badcafe {"region":"us-east-1","action":"PutIt')

    again = restart_gateway(gateway, tmp_path / "second.log")
    try:
        assert "dropped a torn last entry" in again.text()
        assert again.query(again.replica, PRODUCT, {"id": created["id"]})["product"]["id"]
        assert again.state_dir is not None
        in_use = dev(again.state_dir, free_base_port(2))
        assert in_use.returncode == 2, in_use.stderr
        assert "is in use by another gateway dev" in in_use.stderr
    finally:
        assert stop_gateway(again) == 0, again.text()

    assert again.state_dir is not None
    journal = again.state_dir / "dynamodb.journal"
    lines = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(lines[0] + b"0badcafe not an entry\n" + b"".join(lines[1:]))
    spoiled = dev(again.state_dir, free_base_port(2))

    assert spoiled.returncode == 2, spoiled.stderr
    assert f"{journal}, line 2:" in spoiled.stderr
    assert "Traceback" not in spoiled.stderr + spoiled.stdout


def test_fresh_starts_with_empty_tables_and_keeps_the_signing_key(tmp_path: Path) -> None:
    """
    GIVEN a stopped gateway dev's state, with a product, and a token minted from it
    WHEN it starts again with --fresh
    THEN the product is gone, and the token is still accepted
    """
    gateway = start_gateway(tmp_path / "first.log", free_base_port(2))
    try:
        product = {"sku": unique("MUG"), "name": "Mug", "description": "Stoneware"}
        product |= {"category": "kitchen", "priceCents": 1800, "currency": "EUR", "stock": 40}
        created = gateway.query(gateway.primary, CREATE, {"i": product})["createProduct"]
        token = gateway.token("staff-before", "staff")
    finally:
        assert stop_gateway(gateway) == 0, gateway.text()

    again = restart_gateway(gateway, tmp_path / "second.log", "--fresh")
    try:
        status, body = post(again.primary, PRODUCT, {"id": created["id"]}, {"Authorization": token})
        assert (status, body.get("errors")) == (200, None), body
        assert body["data"]["product"] is None
        assert "restored" not in again.text()
    finally:
        assert stop_gateway(again) == 0, again.text()


@dataclass
class Load:
    """Threads placing orders until told to stop; what was acknowledged, and what not."""

    gateway: Gateway
    shop: Shop
    acknowledged: dict[str, tuple[str, int]] = field(default_factory=dict)  # key: id, quantity
    unanswered: dict[str, int] = field(default_factory=dict)  # key: quantity
    failures: list[int] = field(default_factory=lambda: [0] * LOADERS)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, loader: int) -> None:
        count = 0
        while not self.stop.is_set():
            count += 1
            key, quantity = f"load-{loader}-{count}", 1 + count % 3
            headers = self.gateway.staff()
            try:
                status, body = post(
                    self.gateway.primary,
                    PLACE,
                    {"i": order_input(self.shop, key, quantity)},
                    headers,
                )
                order = (body.get("data") or {}).get("placeOrder")
            except (OSError, http.client.HTTPException, ValueError):  # the answer is lost
                status, order = 0, None
            with self.lock:
                if status == 200 and order:
                    self.acknowledged[key] = (order["id"], quantity)
                else:
                    self.unanswered[key] = quantity
                    self.failures[loader] += 1
            if not order:
                # Not a sleep to synchronise: a loader that the gateway refuses waits a
                # little before it tries again, as a client would.
                self.stop.wait(0.05)

    def acked(self) -> int:
        with self.lock:
            return len(self.acknowledged)


@contextlib.contextmanager
def loading(gateway: Gateway, shop: Shop) -> Iterator[Load]:
    load = Load(gateway, shop)
    threads = [threading.Thread(target=load.run, args=(n,), daemon=True) for n in range(LOADERS)]
    for thread in threads:
        thread.start()
    try:
        yield load
    finally:
        load.stop.set()
        for thread in threads:
            thread.join(30)


@contextlib.contextmanager
def subscribed(gateway: Gateway, region: str, shop: Shop) -> Iterator[ClientConnection]:
    """A staff subscriber to the customer's orders and to the product, known registered."""
    with connect(
        gateway.ws_url(region),
        subprotocols=[Subprotocol("graphql-transport-ws")],
        proxy=None,
        open_timeout=10,
    ) as socket:
        socket.send(json.dumps({"type": "connection_init", "payload": gateway.staff()}))
        assert json.loads(socket.recv(timeout=10))["type"] == "connection_ack"
        for number, (query, variables) in enumerate(
            [(ORDER_CHANGED, {"c": shop.customer_id}), (PRODUCT_CHANGED, {"p": shop.product_id})]
        ):
            payload = {"query": query, "variables": variables}
            socket.send(json.dumps({"id": str(number), "type": "subscribe", "payload": payload}))
        # The server reads a connection's messages in order: a pong means it subscribed.
        socket.send(json.dumps({"type": "ping"}))
        assert json.loads(socket.recv(timeout=10))["type"] == "pong"
        yield socket


def heard_until(socket: ClientConnection, order_id: str) -> list[dict[str, Any]]:
    """Every change the subscriber is told, up to and including the order ``order_id``."""
    heard: list[dict[str, Any]] = []
    deadline = time.monotonic() + DELIVERY_TIMEOUT_S
    while True:
        message = json.loads(socket.recv(timeout=max(0.1, deadline - time.monotonic())))
        assert message["type"] == "next", message
        change = next(iter(message["payload"]["data"].values()))
        heard.append(change)
        if change["id"] == order_id:
            return heard


@dataclass
class Listener:
    """A subscriber in one region, on its own thread, remembering every change it hears
    until its connection closes."""

    gateway: Gateway
    region: str
    shop: Shop
    heard: set[tuple[str, int]] = field(default_factory=set)  # (id, version)
    ready: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with (
            contextlib.suppress(ConnectionClosed, TimeoutError),
            subscribed(self.gateway, self.region, self.shop) as socket,
        ):
            self.ready.set()
            while True:
                message = json.loads(socket.recv(timeout=STOP_TIMEOUT_S * 4))
                change = next(iter(message["payload"]["data"].values()))
                self.heard.add((change["id"], change["version"]))


@contextlib.contextmanager
def listening(gateway: Gateway, shop: Shop) -> Iterator[list[Listener]]:
    """A listener in every region, subscribed before this yields; joined after."""
    listeners = [Listener(gateway, region, shop) for region in gateway.urls]
    threads = [threading.Thread(target=each.run, daemon=True) for each in listeners]
    for thread in threads:
        thread.start()
    for listener in listeners:
        assert listener.ready.wait(10), f"{listener.region}: could not subscribe"
    try:
        yield listeners
    finally:
        for thread in threads:
            thread.join(STOP_TIMEOUT_S * 4)


def settled(gateway: Gateway, url: str, shop: Shop, expected: set[str], stock: int) -> bool:
    """The region lists exactly ``expected``, each once, and has ``stock`` left."""
    listed = [order_id for order_id, _ in orders_in(gateway, url, shop)]
    return sorted(listed) == sorted(expected) and stock_in(gateway, url, shop) == stock


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["killed", "terminated"])
def test_a_restart_in_the_middle_of_a_load_loses_no_acknowledged_order_and_applies_none_twice(
    tmp_path: Path, how: signal.Signals
) -> None:
    """
    GIVEN two clients placing orders as fast as they are answered, each with its own key,
          and a subscriber in each region
    WHEN gateway dev is stopped in the middle (SIGKILL, or SIGTERM) and started again
    THEN every acknowledged order is in both regions, once; the orders there are only
         ones that were sent; the stock in both regions is the initial stock less
         exactly what those orders took; a subscriber that connects now hears a new
         order, and no change that was told before the stop; and an order whose answer
         was lost, sent again with its key, is the one order for that key, in both regions
    """
    gateway = start_gateway(tmp_path / "first.log", free_base_port(2))
    try:
        shop = open_shop(gateway)
        with listening(gateway, shop) as before, loading(gateway, shop) as load:
            wait_until(lambda: load.acked() >= ACKNOWLEDGED_BEFORE_THE_KILL, 60, "orders")
            gateway.process.send_signal(how)
            wait_until(lambda: min(load.failures) > 0, 30, "every client to lose an answer")
        assert gateway.process.wait(STOP_TIMEOUT_S) == (0 if how == signal.SIGTERM else -9)
    finally:
        stop_gateway(gateway)
    acknowledged = {order_id for order_id, _ in load.acknowledged.values()}
    requested = {key: quantity for key, (_, quantity) in load.acknowledged.items()}
    requested |= load.unanswered

    again = restart_gateway(gateway, tmp_path / "second.log")
    try:
        control = order_input(shop, unique("after"), 1)
        with (
            subscribed(again, PRIMARY, shop) as primary,
            subscribed(again, REPLICA, shop) as replica,
        ):
            placed = again.query(again.primary, PLACE, {"i": control})["placeOrder"]["id"]
            told_before = {listener.region: listener.heard for listener in before}
            for region, socket in ((PRIMARY, primary), (REPLICA, replica)):
                heard = {
                    (change["id"], change["version"]) for change in heard_until(socket, placed)
                }
                assert told_before[region], f"{region}: the first subscriber heard nothing"
                told_again = heard & told_before[region]
                assert not told_again, f"{region} told these again: {told_again}"

        for url in again.urls.values():

            def holds_every_acknowledged_order(url: str = url) -> list[str]:
                ids = [order_id for order_id, _ in orders_in(again, url, shop)]
                return ids if acknowledged <= set(ids) else []

            ids = wait_until(holds_every_acknowledged_order, SETTLE_TIMEOUT_S, f"{url} orders")
            assert len(ids) == len(set(ids)), f"{url}: an order is listed twice"
            assert len(ids) <= len(requested) + 1, f"{url}: more orders than were sent"

        sent_again = {
            key: again.query(again.primary, PLACE, {"i": order_input(shop, key, quantity)})
            for key, quantity in load.unanswered.items()
        }
        once_more = {
            key: again.query(again.replica, PLACE, {"i": order_input(shop, key, quantity)})
            for key, quantity in load.unanswered.items()
        }
        first_ids = {key: answer["placeOrder"]["id"] for key, answer in sent_again.items()}
        assert {key: answer["placeOrder"]["id"] for key, answer in once_more.items()} == first_ids
        expected = acknowledged | set(first_ids.values()) | {placed}
        left = STOCK - sum(requested.values()) - 1
        for url in again.urls.values():

            def one_order_for_each_key(url: str = url) -> bool:
                return settled(again, url, shop, expected, left)

            wait_until(one_order_for_each_key, SETTLE_TIMEOUT_S, f"{url}: one order per key")
    finally:
        assert stop_gateway(again) == 0, again.text()
    assert "Traceback" not in again.text()
