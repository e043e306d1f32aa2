"""Amounts that fit: every number a command answers with fits GraphQL's Int, or the
command is refused before anything is written."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import events, records
from domain.commands import (
    AdjustStock,
    CancelOrder,
    CreateProduct,
    PlaceOrder,
    RegisterCustomer,
    UpdateProduct,
)
from domain.errors import GatewayError, InternalFailure, ValidationError
from domain.handlers import Dependencies, handle
from domain.orders import LineRequest, Order
from projections import readers
from projections.builders import apply

from .fakes import FakeProjectionTable, FakeWriteStore, SequentialIds, StepClock

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
LAMP = CreateProduct("LAMP-1", "Floor lamp", "", "lighting", 100_000, "EUR", 30_000)


class Shop:
    """A write side with Ana registered; ``snapshot`` is everything it holds."""

    def __init__(self) -> None:
        self.store = FakeWriteStore()
        clock = StepClock()
        self.deps = Dependencies(self.store, clock, SequentialIds("product"), pause=self.wait)
        self.order_deps = Dependencies(self.store, clock, SequentialIds("order"), pause=self.wait)
        self.keys = 0
        handle(RegisterCustomer("ana@example.com", "Ana", "ana"), self.deps)

    @staticmethod
    def wait(seconds: float) -> None:
        """Lost races need no real back-off against a fake store."""

    def product(self, create: CreateProduct = LAMP) -> str:
        return str(handle(create, self.deps).id)

    def place(self, *lines: tuple[str, int]) -> Order:
        self.keys += 1
        requests = tuple(LineRequest(product_id, quantity) for product_id, quantity in lines)
        order: Order = handle(PlaceOrder("ana", requests, f"key-{self.keys}"), self.order_deps)
        return order

    def stock(self, product_id: str) -> int:
        return int((self.store.load("PRODUCT", product_id) or {})["stock"])

    def snapshot(self) -> tuple[dict[Any, Any], list[dict[str, Any]], int]:
        return copy.deepcopy(self.store.items), copy.deepcopy(self.store.events), self.store.commits


def numbers(value: Any) -> Iterator[int]:
    """Every whole number in an answer, however deeply nested."""
    if isinstance(value, dict):
        for item in value.values():
            yield from numbers(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from numbers(item)
    elif isinstance(value, int) and not isinstance(value, bool):
        yield value


def fits(value: Any) -> bool:
    return all(INT_MIN <= number <= INT_MAX for number in numbers(value))


def test_an_order_whose_total_passes_int_is_refused_before_anything_is_written() -> None:
    """GIVEN a lamp at 1,000.00 with 30,000 in stock WHEN Ana orders 25,000 of them
    (2,500,000,000 cents, past Int's 2,147,483,647) THEN ValidationError naming the limit,
    no order, and all 30,000 lamps still in stock."""
    shop = Shop()
    lamp = shop.product()
    before = shop.snapshot()

    with pytest.raises(ValidationError) as refused:
        shop.place((lamp, 25_000))

    assert "2147483647" in refused.value.message
    assert (refused.value.info or {}).get("maxTotalCents") == INT_MAX
    assert shop.snapshot() == before
    assert shop.stock(lamp) == 30_000


def test_an_order_at_the_limit_is_placed_and_one_cent_over_is_refused() -> None:
    """GIVEN two products priced so that one unit of each makes INT_MAX exactly
    WHEN Ana orders one of each THEN the order is placed with that total;
    WHEN she asks for one more cent's worth (lines that add up past it) THEN refused."""
    shop = Shop()
    big = shop.product(LAMP._replace(sku="BIG", price_cents=INT_MAX - 1, stock=5))
    cent = shop.product(LAMP._replace(sku="CENT", price_cents=1, stock=5))
    dime = shop.product(LAMP._replace(sku="DIME", price_cents=2, stock=5))

    placed = shop.place((big, 1), (cent, 1))

    assert placed.total_cents == INT_MAX
    before = shop.snapshot()
    with pytest.raises(ValidationError, match="2147483647"):
        shop.place((big, 1), (dime, 1))
    assert shop.snapshot() == before


def test_cancelling_is_refused_when_the_stock_it_returns_would_pass_the_limit() -> None:
    """GIVEN Ana ordered 10 lamps, then staff filled the lamp's stock to INT_MAX
    WHEN Ana cancels THEN ValidationError naming the limit, the order stays PLACED and
    the stock stays at INT_MAX (returning 10 would make it unreadable)."""
    shop = Shop()
    lamp = shop.product()
    order = shop.place((lamp, 10))
    handle(AdjustStock(lamp, INT_MAX - shop.stock(lamp)), shop.deps)
    before = shop.snapshot()

    with pytest.raises(ValidationError, match="2147483647"):
        handle(CancelOrder(order.id, order.version), shop.order_deps)

    assert shop.snapshot() == before
    assert shop.stock(lamp) == INT_MAX


def test_a_price_past_the_limit_is_refused_saying_so() -> None:
    """GIVEN a lamp WHEN it is created or repriced at INT_MAX + 1 cents
    THEN ValidationError that names the limit (not "greater than 0"), nothing written."""
    shop = Shop()
    lamp = shop.product()
    before = shop.snapshot()

    with pytest.raises(ValidationError, match="at most 2147483647"):
        shop.product(LAMP._replace(sku="LAMP-2", price_cents=INT_MAX + 1))
    with pytest.raises(ValidationError, match="at most 2147483647"):
        handle(UpdateProduct(lamp, 1, {"price_cents": INT_MAX + 1}), shop.deps)
    assert shop.snapshot() == before


def test_a_version_that_would_pass_the_limit_is_refused() -> None:
    """GIVEN a lamp already at version INT_MAX (two billion changes)
    WHEN its stock is adjusted THEN ValidationError, and nothing is written: version
    INT_MAX + 1 could never be read back as an Int."""
    shop = Shop()
    lamp = shop.product()
    state = records.state_key(records.PRODUCT, lamp)
    shop.store.items[(state["pk"], state["sk"])]["version"] = INT_MAX
    before = shop.snapshot()

    with pytest.raises(ValidationError, match="2147483647"):
        handle(AdjustStock(lamp, 1), shop.deps)

    assert shop.snapshot() == before


# Mostly numbers a command accepts, so that orders really get placed, near the limits
# and past them; the rest anywhere, far outside Int too.
EXTREMES = st.one_of(
    st.sampled_from(
        [0, 1, -1, 2, INT_MAX, INT_MAX - 1, INT_MAX + 1, INT_MIN, INT_MIN - 1, 2**53, 2**63]
    ),
    st.integers(1, 3),
    st.integers(1, INT_MAX),
    st.integers(INT_MAX // 2, INT_MAX + 10),
    st.integers(-(2**70), 2**70),
)


def run(shop: Shop, command: Any, deps: Dependencies) -> Any:
    """Run ``command``; an answer must fit Int everywhere, a refusal must write nothing."""
    before = shop.snapshot()
    try:
        answer = handle(command, deps)
    except GatewayError as refusal:
        assert not isinstance(refusal, InternalFailure)
        assert shop.snapshot() == before, f"{type(refusal).__name__} wrote: {refusal.message}"
        return None
    assert fits(answer.to_data()), answer
    return answer


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_extreme_amounts_answer_a_value_that_fits_or_a_refusal_that_wrote_nothing(
    data: st.DataObject,
) -> None:
    """GIVEN products created, repriced and restocked with extreme numbers
    WHEN orders are placed for extreme quantities and some are cancelled
    THEN every answer is a product or an order whose every number fits Int, or a typed
    refusal that wrote nothing; and the projections built from what was written read
    back with every Int field in range."""
    shop = Shop()
    products = []
    for number in range(data.draw(st.integers(1, 3))):
        create = LAMP._replace(
            sku=f"SKU-{number}", price_cents=data.draw(EXTREMES), stock=data.draw(EXTREMES)
        )
        created = run(shop, create, shop.deps)
        if created is not None:
            products.append(created.id)
    if not products:
        return
    placed: list[Order] = []
    for _ in range(data.draw(st.integers(1, 8))):
        action = data.draw(st.sampled_from(["place", "place", "reprice", "adjust", "cancel"]))
        product_id = data.draw(st.sampled_from(products))
        if action == "place":
            chosen = data.draw(st.lists(st.sampled_from(products), min_size=1, unique=True))
            lines = tuple(LineRequest(p, data.draw(EXTREMES)) for p in chosen)
            shop.keys += 1
            order = run(shop, PlaceOrder("ana", lines, f"k-{shop.keys}"), shop.order_deps)
            placed += [] if order is None else [order]
        elif action == "reprice":
            version = (shop.store.load("PRODUCT", product_id) or {})["version"]
            change = {"price_cents": data.draw(EXTREMES)}
            run(shop, UpdateProduct(product_id, version, change), shop.deps)
        elif action == "adjust":
            run(shop, AdjustStock(product_id, data.draw(EXTREMES)), shop.deps)
        elif placed:
            order = Order.from_data(shop.store.load("ORDER", placed[0].id) or {})
            run(shop, CancelOrder(order.id, order.version), shop.order_deps)

    table = FakeProjectionTable()
    for item in shop.store.events:
        apply(events.from_item(item), table)
    listed, _ = readers.orders_by_customer(table, "ana", None, 100, None)
    answers = [
        readers.customer(table, "ana"),
        listed,
        *(readers.product(table, product_id) for product_id in products),
    ]
    assert all(fits(answer) for answer in answers), answers
