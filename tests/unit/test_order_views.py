"""Order and customer views: built from the events the write side really records."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import events
from domain.commands import (
    AdjustStock,
    CancelOrder,
    CreateProduct,
    PlaceOrder,
    RegisterCustomer,
    ShipOrder,
    UpdateProduct,
)
from domain.errors import GatewayError
from domain.handlers import Dependencies, handle
from domain.orders import LineRequest, Order
from projections import keys, readers
from projections.builders import apply

from .fakes import FakeProjectionTable, FakeWriteStore, SequentialIds, StepClock

MUG, PLATE = "product-1", "product-2"
TABLE_ATTRIBUTES = {"pk", "sk", "customerKey", "customerStatusKey", "placedKey", "rev"}


class World:
    """A write side with products and customers; ``events`` are what it recorded."""

    def __init__(self) -> None:
        self.store = FakeWriteStore()
        clock = StepClock()
        self.setup = Dependencies(self.store, clock, SequentialIds("product"), pause=self.wait)
        self.deps = Dependencies(self.store, clock, SequentialIds("order"), pause=self.wait)
        self.keys = 0
        self.customers: list[str] = []

    @staticmethod
    def wait(seconds: float) -> None:
        """Lost races need no real back-off against a fake store."""

    def product(self, sku: str, price_cents: int, stock: int, currency: str = "EUR") -> str:
        command = CreateProduct(sku, f"Product {sku}", "", "kitchen", price_cents, currency, stock)
        return str(handle(command, self.setup).id)

    def customer(self, customer_id: str) -> str:
        command = RegisterCustomer(f"{customer_id}@example.com", customer_id.title(), customer_id)
        self.customers.append(handle(command, self.setup).id)
        return customer_id

    def place(self, customer: str, *lines: tuple[str, int], key: str | None = None) -> Order:
        self.keys += 1
        requests = tuple(LineRequest(product_id, quantity) for product_id, quantity in lines)
        command = PlaceOrder(customer, requests, key or f"key-{self.keys}")
        order: Order = handle(command, self.deps)
        return order

    def current(self, order_id: str) -> Order:
        return Order.from_data(self.store.load("ORDER", order_id) or {})

    def ship(self, order_id: str) -> Order:
        order: Order = handle(ShipOrder(order_id, self.current(order_id).version), self.deps)
        return order

    def cancel(self, order_id: str) -> Order:
        order: Order = handle(CancelOrder(order_id, self.current(order_id).version), self.deps)
        return order

    def project(self, items: list[dict[str, Any]] | None = None) -> FakeProjectionTable:
        """A fresh region's table after ``items`` (default: every event, in order)."""
        table = FakeProjectionTable()
        for item in self.store.events if items is None else items:
            apply(events.from_item(item), table)
        return table


@pytest.fixture
def world() -> World:
    """Ana, a mug (EUR 12.50, 100 in stock) and a plate (EUR 8.00, 100 in stock)."""
    world = World()
    world.product("MUG-1", 1250, 100)
    world.product("PLATE-1", 800, 100)
    world.customer("ana")
    return world


def test_order_view_holds_customer_lines_and_totals(world: World) -> None:
    """GIVEN Ana's order for 3 mugs and 2 plates WHEN its events are projected
    THEN the order reads with Ana's summary, each line's name and prices, total and status,
    and none of the table's own attributes."""
    order = world.place("ana", (MUG, 3), (PLATE, 2))

    view = readers.order(world.project(), order.id)

    assert view is not None
    assert view["customer"] == {"id": "ana", "name": "Ana", "email": "ana@example.com"}
    assert [
        (line["productName"], line["quantity"], line["unitPriceCents"], line["lineTotalCents"])
        for line in view["lines"]
    ] == [("Product MUG-1", 3, 1250, 3750), ("Product PLATE-1", 2, 800, 1600)]
    assert (view["totalCents"], view["currency"], view["status"]) == (5350, "EUR", "PLACED")
    assert not (TABLE_ATTRIBUTES | {"orderVersions"}) & view.keys()
    assert view == order.to_data()


def test_customer_view_counts_orders_and_excludes_cancelled_value(world: World) -> None:
    """GIVEN Ana placed three orders and one was cancelled, another shipped
    WHEN projected THEN she has 3 orders, a lifetime value without the cancelled one,
    and each order's latest status in recentOrders."""
    first = world.place("ana", (MUG, 1))  # 1250
    second = world.place("ana", (PLATE, 2))  # 1600
    third = world.place("ana", (MUG, 2))  # 2500
    world.cancel(second.id)
    world.ship(third.id)

    view = readers.customer(world.project(), "ana")

    assert view is not None
    assert (view["orderCount"], view["lifetimeValueCents"]) == (3, 1250 + 2500)
    assert [(item["id"], item["status"]) for item in view["recentOrders"]] == [
        (third.id, "SHIPPED"),
        (second.id, "CANCELLED"),
        (first.id, "PLACED"),
    ]
    assert (view["name"], view["email"], view["version"]) == ("Ana", "ana@example.com", 1)
    assert not TABLE_ATTRIBUTES & view.keys() and "orderVersions" not in view


def test_recent_orders_are_the_ten_newest(world: World) -> None:
    """GIVEN Ana placed 12 orders WHEN projected THEN recentOrders is the 10 newest,
    newest first, while orderCount and lifetimeValueCents count all 12."""
    placed = [world.place("ana", (MUG, 1)) for _ in range(12)]

    view = readers.customer(world.project(), "ana")

    assert view is not None
    assert [item["id"] for item in view["recentOrders"]] == [o.id for o in placed[::-1][:10]]
    assert (view["orderCount"], view["lifetimeValueCents"]) == (12, 12 * 1250)


def stored_size(table: FakeProjectionTable, customer_id: str) -> int:
    """The customer item's size as stored, every attribute included (DynamoDB's 400 KB
    limit counts them all)."""
    key = keys.customer_view_key(customer_id)
    item = table.items[(key["pk"], key["sk"])]
    return len(json.dumps(item, default=str))


def test_customer_view_stays_the_same_size_however_many_orders(world: World) -> None:
    """GIVEN Ana placed 10 orders WHEN she places 190 more, cancels one and ships one
    THEN her stored customer item is no larger than after 10 (give or take the digits of
    longer ids), while orderCount and lifetimeValueCents count all 200."""
    lamp = world.product("LAMP-1", 100, 1000)
    placed = [world.place("ana", (lamp, 1)) for _ in range(10)]
    after_ten = stored_size(world.project(), "ana")

    placed += [world.place("ana", (lamp, 1)) for _ in range(190)]
    world.cancel(placed[5].id)
    world.ship(placed[150].id)
    table = world.project()

    assert stored_size(table, "ana") <= after_ten * 1.05
    view = readers.customer(table, "ana")
    assert view is not None
    assert (view["orderCount"], view["lifetimeValueCents"]) == (200, 199 * 100)
    assert [item["id"] for item in view["recentOrders"]] == [o.id for o in placed[::-1][:10]]


def test_customer_whose_orders_arrive_before_registration(world: World) -> None:
    """GIVEN Ana's order events reach a region before her CustomerRegistered
    WHEN only the orders are applied THEN readers.customer says None (version 0);
    WHEN the registration follows THEN the full view, orders included, reads back."""
    order = world.place("ana", (MUG, 2))
    registration = [
        item for item in world.store.events if item["eventType"] == "CustomerRegistered"
    ]
    others = [item for item in world.store.events if item not in registration]

    table = world.project(others)
    assert readers.customer(table, "ana") is None

    apply(events.from_item(registration[0]), table)
    view = readers.customer(table, "ana")
    assert view is not None
    assert (view["name"], view["orderCount"], view["lifetimeValueCents"]) == ("Ana", 1, 2500)
    assert [item["id"] for item in view["recentOrders"]] == [order.id]


def test_orders_by_customer_pages_newest_first(world: World) -> None:
    """GIVEN Ana placed 5 orders WHEN listed two at a time
    THEN the pages follow one another newest first, and the last has no continuation."""
    placed = [world.place("ana", (MUG, 1)).id for _ in range(5)]
    table = world.project()

    seen: list[str] = []
    start: dict[str, Any] | None = None
    for _ in range(3):
        page, start = readers.orders_by_customer(table, "ana", None, 2, start)
        seen += [item["id"] for item in page]
        assert not TABLE_ATTRIBUTES & set().union(*page)

    assert seen == placed[::-1]
    assert start is None


def test_orders_by_customer_filters_by_status(world: World) -> None:
    """GIVEN Ana's 4 orders, 2 of them shipped WHEN listed by status
    THEN SHIPPED lists the shipped two and PLACED the others, each newest first."""
    placed = [world.place("ana", (MUG, 1)).id for _ in range(4)]
    world.ship(placed[0])
    world.ship(placed[2])
    table = world.project()

    def listed(status: str) -> list[str]:
        page, _ = readers.orders_by_customer(table, "ana", status, 10, None)
        return [item["id"] for item in page]

    assert listed("SHIPPED") == [placed[2], placed[0]]
    assert listed("PLACED") == [placed[3], placed[1]]
    assert listed("CANCELLED") == []


def test_product_stock_follows_reservations_and_releases(world: World) -> None:
    """GIVEN 100 mugs WHEN orders take 3 and 4 and the first is cancelled
    THEN the projected stock reads 97 after the first, 93 after both, and 96 at the end."""
    first = world.place("ana", (MUG, 3))
    assert (readers.product(world.project(), MUG) or {})["stock"] == 97
    world.place("ana", (MUG, 4))
    assert (readers.product(world.project(), MUG) or {})["stock"] == 93
    world.cancel(first.id)
    assert (readers.product(world.project(), MUG) or {})["stock"] == 96


def random_world(
    data: st.DataObject,
    customers: int = 2,
    steps: tuple[int, int] = (1, 10),
    stock: tuple[int, int] = (1, 9),
    placed_first: int = 0,
) -> World:
    """A small shop built through the real handlers, from choices Hypothesis makes:
    ``placed_first`` orders, then ``steps`` random commands."""
    world = World()
    names = [world.customer(f"cust-{n}") for n in range(data.draw(st.integers(1, customers)))]
    products = [
        world.product(
            f"SKU-{n}",
            data.draw(st.integers(100, 5000)),
            data.draw(st.integers(*stock)),
            data.draw(st.sampled_from(["EUR", "EUR", "EUR", "USD"])),
        )
        for n in range(data.draw(st.integers(1, 3)))
    ]
    orders: list[str] = []
    count = data.draw(st.integers(*steps))
    for step in range(placed_first + count):
        actions = (
            ["place"] * 3 + ["restock", "reprice"] + (["ship", "cancel"] * 2 if orders else [])
        )
        action = "place" if step < placed_first else data.draw(st.sampled_from(actions))
        try:
            if action == "place":
                chosen = data.draw(st.lists(st.sampled_from(products), min_size=1, unique=True))
                lines = [(product_id, data.draw(st.integers(1, 2))) for product_id in chosen]
                key = data.draw(st.sampled_from([f"new-{step}", "again"]))
                order = world.place(data.draw(st.sampled_from(names)), *lines, key=key)
                orders += [] if order.id in orders else [order.id]
            elif action in ("ship", "cancel"):
                order_id = data.draw(st.sampled_from(orders))
                (world.ship if action == "ship" else world.cancel)(order_id)
            elif action == "restock":
                handle(AdjustStock(data.draw(st.sampled_from(products)), 2), world.setup)
            elif action == "reprice":
                product_id = data.draw(st.sampled_from(products))
                version = (world.store.load("PRODUCT", product_id) or {})["version"]
                change = {"price_cents": data.draw(st.integers(100, 5000))}
                handle(UpdateProduct(product_id, version, change), world.setup)
        except GatewayError:
            pass  # an invalid choice (no stock, mixed currency, a finished order...)
    return world


def without_rev(table: FakeProjectionTable) -> dict[Any, dict[str, Any]]:
    """The views; ``rev`` counts a customer view's writes, which duplicates change."""
    return {
        key: {name: value for name, value in item.items() if name != "rev"}
        for key, item in table.items.items()
    }


def assert_converged(world: World, data: st.DataObject) -> None:
    """Deliver the world's events in order once, and shuffled with duplicates: both
    regions hold the same views, and those agree with the write side."""
    items = list(world.store.events)
    duplicates = data.draw(st.lists(st.sampled_from(items), max_size=len(items)))
    delivery = data.draw(st.permutations(items + duplicates))

    in_order = world.project(items)
    shuffled = world.project(delivery)

    assert without_rev(shuffled) == without_rev(in_order)
    states = [state for (_, sk), state in world.store.items.items() if sk == "STATE"]
    for state in states:
        if "stock" in state or "status" in state:  # a product or an order
            kind = "PRODUCT" if "stock" in state else "ORDER"
            view = in_order.get({"pk": f"{kind}#{state['id']}", "sk": "VIEW"}) or {}
            assert view.get("version") == state["version"]
            assert (view.get("stock"), view.get("status")) == (
                state.get("stock"),
                state.get("status"),
            )
    for customer in world.customers:
        placed = [
            Order.from_data(state)
            for state in states
            if "status" in state and state["customerId"] == customer
        ]
        newest = sorted(placed, key=lambda order: (order.placed_at, order.id), reverse=True)
        view = readers.customer(in_order, customer) or {}
        assert view["orderCount"] == len(placed)
        assert view["lifetimeValueCents"] == sum(
            order.total_cents for order in placed if order.status != "CANCELLED"
        )
        assert view["recentOrders"] == [order.to_data() for order in newest[:10]]


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_any_delivery_order_with_duplicates_builds_the_same_views(data: st.DataObject) -> None:
    """GIVEN the events of a random shop history
    WHEN they are delivered in order once, or shuffled with random duplicates
    THEN both regions hold the same views, and those agree with the write side: each
    customer's order count, lifetime value and 10 newest orders at their latest state."""
    assert_converged(random_world(data), data)


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_many_orders_with_status_changes_converge_in_any_delivery_order(
    data: st.DataObject,
) -> None:
    """GIVEN one customer with 11 to 35 orders, some shipped and some cancelled, among
    restocks and repricings
    WHEN the events are delivered in order, or shuffled with random duplicates
    THEN both regions agree, recentOrders is the 10 newest at their latest state, and
    orderCount and lifetimeValueCents count every order (cancelled ones add no value)."""
    world = random_world(data, customers=1, steps=(0, 20), stock=(40, 80), placed_first=11)
    assert_converged(world, data)
