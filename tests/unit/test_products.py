"""Product rules, through the command handlers, against the in-memory write store."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from domain.commands import AdjustStock, CreateProduct, UpdateProduct
from domain.errors import InsufficientStock, NotFound, ValidationError, VersionConflict
from domain.handlers import Dependencies, handle
from domain.products import Product
from domain.store import Change

from .fakes import FakeWriteStore, SequentialIds, StepClock

MUG = CreateProduct(
    sku="MUG-001",
    name="Blue mug",
    description="Stoneware, 350 ml.",
    category="kitchen",
    price_cents=1250,
    currency="EUR",
    stock=40,
)


@pytest.fixture
def store() -> FakeWriteStore:
    return FakeWriteStore()


@pytest.fixture
def deps(store: FakeWriteStore) -> Dependencies:
    return Dependencies(store=store, clock=StepClock(), ids=SequentialIds(), correlation_id="c-1")


def snapshot(store: FakeWriteStore) -> tuple[dict[Any, Any], list[dict[str, Any]], int]:
    return copy.deepcopy(store.items), copy.deepcopy(store.events), store.commits


def test_create_product_starts_at_version_1_with_one_created_event(
    deps: Dependencies, store: FakeWriteStore
) -> None:
    """GIVEN an empty store WHEN a valid product is created
    THEN it is at version 1, readable back, and exactly one ProductCreated is recorded."""
    product = handle(MUG, deps)

    assert (product.id, product.version, product.stock) == ("product-1", 1, 40)
    assert product.created_at == product.updated_at == "2024-05-01T12:00:00.000Z"
    assert store.load("PRODUCT", "product-1") is not None
    assert [item["eventType"] for item in store.events] == ["ProductCreated"]
    assert store.events[0]["data"]["product"] == product.to_data()
    assert store.events[0]["correlationId"] == "c-1"


def test_create_product_keeps_unicode_text(deps: Dependencies, store: FakeWriteStore) -> None:
    """GIVEN a name and description outside ASCII WHEN the product is created
    THEN they are stored exactly as given (after trimming the name)."""
    product = handle(MUG._replace(name="  Café ☕ 咖啡杯 ", description="Ünïcødé 🚀"), deps)

    stored = Product.from_data(store.load("PRODUCT", product.id) or {})
    assert (stored.name, stored.description) == ("Café ☕ 咖啡杯", "Ünïcødé 🚀")


@pytest.mark.parametrize(
    "field, value",
    [
        ("name", ""),
        ("name", "   \t\n"),
        ("name", "\u3000"),  # ideographic space only
        ("name", "x" * 10_000),
        ("description", "d" * 4001),
        ("category", " "),
        ("price_cents", 0),
        ("price_cents", -1),
        ("price_cents", 2**31),
        ("stock", -1),
        ("currency", "usd"),
        ("currency", "US"),
        ("currency", "USDX"),
        ("currency", "\uff35\uff33\uff24"),  # fullwidth USD
        ("sku", ""),
        ("sku", "-MUG"),
        ("sku", "MUG 001"),
        ("sku", "M" * 65),
        ("sku", "\uff2d\uff35\uff27"),  # fullwidth MUG
    ],
)
def test_create_product_refuses_invalid_input_and_writes_nothing(
    deps: Dependencies, store: FakeWriteStore, field: str, value: Any
) -> None:
    """GIVEN an empty store WHEN a product breaking one rule is created
    THEN ValidationError is raised and the store holds nothing at all."""
    with pytest.raises(ValidationError):
        handle(MUG._replace(**{field: value}), deps)

    assert (store.items, store.events, store.commits) == ({}, [], 0)


@pytest.mark.parametrize(
    "field, value",
    [
        ("name", None),
        ("name", 42),
        ("price_cents", "1250"),
        ("price_cents", None),
        ("stock", None),
        ("currency", "USD\n"),  # `$` matches before a trailing newline
        ("sku", "MUG-001\n"),
    ],
)
def test_create_product_refuses_hostile_input_with_validation_error(
    deps: Dependencies, store: FakeWriteStore, field: str, value: Any
) -> None:
    """GIVEN input of the wrong type or with a trailing newline WHEN a product is created
    THEN the caller gets ValidationError (never TypeError/AttributeError) and nothing is written."""
    with pytest.raises(ValidationError):
        handle(MUG._replace(**{field: value}), deps)

    assert (store.items, store.events) == ({}, [])


def test_create_product_refuses_a_taken_sku(deps: Dependencies, store: FakeWriteStore) -> None:
    """GIVEN a product with sku MUG-001 WHEN another product claims MUG-001
    THEN ValidationError names the sku and only the first product exists."""
    first = handle(MUG, deps)
    before = snapshot(store)

    with pytest.raises(ValidationError) as refused:
        handle(MUG._replace(name="Red mug"), deps)

    assert refused.value.info == {"sku": "MUG-001"}
    assert snapshot(store) == before
    assert store.load("PRODUCT", "product-2") is None
    assert store.load("PRODUCT", first.id) is not None


def test_update_product_changes_fields_and_records_what_changed(
    deps: Dependencies, store: FakeWriteStore
) -> None:
    """GIVEN a product at version 1 WHEN its name and price change at expectedVersion 1
    THEN it is at version 2 with the new values, and ProductUpdated lists the fields."""
    created = handle(MUG, deps)

    updated = handle(UpdateProduct(created.id, 1, {"name": "Navy mug", "price_cents": 1400}), deps)

    assert (updated.version, updated.name, updated.price_cents) == (2, "Navy mug", 1400)
    assert updated.created_at == created.created_at
    assert updated.updated_at > created.updated_at
    assert [item["eventType"] for item in store.events] == ["ProductCreated", "ProductUpdated"]
    assert store.events[-1]["data"]["changed"] == ["name", "priceCents"]
    state = store.load("PRODUCT", created.id) or {}
    assert (state["name"], state["priceCents"], state["version"]) == ("Navy mug", 1400, 2)


def test_update_product_with_stale_version_conflicts_and_writes_nothing(
    deps: Dependencies, store: FakeWriteStore
) -> None:
    """GIVEN a product already updated to version 2 WHEN an update expects version 1
    THEN VersionConflict reports the current version and nothing is written."""
    created = handle(MUG, deps)
    handle(UpdateProduct(created.id, 1, {"name": "Navy mug"}), deps)
    before = snapshot(store)

    with pytest.raises(VersionConflict) as refused:
        handle(UpdateProduct(created.id, 1, {"name": "Green mug"}), deps)

    assert refused.value.info == {"expectedVersion": 1, "currentVersion": 2}
    assert snapshot(store) == before


def test_update_unknown_product_is_not_found(deps: Dependencies, store: FakeWriteStore) -> None:
    """GIVEN an empty store WHEN a product that never existed is updated
    THEN NotFound names it and nothing is written."""
    with pytest.raises(NotFound) as refused:
        handle(UpdateProduct("nope", 1, {"name": "Ghost"}), deps)

    assert refused.value.info == {"id": "nope"}
    assert (store.items, store.events) == ({}, [])


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"stock": 5},
        {"sku": "MUG-002"},
        {"version": 9},
        {"name": ""},
        {"name": "x" * 10_000},
        {"currency": "us"},
        {"price_cents": 0},
    ],
)
def test_update_product_refuses_invalid_changes_and_writes_nothing(
    deps: Dependencies, store: FakeWriteStore, changes: dict[str, Any]
) -> None:
    """GIVEN a product WHEN it is updated with no fields, a field updateProduct does not own,
    or a value breaking a rule THEN ValidationError is raised and nothing is written."""
    created = handle(MUG, deps)
    before = snapshot(store)

    with pytest.raises(ValidationError):
        handle(UpdateProduct(created.id, 1, changes), deps)

    assert snapshot(store) == before


@pytest.mark.parametrize(
    "changes",
    [
        {"name": None},
        {"description": None},
        {"category": None},
        {"price_cents": None},
        {"currency": None},
        {"name": 7},
    ],
    ids=["name-None", "description-None", "category-None", "price-None", "currency-None", "name-7"],
)
def test_update_product_refuses_null_or_mistyped_values(
    deps: Dependencies, store: FakeWriteStore, changes: dict[str, Any]
) -> None:
    """GIVEN a product WHEN a change sets a field to None or to the wrong type
    THEN the caller gets ValidationError (never TypeError/AttributeError), nothing written."""
    created = handle(MUG, deps)
    before = snapshot(store)

    with pytest.raises(ValidationError):
        handle(UpdateProduct(created.id, 1, changes), deps)

    assert snapshot(store) == before


def test_adjust_stock_moves_stock_and_records_the_delta(
    deps: Dependencies, store: FakeWriteStore
) -> None:
    """GIVEN a product with 40 in stock WHEN 5 are removed
    THEN it has 35 at version 2, and StockAdjusted carries delta -5."""
    created = handle(MUG, deps)

    adjusted = handle(AdjustStock(created.id, -5), deps)

    assert (adjusted.stock, adjusted.version) == (35, 2)
    assert store.events[-1]["eventType"] == "StockAdjusted"
    assert store.events[-1]["data"]["delta"] == -5
    assert store.events[-1]["data"]["product"]["stock"] == 35


def test_adjust_stock_below_zero_is_refused_and_stock_unchanged(
    deps: Dependencies, store: FakeWriteStore
) -> None:
    """GIVEN a product with 40 in stock WHEN 41 are removed
    THEN InsufficientStock is raised and the stored stock is still 40 at version 1."""
    created = handle(MUG, deps)
    before = snapshot(store)

    with pytest.raises(InsufficientStock) as refused:
        handle(AdjustStock(created.id, -41), deps)

    assert refused.value.info == {"productId": created.id, "stock": 40, "delta": -41}
    assert snapshot(store) == before
    state = store.load("PRODUCT", created.id) or {}
    assert (state["stock"], state["version"]) == (40, 1)


def test_adjust_stock_by_zero_is_refused(deps: Dependencies, store: FakeWriteStore) -> None:
    """GIVEN a product WHEN stock is moved by 0 THEN ValidationError, and no event is added."""
    created = handle(MUG, deps)

    with pytest.raises(ValidationError):
        handle(AdjustStock(created.id, 0), deps)

    assert len(store.events) == 1


class RacingStore(FakeWriteStore):
    """Lets another writer commit once, between this writer's load and its commit."""

    def __init__(self) -> None:
        super().__init__()
        self.rival: Dependencies | None = None

    def commit(self, change: Change) -> None:
        rival, self.rival = self.rival, None
        if rival is not None:
            handle(AdjustStock(change.aggregate_id, +10), rival)
        super().commit(change)


def test_adjust_stock_retries_after_a_concurrent_write_and_keeps_both() -> None:
    """GIVEN a product with 40 in stock and a rival that adds 10 just before our commit
    WHEN we remove 5 THEN our first commit conflicts, the retry wins, and stock is 45."""
    store = RacingStore()
    deps = Dependencies(store=store, clock=StepClock(), ids=SequentialIds())
    created = handle(MUG, deps)
    store.rival = Dependencies(store=store, clock=StepClock("2024-06-01T00:00:00.000Z"))

    adjusted = handle(AdjustStock(created.id, -5), deps)

    assert (adjusted.stock, adjusted.version) == (45, 3)
    assert [item["data"].get("delta") for item in store.events] == [None, 10, -5]


def test_stock_cannot_pass_what_graphql_can_return(
    store: FakeWriteStore, deps: Dependencies
) -> None:
    """GIVEN a product at the 32-bit stock limit WHEN one more unit is added THEN
    ValidationError, and nothing is written (the view would be unreadable as an Int)."""
    product = handle(MUG._replace(stock=2**31 - 1), deps)
    before = snapshot(store)

    with pytest.raises(ValidationError, match="limit"):
        handle(AdjustStock(product.id, 1), deps)
    with pytest.raises(ValidationError, match="at most"):
        handle(MUG._replace(sku="MUG-9", stock=2**31), deps)
    assert snapshot(store) == before
