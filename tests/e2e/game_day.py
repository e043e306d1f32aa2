"""Game days over `gateway dev`: a shop, a steady load of small orders, the operator.

The load places one order at a time, alternating between the regions' endpoints, and
records every attempt for the ledger (:mod:`tests.e2e.ledger`). Because it is one
sequential client, the ledger knows what the primary's stock was before each attempt:
that is what lets a test prove that nothing acknowledged was lost or applied twice,
and that every InsufficientStock was due.
"""

from __future__ import annotations

import contextlib
import json
import random
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from tests.e2e.ledger import (
    PRIMARY,
    REGIONS,
    REPLICA,
    Attempt,
    Shop,
    ask,
    primary_seen_by,
    staff,
    status_problems,
    stock_in,
)
from tests.e2e.support import Gateway, post, unique, wait_until
from tests.e2e.test_chaos import admin, gateway_cli, status, switch_on

CREATE = "mutation($input: CreateProductInput!) { createProduct(input: $input) { id } }"
REGISTER = "mutation($input: RegisterCustomerInput!) { registerCustomer(input: $input) { id } }"
PLACE = "mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { id version } }"
# Between two attempts. `gateway dev` on a shared 2-core machine takes about 2.5 orders
# a second at most (idle, its stream loops already use 60% of a core): the pause leaves
# its stream handlers and replication room to catch up while the load goes on.
PACE_S = 0.2
SETUP_TIMEOUT_S = 20.0
LOAD_TIMEOUT_S = 45.0
RESTORE_TIMEOUT_S = 60.0
# An open write breaker refuses at once for its 5 s cool-down; a retry waits that out.
RETRY_TIMEOUT_S = 20.0


def open_shop(gateway: Gateway, stocks: tuple[int, ...] = (40, 40, 8), customers: int = 3) -> Shop:
    """New products and customers, written through the primary and visible everywhere.

    The last product is short on purpose: the load runs it out, so InsufficientStock
    is met, and checked against the ledger, on every game day.
    """
    stock: dict[str, int] = {}
    for units in stocks:
        product = {
            "sku": unique("MUG"),
            "name": "Mug",
            "description": "Stoneware",
            "category": unique("mugs"),
            "priceCents": 900,
            "currency": "EUR",
            "stock": units,
        }
        created = ask(gateway, gateway.primary, CREATE, {"input": product})["createProduct"]
        stock[created["id"]] = units
    ids = tuple(
        ask(
            gateway,
            gateway.primary,
            REGISTER,
            {"input": {"email": f"{unique('buyer')}@example.com", "name": "Buyer"}},
        )["registerCustomer"]["id"]
        for _ in range(customers)
    )
    shop = Shop(stock, ids)
    for url in gateway.urls.values():
        wait_until(
            lambda url=url: stock_in(gateway, url, shop) == stock,
            SETUP_TIMEOUT_S,
            f"the shop's products at {url}",
        )
    return shop


class Load:
    """Orders of 1 or 2 units of a random product for a random customer, one at a time,
    alternating between ``regions``, until stopped; deterministic for a given ``seed``."""

    def __init__(
        self,
        gateway: Gateway,
        shop: Shop,
        seed: int = 7,
        regions: tuple[str, ...] = REGIONS,
        pace_s: float = PACE_S,
    ) -> None:
        self._gateway = gateway
        self._shop = shop
        self._regions = regions
        self._pace_s = pace_s
        self._random = random.Random(seed)
        self._headers = staff(gateway)
        self._stop = threading.Event()
        # Held around each attempt, so that `quiet()` can hold the load between two.
        self._turn = threading.Lock()
        self._lock = threading.Lock()
        self._attempts: list[Attempt] = []
        self._thread = threading.Thread(target=self._run, name="game-day-load", daemon=True)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> list[Attempt]:
        self._stop.set()
        self._thread.join(LOAD_TIMEOUT_S)
        assert not self._thread.is_alive(), "the load did not stop"
        return self.attempts()

    @contextlib.contextmanager
    def quiet(self) -> Iterator[None]:
        """No attempt in flight, and none starts, until the block ends."""
        with self._turn:
            yield

    def attempts(self) -> list[Attempt]:
        with self._lock:
            return list(self._attempts)

    def since(self, mark: float, region: str | None = None) -> list[Attempt]:
        """The attempts started at ``mark`` or later (through ``region``)."""
        return [
            attempt
            for attempt in self.attempts()
            if attempt.started >= mark and region in (None, attempt.region)
        ]

    def wait_for(
        self,
        count: int,
        since: float,
        *,
        region: str | None = None,
        acknowledged: bool = False,
    ) -> list[Attempt]:
        """Wait until ``count`` attempts (acknowledged ones, with ``acknowledged``) were
        started at ``since`` or later; return them all."""

        def enough() -> list[Attempt] | None:
            found = [
                attempt
                for attempt in self.since(since, region)
                if attempt.order is not None or not acknowledged
            ]
            return found if len(found) >= count else None

        what = f"{count} {'acknowledged ' if acknowledged else ''}orders via {region or 'any'}"
        return wait_until(enough, LOAD_TIMEOUT_S, what)

    def _run(self) -> None:
        number = 0
        while not self._stop.is_set():
            with self._turn:
                self._record(self._attempt(number))
            number += 1
            self._stop.wait(self._pace_s)

    def _attempt(self, number: int) -> Attempt:
        return place_order(
            self._gateway,
            self._regions[number % len(self._regions)],
            self._random.choice(self._shop.customers),
            self._random.choice(sorted(self._shop.stock)),
            self._random.randint(1, 2),
            number,
            self._headers,
        )

    def _record(self, attempt: Attempt) -> None:
        with self._lock:
            self._attempts.append(attempt)


def place_order(
    gateway: Gateway,
    region: str,
    customer: str,
    product: str,
    quantity: int = 1,
    number: int = 0,
    headers: dict[str, str] | None = None,
) -> Attempt:
    """Place one order through ``region``, as staff, with a new idempotency key."""
    key = unique("game-day")
    order = {
        "customerId": customer,
        "lines": [{"productId": product, "quantity": quantity}],
        "idempotencyKey": key,
    }
    started = time.monotonic()
    try:
        code, body = post(gateway.urls[region], PLACE, {"input": order}, headers or staff(gateway))
    except OSError as error:  # no answer at all: the ledger shows it as a failure
        code, body = 0, {"errors": [{"message": str(error)}]}
    return Attempt(
        number, key, region, customer, product, quantity, started, time.monotonic(), code, body
    )


# Every mutation, by field, selecting what the books check.
KEYED = {
    "createProduct": "mutation($input: CreateProductInput!) { createProduct(input: $input) "
    "{ id name stock version } }",
    "updateProduct": "mutation($input: UpdateProductInput!) { updateProduct(input: $input) "
    "{ id name stock version } }",
    "adjustStock": "mutation($input: AdjustStockInput!) { adjustStock(input: $input) "
    "{ id name stock version } }",
    "registerCustomer": "mutation($input: RegisterCustomerInput!) { registerCustomer(input: "
    "$input) { id email version } }",
    "placeOrder": "mutation($input: PlaceOrderInput!) { placeOrder(input: $input) "
    "{ id status totalCents version } }",
    "cancelOrder": "mutation($input: CancelOrderInput!) { cancelOrder(input: $input) "
    "{ id status totalCents version } }",
    "shipOrder": "mutation($input: ShipOrderInput!) { shipOrder(input: $input) "
    "{ id status totalCents version } }",
}


@dataclass(frozen=True)
class Retried:
    """A mutation sent with an idempotency key while the primary lost its next reply, and
    sent again with the same key until acknowledged: the answer whose reply was lost and
    the acknowledgement, each as ``(HTTP status, body)``, and how many sends it took."""

    field: str
    fields: dict[str, Any]
    headers: dict[str, str]
    lost: tuple[int, dict[str, Any]]
    lost_s: float
    retried: tuple[int, dict[str, Any]]
    sends: int

    @property
    def result(self) -> dict[str, Any]:
        """What the retry was answered; it must have been acknowledged."""
        status, body = self.retried
        assert status == 200 and not body.get("errors"), (self.field, body)
        return dict(body["data"][self.field])


def send_keyed(
    gateway: Gateway, region: str, field: str, fields: dict[str, Any], headers: dict[str, str]
) -> tuple[int, dict[str, Any]]:
    return post(gateway.urls[region], KEYED[field], {"input": fields}, headers)


def lose_then_retry(
    gateway: Gateway,
    field: str,
    fields: dict[str, Any],
    headers: dict[str, str],
    regions: tuple[str, str],
) -> Retried:
    """Send ``field`` with a new key through ``regions[0]`` while us-east-1 loses the reply
    of its next write, then again with that key through ``regions[1]`` until acknowledged,
    as a client that cannot tell whether its write landed does.

    The fault is switched on once the deployment is settled, so the next write us-east-1
    applies is this mutation's own: nothing else writes there while nothing is in flight.
    A send refused at once by an open write breaker (a resolver sandbox that met earlier
    failures) wrote nothing and spent nothing: it is sent again, with the same key.
    """
    keyed = {**fields, "idempotencyKey": unique("key")}
    wait_until(lambda: not status_problems(gateway), RESTORE_TIMEOUT_S, "a settled deployment")
    switch_on(gateway, "lost-reply", "--region", PRIMARY, "--times", "1")
    answers: list[tuple[int, dict[str, Any], float]] = []

    def spent() -> bool:
        started = time.monotonic()
        answer = send_keyed(gateway, regions[0], field, keyed, headers)
        answers.append((*answer, time.monotonic() - started))
        return admin(gateway, "GET", "/faults")[1]["faults"] == []

    wait_until(spent, RETRY_TIMEOUT_S, f"{field} to reach us-east-1 and lose its reply")
    lost_status, lost_body, lost_s = answers[-1]

    def acknowledged() -> bool:
        answers.append((*send_keyed(gateway, regions[1], field, keyed, headers), 0.0))
        return answers[-1][0] == 200 and not answers[-1][1].get("errors")

    wait_until(acknowledged, RETRY_TIMEOUT_S, f"{field} retried to be acknowledged")
    status, body, _ = answers[-1]
    return Retried(
        field, keyed, headers, (lost_status, lost_body), lost_s, (status, body), len(answers)
    )


def failover(gateway: Gateway, to: str, *flags: str) -> subprocess.CompletedProcess[str]:
    """`gateway failover --to REGION`, as an operator runs it."""
    return gateway_cli(gateway, "failover", "--to", to, *flags)


def restore(gateway: Gateway) -> None:
    """Put a deployment back as it started, whatever a test left: no fault, no dead
    letter, us-east-1 primary (by a planned failover), every region caught up."""
    assert admin(gateway, "DELETE", "/faults")[0] == 200
    if any(region["deadLetters"] for region in status(gateway)["regions"]):
        gateway_cli(gateway, "dlq", "redrive")
    if any(primary_seen_by(gateway, region) != PRIMARY for region in REGIONS):
        wait_until(lambda: not status_problems(gateway, REPLICA), RESTORE_TIMEOUT_S, "eu-west-1")
        moved = failover(gateway, PRIMARY)
        assert moved.returncode == 0, moved.stderr
    wait_until(lambda: not status_problems(gateway), RESTORE_TIMEOUT_S, "a settled deployment")


class OrderFeed:
    """A staff member's ``onOrderChanged`` subscription in one region, over
    graphql-transport-ws, read by a thread of its own so the server never waits on it."""

    def __init__(self, gateway: Gateway, region: str) -> None:
        self.region = region
        self._ids: set[str] = set()
        self.close_code: int | None = None
        self._stack = contextlib.ExitStack()
        self._socket: ClientConnection = self._stack.enter_context(
            connect(
                gateway.ws_url(region),
                subprotocols=[Subprotocol("graphql-transport-ws")],
                proxy=None,
                open_timeout=10,
            )
        )
        self._send({"type": "connection_init", "payload": gateway.staff()})
        assert self._receive()["type"] == "connection_ack"
        query = "subscription { onOrderChanged { id } }"
        self._send({"id": "1", "type": "subscribe", "payload": {"query": query}})
        # The server reads one connection's messages in order: a pong means subscribed.
        self._send({"type": "ping"})
        assert self._receive()["type"] == "pong"
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._read, name=f"feed-{region}", daemon=True)
        self._thread.start()

    def heard(self) -> set[str]:
        with self._lock:
            return set(self._ids)

    def wait_closed(self, timeout: float = 10.0) -> int | None:
        """The close code the server sent, once it closed the socket."""
        wait_until(self._closed.is_set, timeout, f"the {self.region} subscriber to be closed")
        return self.close_code

    def close(self) -> None:
        self._stack.close()
        self._thread.join(10)

    def _read(self) -> None:
        try:
            while True:
                message = json.loads(self._socket.recv())
                if message.get("type") == "next":
                    order = message["payload"]["data"]["onOrderChanged"]
                    with self._lock:
                        self._ids.add(order["id"])
        except ConnectionClosed as closed:
            self.close_code = closed.rcvd.code if closed.rcvd else None
        finally:
            self._closed.set()

    def _send(self, message: dict[str, Any]) -> None:
        self._socket.send(json.dumps(message))

    def _receive(self) -> dict[str, Any]:
        return dict(json.loads(self._socket.recv(timeout=10)))
