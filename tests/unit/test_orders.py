"""Placing orders, and their life after, through the command handlers and the fake store."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from domain.commands import (
    AdjustStock,
    CancelOrder,
    CreateProduct,
    PlaceOrder,
    RegisterCustomer,
    ShipOrder,
    UpdateProduct,
)
from domain.errors import (
    GatewayError,
    InsufficientStock,
    InvalidTransition,
    NotFound,
    ValidationError,
    VersionConflict,
)
from domain.handlers import Dependencies, handle
from domain.orders import LineRequest, Order
from domain.store import Change

from .fakes import FakeWriteStore, SequentialIds, StepClock


class HookedStore(FakeWriteStore):
    """The fake write store, plus the interleavings a race would produce.

    ``before_commit`` hooks run, one per commit, just before that commit is checked: what
    another writer did between this handler's reads and its write.
    """

    def __init__(self) -> None:
        super().__init__()
        self.before_commit: list[Callable[[], None]] = []

    def commit(self, *changes: Change) -> None:
        if self.before_commit:
            self.before_commit.pop(0)()
        super().commit(*changes)


@dataclass
class Shop:
    store: HookedStore
    deps: Dependencies
    pauses: list[float] = field(default_factory=list)

    def place(self, *lines: tuple[str, int], key: str = "k-1", customer: str = "ana") -> Order:
        requests = tuple(LineRequest(product_id, quantity) for product_id, quantity in lines)
        order: Order = handle(PlaceOrder(customer, requests, key), self.deps)
        return order

    def stock(self, product_id: str) -> int:
        return int((self.store.load("PRODUCT", product_id) or {})["stock"])

    def order(self, order_id: str) -> Order:
        return Order.from_data(self.store.load("ORDER", order_id) or {})

    def order_ids(self) -> list[str]:
        return sorted(
            pk.removeprefix("ORDER#")
            for pk, sk in self.store.items
            if sk == "STATE" and pk.startswith("ORDER#")
        )

    def snapshot(self) -> tuple[dict[Any, Any], list[dict[str, Any]], int]:
        return copy.deepcopy(self.store.items), copy.deepcopy(self.store.events), self.store.commits


@pytest.fixture
def shop() -> Shop:
    """Ana, and three products: mug (EUR 12.50, 10), plate (EUR 8.00, 5), cup (USD, 5)."""
    store = HookedStore()
    clock = StepClock()
    pauses: list[float] = []
    setup = Dependencies(
        store=store, clock=clock, ids=SequentialIds("product"), pause=pauses.append
    )
    handle(CreateProduct("MUG-1", "Blue mug", "", "kitchen", 1250, "EUR", 10), setup)
    handle(CreateProduct("PLATE-1", "Plate", "", "kitchen", 800, "EUR", 5), setup)
    handle(CreateProduct("CUP-1", "Cup", "", "kitchen", 300, "USD", 5), setup)
    handle(RegisterCustomer("ana@example.com", "Ana Lima", "ana"), setup)
    deps = Dependencies(store=store, clock=clock, ids=SequentialIds("order"), pause=pauses.append)
    return Shop(store, deps, pauses)


MUG, PLATE, CUP = "product-1", "product-2", "product-3"


def test_place_takes_stock_and_keeps_names_and_prices(shop: Shop) -> None:
    """GIVEN a mug (10 at 12.50) and a plate (5 at 8.00)
    WHEN Ana orders 3 mugs and 2 plates
    THEN the stock is taken from each, and the order holds names, unit prices and totals."""
    order = shop.place((MUG, 3), (PLATE, 2))

    assert (shop.stock(MUG), shop.stock(PLATE)) == (7, 3)
    # (productId, productName, quantity, unitPriceCents, lineTotalCents)
    assert [tuple(line) for line in order.lines] == [
        (MUG, "Blue mug", 3, 1250, 3750),
        (PLATE, "Plate", 2, 800, 1600),
    ]
    assert (order.total_cents, order.currency) == (5350, "EUR")
    assert (order.status, order.version) == ("PLACED", 1)
    assert (order.customer.name, order.customer.email) == ("Ana Lima", "ana@example.com")
    assert shop.order(order.id) == order


def test_order_keeps_the_name_and_price_of_the_time_it_was_placed(shop: Shop) -> None:
    """GIVEN an order for 2 mugs at 12.50
    WHEN the mug is renamed and repriced THEN the stored order still shows the old ones."""
    order = shop.place((MUG, 2))

    handle(UpdateProduct(MUG, 2, {"name": "Navy mug", "price_cents": 1900}), shop.deps)

    kept = shop.order(order.id)
    assert tuple(kept.lines[0]) == (MUG, "Blue mug", 2, 1250, 2500)
    assert kept.total_cents == 2500


def test_place_is_one_transaction_with_one_event_per_aggregate(shop: Shop) -> None:
    """GIVEN the shop WHEN Ana orders a mug and a plate
    THEN exactly one commit writes one OrderPlaced and one StockReserved per line."""
    commits, events = shop.store.commits, len(shop.store.events)

    order = shop.place((MUG, 1), (PLATE, 4))

    assert shop.store.commits == commits + 1
    written = shop.store.events[events:]
    assert [(item["eventType"], item["aggregateId"], item["version"]) for item in written] == [
        ("OrderPlaced", order.id, 1),
        ("StockReserved", MUG, 2),
        ("StockReserved", PLATE, 2),
    ]
    assert [item["data"]["quantity"] for item in written[1:]] == [1, 4]
    assert {item["data"]["orderId"] for item in written[1:]} == {order.id}
    assert [item["data"]["product"]["stock"] for item in written[1:]] == [9, 1]


def test_same_key_same_lines_returns_the_first_order(shop: Shop) -> None:
    """GIVEN an order placed with key k-1 WHEN the same request is sent again
    THEN the same order comes back, stock is taken once, and nothing more is written."""
    first = shop.place((MUG, 2), key="k-1")
    before = shop.snapshot()

    again = shop.place((MUG, 2), key="k-1")

    assert again == first
    assert shop.stock(MUG) == 8
    assert shop.snapshot() == before


def test_same_key_other_lines_is_refused(shop: Shop) -> None:
    """GIVEN an order placed with key k-1 WHEN k-1 is reused for other lines
    THEN ValidationError naming the first order, and nothing is written."""
    first = shop.place((MUG, 2), key="k-1")
    before = shop.snapshot()

    with pytest.raises(ValidationError) as raised:
        shop.place((MUG, 3), key="k-1")

    assert raised.value.info == {"orderId": first.id}
    assert shop.snapshot() == before


def test_replay_racing_the_first_placement_gets_its_order(shop: Shop) -> None:
    """GIVEN a placement whose key is claimed by a twin request between its read and its
    write WHEN it commits THEN it answers with the twin's order, and stock is taken once."""
    twins: list[Order] = []
    shop.store.before_commit.append(lambda: twins.append(shop.place((MUG, 2), key="k-1")))

    order = shop.place((MUG, 2), key="k-1")

    assert order == twins[0]
    assert shop.order_ids() == [order.id]
    assert shop.stock(MUG) == 8


FORTY_NINE = tuple((f"p-{n}", 1) for n in range(49))
BAD_INPUT = [
    # what is wrong, customer, key, lines, error, and what its errorInfo (or message) says
    ("unknown customer", "nobody", "k-1", ((MUG, 1),), NotFound, {"id": "nobody"}),
    ("unknown product", "ana", "k-1", ((MUG, 1), ("no-such", 1)), NotFound, {"id": "no-such"}),
    ("quantity 0", "ana", "k-1", ((MUG, 0),), ValidationError, "greater than 0"),
    ("quantity -1", "ana", "k-1", ((MUG, -1),), ValidationError, "greater than 0"),
    ("same product twice", "ana", "k-1", ((MUG, 1), (MUG, 2)), ValidationError, "one line"),
    ("49 lines", "ana", "k-1", FORTY_NINE, ValidationError, "48"),
    ("no lines", "ana", "k-1", (), ValidationError, "at least one line"),
    ("empty key", "ana", "", ((MUG, 1),), ValidationError, "idempotencyKey"),
    ("blank key", "ana", "  ", ((MUG, 1),), ValidationError, "idempotencyKey"),
    ("mixed currencies", "ana", "k-1", ((MUG, 1), (CUP, 1)), ValidationError, "currency"),
    ("over stock", "ana", "k-1", ((PLATE, 1), (MUG, 11)), InsufficientStock, {"productId": MUG}),
]


@pytest.mark.parametrize(
    "customer, key, lines, error, says",
    [case[1:] for case in BAD_INPUT],
    ids=[str(case[0]) for case in BAD_INPUT],
)
def test_bad_input_is_refused_and_nothing_is_written(
    shop: Shop,
    customer: str,
    key: str,
    lines: tuple[tuple[str, int], ...],
    error: type[GatewayError],
    says: str | dict[str, object],
) -> None:
    """GIVEN the shop WHEN an order names an unknown customer or product, has a bad line
    or key, or asks for more than is in stock THEN the matching error, saying what is
    wrong, and nothing is written."""
    before = shop.snapshot()

    with pytest.raises(error) as raised:
        shop.place(*lines, key=key, customer=customer)

    if isinstance(says, str):
        assert says in raised.value.message
    else:
        assert says.items() <= (raised.value.info or {}).items()
    assert shop.snapshot() == before


def test_lost_race_for_stock_is_retried_with_fresh_stock(shop: Shop) -> None:
    """GIVEN another writer takes a mug between this placement's read and its write
    WHEN Ana's order for 3 mugs commits THEN it is retried and 10 - 1 - 3 remain."""
    shop.store.before_commit.append(lambda: handle(AdjustStock(MUG, -1), shop.deps))

    order = shop.place((MUG, 3))

    assert shop.stock(MUG) == 6
    assert shop.order_ids() == [order.id]
    assert len(shop.pauses) == 1


def test_lost_race_for_the_last_units_is_insufficient_stock(shop: Shop) -> None:
    """GIVEN 5 plates, and another writer takes one between this placement's read and write
    WHEN Ana's order for all 5 commits THEN InsufficientStock, and no order exists."""
    shop.store.before_commit.append(lambda: handle(AdjustStock(PLATE, -1), shop.deps))

    with pytest.raises(InsufficientStock) as raised:
        shop.place((PLATE, 5))

    assert raised.value.info == {"productId": PLATE, "stock": 4, "quantity": 5}
    assert (shop.stock(PLATE), shop.order_ids()) == (4, [])


def test_ship_a_placed_order(shop: Shop) -> None:
    """GIVEN a PLACED order WHEN it is shipped at version 1
    THEN it is SHIPPED at version 2, with one OrderShipped, and stock is unchanged."""
    order = shop.place((MUG, 2))

    shipped = handle(ShipOrder(order.id, 1), shop.deps)

    assert (shipped.status, shipped.version) == ("SHIPPED", 2)
    assert shop.order(order.id) == shipped
    assert shop.store.events[-1]["eventType"] == "OrderShipped"
    assert shop.stock(MUG) == 8


def test_cancel_a_placed_order_restocks_every_line(shop: Shop) -> None:
    """GIVEN a PLACED order for 3 mugs and 2 plates WHEN it is cancelled
    THEN it is CANCELLED, each product gets its units back, with one StockReleased each."""
    order = shop.place((MUG, 3), (PLATE, 2))
    commits, events = shop.store.commits, len(shop.store.events)

    cancelled = handle(CancelOrder(order.id, 1), shop.deps)

    assert (cancelled.status, cancelled.version) == ("CANCELLED", 2)
    assert shop.order(order.id).status == "CANCELLED"
    assert (shop.stock(MUG), shop.stock(PLATE)) == (10, 5)
    assert shop.store.commits == commits + 1
    assert [
        (item["eventType"], item["aggregateId"], item["version"], item["data"].get("quantity"))
        for item in shop.store.events[events:]
    ] == [
        ("OrderCancelled", order.id, 2, None),
        ("StockReleased", MUG, 3, 3),
        ("StockReleased", PLATE, 3, 2),
    ]


@pytest.mark.parametrize(
    "first, then",
    [(ShipOrder, CancelOrder), (CancelOrder, ShipOrder), (CancelOrder, CancelOrder)],
    ids=["SHIPPED to CANCELLED", "CANCELLED to SHIPPED", "CANCELLED to CANCELLED"],
)
def test_finished_orders_do_not_move(
    shop: Shop, first: type[ShipOrder | CancelOrder], then: type[ShipOrder | CancelOrder]
) -> None:
    """GIVEN a shipped or cancelled order WHEN it is asked to move again at its version
    THEN InvalidTransition, and nothing is written (no second restock either)."""
    order = shop.place((MUG, 2))
    handle(first(order.id, 1), shop.deps)
    before = shop.snapshot()

    with pytest.raises(InvalidTransition):
        handle(then(order.id, 2), shop.deps)

    assert shop.snapshot() == before


@pytest.mark.parametrize("command", [ShipOrder, CancelOrder])
def test_stale_expected_version_is_a_conflict(
    shop: Shop, command: type[ShipOrder | CancelOrder]
) -> None:
    """GIVEN a PLACED order at version 1 WHEN a client sends version 7, or version 1 after
    it was shipped THEN VersionConflict with the current version, and nothing is written."""
    order = shop.place((MUG, 2))
    with pytest.raises(VersionConflict) as raised:
        handle(command(order.id, 7), shop.deps)
    assert raised.value.info == {"expectedVersion": 7, "currentVersion": 1}

    handle(ShipOrder(order.id, 1), shop.deps)
    before = shop.snapshot()
    with pytest.raises(VersionConflict):
        handle(command(order.id, 1), shop.deps)
    assert shop.snapshot() == before


@pytest.mark.parametrize("command", [ShipOrder, CancelOrder])
def test_unknown_order_is_not_found(shop: Shop, command: type[ShipOrder | CancelOrder]) -> None:
    """GIVEN no such order WHEN shipped or cancelled THEN NotFound, and nothing is written."""
    before = shop.snapshot()

    with pytest.raises(NotFound):
        handle(command("no-such-order", 1), shop.deps)

    assert shop.snapshot() == before
