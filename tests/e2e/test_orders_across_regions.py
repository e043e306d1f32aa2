"""An order placed in one region and shipped in the other, heard and read in both."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pytest
from gql import Client, gql
from gql.transport.websockets import WebsocketsTransport

from tests.e2e.support import Gateway, error_type, post, unique, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

ORDER_FIELDS = "id customerId status version totalCents lines { productName quantity }"
SUBSCRIBE = f"subscription($c: ID) {{ onOrderChanged(customerId: $c) {{ {ORDER_FIELDS} }} }}"
REGISTER = """
mutation($input: RegisterCustomerInput!) { registerCustomer(input: $input) { id name } }"""
CREATE = "mutation($input: CreateProductInput!) { createProduct(input: $input) { id } }"
PLACE = f"mutation($input: PlaceOrderInput!) {{ placeOrder(input: $input) {{ {ORDER_FIELDS} }} }}"
SHIP = f"mutation($input: ShipOrderInput!) {{ shipOrder(input: $input) {{ {ORDER_FIELDS} }} }}"
ORDER = f"query($id: ID!) {{ order(id: $id) {{ {ORDER_FIELDS} }} }}"
CUSTOMER = """
query($id: ID!) {
  customer(id: $id) { orderCount lifetimeValueCents fullLifetimeValueCents recentOrders { id } }
}"""
LISTING = """
query($c: ID!) { ordersByCustomer(customerId: $c) { items { id status } nextToken } }"""
DELIVERY_TIMEOUT_S = 15.0
REGISTER_TIMEOUT_S = 5.0
REPLICATION_TIMEOUT_S = 15.0


@dataclass
class Shop:
    customer_id: str
    product_id: str


@pytest.fixture
def shop(gateway: Gateway) -> Shop:
    """A new customer, and a new product (6 at 2500 EUR), both written through eu-west-1."""
    registration = {"email": f"{unique('ana')}@example.com", "name": "Ana"}
    customer = gateway.query(gateway.replica, REGISTER, {"input": registration})
    product: dict[str, Any] = {"sku": unique("KETTLE"), "name": "Kettle"}
    product |= {"category": unique("kettles"), "description": "Enamel"}
    product |= {"priceCents": 2500, "currency": "EUR", "stock": 6}
    created = gateway.query(gateway.replica, CREATE, {"input": product})
    return Shop(customer["registerCustomer"]["id"], created["createProduct"]["id"])


def order_input(shop: Shop, key: str, quantity: int = 2, product: str = "") -> dict[str, Any]:
    return {
        "customerId": shop.customer_id,
        "lines": [{"productId": product or shop.product_id, "quantity": quantity}],
        "idempotencyKey": key,
    }


def mutate(gateway: Gateway, url: str, query: str, fields: dict[str, Any]) -> Any:
    """The single root field's answer to an API-key mutation that must succeed."""
    data = gateway.query(url, query, {"input": fields})
    return next(iter(data.values()))


@dataclass
class OrderSubscriber:
    """One WebSocket connection in one region with one ``onOrderChanged`` subscription."""

    region: str
    transport: WebsocketsTransport
    session: Any
    messages: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None

    async def subscribe(self, customer_id: str) -> None:
        """Subscribe, and return only once the server has registered it.

        The server handles one connection's messages in order, so a pong to a ping
        sent after the subscribe message proves the subscription is registered.
        """
        request = gql(SUBSCRIBE)
        request.variable_values = {"c": customer_id}

        async def pump() -> None:
            async for data in self.session.subscribe(request):
                self.messages.put_nowait(data["onOrderChanged"])

        self.task = asyncio.create_task(pump())
        deadline = time.monotonic() + REGISTER_TIMEOUT_S
        while not self.transport.listeners:
            assert not self.task.done(), self.task.exception()
            assert time.monotonic() < deadline, f"{self.region}: subscribe was never sent"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.Event().wait(), 0.01)
        self.transport.pong_received.clear()
        await self.transport.send_ping()
        await asyncio.wait_for(self.transport.pong_received.wait(), REGISTER_TIMEOUT_S)

    async def next(self) -> dict[str, Any]:
        """The next message; a subscription that ends or stays silent fails the test."""
        assert self.task is not None
        getter = asyncio.ensure_future(self.messages.get())
        done, _ = await asyncio.wait(
            {getter, self.task}, timeout=DELIVERY_TIMEOUT_S, return_when="FIRST_COMPLETED"
        )
        if getter in done:
            return getter.result()
        getter.cancel()
        if self.task in done:
            raise AssertionError(f"{self.region}: subscription ended: {self.task.exception()!r}")
        raise AssertionError(f"{self.region}: no message within {DELIVERY_TIMEOUT_S} s")

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task


async def place_and_ship(gateway: Gateway, shop: Shop) -> dict[str, list[dict[str, Any]]]:
    """Subscribe in both regions, place through eu-west-1, ship through us-east-1; each
    region's messages for the order, and the two mutation answers under "answers"."""
    heard: dict[str, list[dict[str, Any]]] = {}
    async with contextlib.AsyncExitStack() as stack:
        subscribers = []
        for region in ("us-east-1", "eu-west-1"):
            transport = WebsocketsTransport(
                url=gateway.ws_url(region),
                subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
                init_payload=gateway.staff(),
            )
            session = await stack.enter_async_context(Client(transport=transport))
            subscribers.append(OrderSubscriber(region, transport, session))
        try:
            for subscriber in subscribers:
                await subscriber.subscribe(shop.customer_id)
            placed = await asyncio.to_thread(
                mutate, gateway, gateway.replica, PLACE, order_input(shop, unique("key"))
            )
            for subscriber in subscribers:
                heard[subscriber.region] = [await subscriber.next()]
            shipping = {"id": placed["id"], "expectedVersion": placed["version"]}
            shipped = await asyncio.to_thread(mutate, gateway, gateway.primary, SHIP, shipping)
            for subscriber in subscribers:
                heard[subscriber.region].append(await subscriber.next())
        finally:
            for subscriber in subscribers:
                await subscriber.close()
    return {**heard, "answers": [placed, shipped]}


def settled(gateway: Gateway, url: str, shop: Shop, order_id: str) -> dict[str, Any] | None:
    """The region's order, customer and listing, once all three show the order shipped."""
    order = gateway.query(url, ORDER, {"id": order_id})["order"]
    customer = gateway.query(url, CUSTOMER, {"id": shop.customer_id})["customer"]
    listing = gateway.query(url, LISTING, {"c": shop.customer_id})["ordersByCustomer"]
    seen = {"order": order, "customer": customer, "listing": listing}
    shipped = [{"id": order_id, "status": "SHIPPED"}]
    if not order or order["status"] != "SHIPPED" or listing["items"] != shipped:
        return None
    return seen if customer and customer["recentOrders"] == [{"id": order_id}] else None


def test_a_placement_replayed_with_its_key_returns_the_same_order(
    gateway: Gateway, shop: Shop
) -> None:
    """
    GIVEN an order placed through eu-west-1 with an idempotency key
    WHEN the same placement is sent again with that key, through either region
    THEN each answer is the same order at version 1
    """
    sent = order_input(shop, unique("key"))

    first = mutate(gateway, gateway.replica, PLACE, sent)
    again = [mutate(gateway, url, PLACE, sent) for url in (gateway.replica, gateway.primary)]

    assert [(order["id"], order["version"]) for order in again] == [(first["id"], 1)] * 2


def test_bad_orders_and_bad_moves_get_typed_errors(gateway: Gateway, shop: Shop) -> None:
    """
    GIVEN a customer, a product and a shipped order
    WHEN an order names an unknown product, or asks for 0, or the order is shipped again,
         or shipped with a stale expectedVersion
    THEN each gets its own errorType: NotFound, ValidationError, InvalidTransition,
         VersionConflict, in AppSync's error shape and with no data
    """
    placed = mutate(gateway, gateway.replica, PLACE, order_input(shop, unique("key")))
    mutate(gateway, gateway.primary, SHIP, {"id": placed["id"], "expectedVersion": 1})
    attempts = {
        "NotFound": (PLACE, order_input(shop, unique("key"), product=unique("nothing"))),
        "ValidationError": (PLACE, order_input(shop, unique("key"), quantity=0)),
        "InvalidTransition": (SHIP, {"id": placed["id"], "expectedVersion": 2}),
        "VersionConflict": (SHIP, {"id": placed["id"], "expectedVersion": 1}),
    }

    for expected, (query, fields) in attempts.items():
        status, body = post(gateway.replica, query, {"input": fields}, gateway.staff())
        assert error_type(status, body) == expected, body
        assert list(body["data"].values()) == [None], body


# Last in this file on purpose: it ends only after both regions have published all it
# wrote. gateway dev stops its HTTP endpoints before its stream pollers, so a session
# that ends with a change still in flight dead-letters that change's publish.
def test_an_order_placed_in_one_region_and_shipped_in_the_other_is_seen_in_both(
    gateway: Gateway, shop: Shop
) -> None:
    """
    GIVEN a subscriber to a customer's orders in us-east-1 and in eu-west-1
    WHEN the customer's order for 2 kettles is placed through eu-west-1, then shipped
         through us-east-1
    THEN each subscriber hears PLACED (v1) then SHIPPED (v2), and each region reads the
         order SHIPPED, lists it for the customer, and counts it once at its total
    """
    heard = asyncio.run(place_and_ship(gateway, shop))

    placed, shipped = heard.pop("answers")
    assert (placed["status"], placed["version"], placed["totalCents"]) == ("PLACED", 1, 5000)
    assert placed["lines"] == [{"productName": "Kettle", "quantity": 2}]
    assert (shipped["status"], shipped["version"]) == ("SHIPPED", 2)
    for region, messages in heard.items():
        assert messages == [placed, shipped], region
    for url in (gateway.primary, gateway.replica):
        seen = wait_until(
            partial(settled, gateway, url, shop, placed["id"]),
            REPLICATION_TIMEOUT_S,
            f"order {placed['id']} shipped at {url}",
        )
        assert seen is not None
        assert seen["order"] == shipped
        assert seen["listing"]["nextToken"] is None
        customer = seen["customer"]
        assert (customer["orderCount"], customer["lifetimeValueCents"]) == (1, 5000)
        assert customer["fullLifetimeValueCents"] == "5000"
