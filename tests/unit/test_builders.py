"""Projection builders: any delivery order, with duplicates, ends at the newest view."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from domain import events
from domain.commands import AdjustStock, CreateProduct, UpdateProduct
from domain.events import Event
from domain.handlers import Dependencies, handle
from projections import keys, readers
from projections.builders import apply
from projections.views import product_view

from .fakes import FakeProjectionTable, FakeWriteStore, SequentialIds, StepClock

MUG = CreateProduct(
    sku="MUG-001",
    name="Blue mug",
    description="Stoneware, 350 ml.",
    category="kitchen",
    price_cents=1250,
    currency="EUR",
    stock=40,
)

# An operation after creation: a dict of catalogue changes, or a stock delta.
Operation = dict[str, Any] | int


def history(operations: list[Operation], create: CreateProduct = MUG) -> list[Event]:
    """The events the write side really records for ``create`` then ``operations``."""
    store = FakeWriteStore()
    deps = Dependencies(store=store, clock=StepClock(), ids=SequentialIds())
    product = handle(create, deps)
    for operation in operations:
        if isinstance(operation, int):
            product = handle(AdjustStock(product.id, operation), deps)
        else:
            product = handle(UpdateProduct(product.id, product.version, operation), deps)
    return [events.from_item(item) for item in store.events]


def view(table: FakeProjectionTable, product_id: str = "product-1") -> dict[str, Any] | None:
    return table.get(keys.product_view_key(product_id))


def test_created_then_updated_gives_the_updated_product() -> None:
    """GIVEN a ProductCreated and a ProductUpdated (renamed, repriced)
    WHEN both are applied in order THEN a reader sees the new name, price and version."""
    created, updated = history([{"name": "Navy mug", "price_cents": 1400}])
    table = FakeProjectionTable()

    assert apply(created, table) is True
    assert apply(updated, table) is True

    seen = readers.product(table, "product-1")
    assert seen == updated.product.to_data()
    assert seen is not None
    assert (seen["name"], seen["priceCents"], seen["version"]) == ("Navy mug", 1400, 2)


def test_the_same_event_twice_leaves_the_same_view() -> None:
    """GIVEN a projected ProductUpdated WHEN the stream delivers it again
    THEN the view is unchanged (the same version may be written again)."""
    created, updated = history([{"name": "Navy mug"}])
    table = FakeProjectionTable()
    apply(created, table)
    apply(updated, table)
    first = view(table)

    apply(updated, table)

    assert view(table) == first == product_view(updated.product)


def test_an_older_event_after_a_newer_one_is_refused() -> None:
    """GIVEN version 2 arrived before version 1 WHEN version 1 is applied
    THEN apply returns False and the view stays at version 2."""
    created, restocked = history([+10])
    table = FakeProjectionTable()

    assert apply(restocked, table) is True
    assert apply(created, table) is False

    seen = readers.product(table, "product-1")
    assert seen is not None
    assert (seen["version"], seen["stock"]) == (2, 50)


names = st.text(st.characters(categories=("L", "N", "P", "S")), min_size=1, max_size=30)
operations: st.SearchStrategy[list[Operation]] = st.lists(
    st.one_of(
        st.builds(lambda name: {"name": name}, names),
        st.builds(lambda cents: {"price_cents": cents}, st.integers(1, 10**6)),
        st.builds(lambda category: {"category": category}, st.sampled_from(["kitchen", "bath"])),
        st.integers(1, 50),
    ),
    max_size=6,
)


def deliveries(count: int) -> st.SearchStrategy[list[int]]:
    """Every index in range(count) at least once, some again, in any order."""
    return st.lists(st.integers(0, count - 1), max_size=2 * count).flatmap(
        lambda again: st.permutations([*range(count), *again])
    )


@settings(max_examples=150, deadline=None, database=None)
@given(operations=operations, data=st.data())
def test_any_order_with_duplicates_ends_at_the_in_order_view(
    operations: list[Operation], data: st.DataObject
) -> None:
    """GIVEN a product's events v1..vn WHEN the stream delivers them in any order, some twice
    THEN the final view equals the view after in-order delivery: that of vn."""
    product_events = history(operations)
    in_order = FakeProjectionTable()
    for event in product_events:
        apply(event, in_order)
    order = data.draw(deliveries(len(product_events)), label="delivery order")
    shuffled = FakeProjectionTable()

    for index in order:
        apply(product_events[index], shuffled)

    assert view(shuffled) == view(in_order) == product_view(product_events[-1].product)


def test_readers_list_projected_products_by_category_in_pages() -> None:
    """GIVEN three kitchen products and one bath product, projected
    WHEN kitchen is listed two at a time THEN pages hold ids in order, one query each."""
    table = FakeProjectionTable()
    for number, category in enumerate(["kitchen", "bath", "kitchen", "kitchen"], start=1):
        (created,) = history([], MUG._replace(sku=f"SKU-{number}", category=category))
        # Each history numbers its product product-1, so give each its own id.
        apply(events.ProductCreated(created.product._replace(id=f"p{number}")), table)

    first, after = readers.products(table, "kitchen", 2, None)
    second, end = readers.products(table, "kitchen", 2, after)
    everything, _ = readers.products(table, None, 10, None)

    assert [item["id"] for item in first] == ["p1", "p3"]
    assert [item["id"] for item in second] == ["p4"]
    assert end is None
    assert [item["id"] for item in everything] == ["p1", "p2", "p3", "p4"]
    assert table.calls["query_index"] == 3
    assert "categoryKey" not in first[0]
