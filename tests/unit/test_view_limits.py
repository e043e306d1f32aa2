"""Views that hold numbers past GraphQL's Int, and customer views in the old layout:
what was written before amounts were checked must not break a customer's reads."""

from __future__ import annotations

from typing import Any

import pytest

from domain import events
from domain.events import OrderPlaced
from domain.orders import PLACED, CustomerSummary, Order, OrderLine
from projections import keys, readers
from projections.builders import apply

from .fakes import FakeProjectionTable
from .test_order_views import MUG, World

INT_MAX = 2**31 - 1
TOO_BIG = 2_500_000_000  # 25,000 lamps at 1,000.00: what placeOrder took before the fix


def oversized_order(order_id: str, placed_at: str) -> Order:
    """An order as the write side recorded it before totals were checked."""
    return Order(
        id=order_id,
        customer_id="ana",
        customer=CustomerSummary("ana", "Ana", "ana@example.com"),
        lines=(OrderLine("lamp", "Floor lamp", 25_000, 100_000, TOO_BIG),),
        total_cents=TOO_BIG,
        currency="EUR",
        status=PLACED,
        version=1,
        placed_at=placed_at,
        updated_at=placed_at,
    )


@pytest.fixture
def world() -> World:
    """Ana and a mug (EUR 12.50, 100 in stock)."""
    world = World()
    world.product("MUG-1", 1250, 100)
    world.customer("ana")
    return world


def test_an_order_past_int_does_not_break_the_customers_other_reads(world: World) -> None:
    """GIVEN Ana's two orders and, between them, one written before totals were checked
    (2,500,000,000 cents)
    WHEN her orders and her record are read
    THEN ordersByCustomer lists the two readable orders, her record reads with them in
    recentOrders, counts all three, gives the exact lifetime value as a decimal string
    and lifetimeValueCents at Int's limit; reading the oversized order itself is an
    internal error of that order alone."""
    first = world.place("ana", (MUG, 1))
    second = world.place("ana", (MUG, 2))
    table = world.project()
    apply(OrderPlaced(oversized_order("legacy", "2024-05-01T12:30:00.000Z")), table)

    listed, _ = readers.orders_by_customer(table, "ana", None, 10, None)
    customer = readers.customer(table, "ana")

    assert [order["id"] for order in listed] == [second.id, first.id]
    assert customer is not None
    assert [order["id"] for order in customer["recentOrders"]] == [second.id, first.id]
    assert customer["orderCount"] == 3
    assert customer["fullLifetimeValueCents"] == str(TOO_BIG + 1250 + 2500)
    assert customer["lifetimeValueCents"] == INT_MAX
    with pytest.raises(readers.UnreadableView, match="legacy"):
        readers.order(table, "legacy")


def test_lifetime_value_reads_exactly_below_the_limit(world: World) -> None:
    """GIVEN Ana's two orders WHEN her record is read THEN lifetimeValueCents and
    fullLifetimeValueCents say the same amount."""
    world.place("ana", (MUG, 1))
    world.place("ana", (MUG, 2))

    customer = readers.customer(world.project(), "ana")

    assert customer is not None
    assert (customer["lifetimeValueCents"], customer["fullLifetimeValueCents"]) == (3750, "3750")


def legacy_customer_view(order: Order) -> dict[str, Any]:
    """Ana's customer view as the old builders left it: one orderVersions entry per order."""
    return {
        **keys.customer_view_key("ana"),
        "id": "ana",
        "email": "ana@example.com",
        "name": "Ana",
        "version": 1,
        "createdAt": "2024-05-01T12:00:00.000Z",
        "orderCount": 1,
        "lifetimeValueCents": order.total_cents,
        "recentOrders": [order.to_data()],
        keys.OLD_ORDER_HISTORY: {
            order.id: {"version": 1, "totalCents": order.total_cents, "status": order.status}
        },
        keys.REVISION: 2,
    }


def test_a_customer_view_in_the_old_layout_keeps_counting_and_sheds_its_history(
    world: World,
) -> None:
    """GIVEN a region whose state directory predates the bounded view: Ana's first order
    projected, her customer view carrying orderVersions
    WHEN her next order, and a duplicate of the first, are projected by this code
    THEN her counters include both orders once, recentOrders lists both, and the
    per-order history is gone from the stored item."""
    first = world.place("ana", (MUG, 1))
    table = FakeProjectionTable()
    for item in world.store.events:
        if item["eventType"] in ("ProductCreated", "StockReserved", "OrderPlaced"):
            apply(events.from_item(item), table)
    table.put(legacy_customer_view(first))
    already = len(world.store.events)
    second = world.place("ana", (MUG, 2))

    for item in world.store.events[already:]:
        apply(events.from_item(item), table)
    apply(OrderPlaced(first), table)

    customer = readers.customer(table, "ana")
    assert customer is not None
    assert (customer["orderCount"], customer["lifetimeValueCents"]) == (2, 1250 + 2500)
    assert [order["id"] for order in customer["recentOrders"]] == [second.id, first.id]
    key = keys.customer_view_key("ana")
    assert keys.OLD_ORDER_HISTORY not in table.items[(key["pk"], key["sk"])]


def test_a_projection_lag_past_int_reads_at_the_limit() -> None:
    """GIVEN a region whose last record was written a month before it was projected
    (a state directory restarted after weeks) WHEN its progress is read
    THEN the lag reads as Int's limit, not a number projectionLagMs cannot carry."""
    table = FakeProjectionTable()
    table.put({**keys.progress_key(), "lastEventAt": "x", "projectedAt": "y", "lagMs": 2**32})

    progress = readers.progress(table)

    assert progress is not None
    assert progress["lagMs"] == INT_MAX
