"""The bounded customer view on moto: what each order record costs, and the conditions
that keep its counters exact when writers race or the view is in the old layout."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from moto import mock_aws

from domain import events
from domain.commands import CreateProduct, PlaceOrder, RegisterCustomer, ShipOrder
from domain.handlers import Dependencies, handle
from domain.orders import LineRequest, Order
from emulator.cloud.server import create_tables
from projections import keys, readers
from projections.builders import apply
from projections.settings import Settings
from projections.table import ProjectionTable
from tests.unit.fakes import FakeWriteStore, SequentialIds, StepClock

REGION = "us-east-1"


class Shop:
    """A write side (in memory: only its events matter here) with Ana and a lamp."""

    def __init__(self) -> None:
        self.store = FakeWriteStore()
        clock = StepClock()
        setup = Dependencies(self.store, clock, SequentialIds("product"))
        self.deps = Dependencies(self.store, clock, SequentialIds("order"))
        self.lamp = handle(CreateProduct("LAMP", "Lamp", "", "lighting", 100, "EUR", 999), setup)
        handle(RegisterCustomer("ana@example.com", "Ana", "ana"), setup)

    def place(self) -> Order:
        line = LineRequest(self.lamp.id, 1)
        order: Order = handle(PlaceOrder("ana", (line,), f"k-{len(self.store.events)}"), self.deps)
        return order

    def last_event(self) -> events.Event:
        """The newest order event (a placement also records its product's)."""
        return self.order_events()[-1]

    def order_events(self) -> list[events.Event]:
        return [
            events.from_item(item)
            for item in self.store.events
            if item["aggregateType"] in ("ORDER", "CUSTOMER")
        ]


class RacedTable(ProjectionTable):
    """The projection table, with another writer getting in after the first read."""

    def __init__(self, client: Any, name: str, race: Callable[[], None]) -> None:
        super().__init__(client, name)
        self.race: Callable[[], None] | None = race
        self.reads = 0

    def get_many(self, item_keys: list[dict[str, str]]) -> list[dict[str, Any] | None]:
        self.reads += 1
        found = super().get_many(item_keys)
        race, self.race = self.race, None
        if race is not None:
            race()
        return found


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Iterator[ProjectionTable]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        settings = Settings(region=REGION, primary_region=REGION)
        create_tables(settings)
        yield ProjectionTable(settings.dynamodb(REGION), settings.projection_table)


def requests_of(table: ProjectionTable, event: events.Event) -> list[str]:
    """The DynamoDB operations one record's builder sends."""
    sent: list[str] = []

    def record(request: Any, **_: Any) -> None:
        sent.append(request.headers["X-Amz-Target"].decode().rsplit(".", 1)[-1])

    table.client.meta.events.register("before-send.dynamodb.*", record)
    try:
        apply(event, table)
    finally:
        table.client.meta.events.unregister("before-send.dynamodb.*", record)
    return sent


def test_an_order_record_costs_two_requests_however_many_orders_came_before(
    table: ProjectionTable,
) -> None:
    """GIVEN Ana's 12 orders projected WHEN her 13th OrderPlaced is applied
    THEN it costs one BatchGetItem and one TransactWriteItems (it used to be a PutItem, a
    GetItem and a PutItem of a view that grew with every order); its duplicate costs the
    read alone; shipping her first order, no longer among the 10 newest, a read and a
    PutItem; and her record counts 13 orders with the 10 newest listed."""
    shop = Shop()
    placed = [shop.place() for _ in range(12)]
    for event in shop.order_events():
        apply(event, table)

    placed.append(shop.place())
    first = requests_of(table, shop.last_event())
    again = requests_of(table, shop.last_event())
    handle(ShipOrder(placed[0].id, 1), shop.deps)
    shipped = requests_of(table, shop.last_event())

    assert first == ["BatchGetItem", "TransactWriteItems"]
    assert again == ["BatchGetItem"]
    assert shipped == ["BatchGetItem", "PutItem"]
    customer = readers.customer(table, "ana")
    assert customer is not None
    assert (customer["orderCount"], customer["lifetimeValueCents"]) == (13, 1300)
    assert [order["id"] for order in customer["recentOrders"]] == [
        order.id for order in placed[::-1][:10]
    ]


def test_a_writer_racing_the_same_customer_makes_the_builder_read_again(
    table: ProjectionTable,
) -> None:
    """GIVEN Ana's first order is being projected WHEN her second is projected between
    that builder's read and its write THEN the first builder's transaction is refused,
    it reads again, and both orders count once and are listed, newest first."""
    shop = Shop()
    first, second = shop.place(), shop.place()
    first_placed, second_placed = shop.order_events()[-2:]
    raced = RacedTable(table.client, table.name, lambda: apply(second_placed, table))

    assert apply(first_placed, raced) is True

    assert raced.reads == 2
    customer_view = table.get(keys.customer_view_key("ana"))
    assert customer_view is not None
    assert (customer_view["orderCount"], customer_view["lifetimeValueCents"]) == (2, 200)
    assert [order["id"] for order in customer_view["recentOrders"]] == [second.id, first.id]


def test_a_customer_view_in_the_old_layout_sheds_its_history_on_moto(
    table: ProjectionTable,
) -> None:
    """GIVEN Ana's view as the old builders left it (one orderVersions entry per order)
    WHEN her next order and her registration (again) are projected
    THEN her counters carry on from the old ones, and the history is gone from the item."""
    shop = Shop()
    old = shop.place()
    apply(shop.order_events()[-1], table)
    old_layout = {
        **(table.get(keys.customer_view_key("ana")) or {}),
        "id": "ana",
        "email": "ana@example.com",
        "name": "Ana",
        "version": 1,
        "createdAt": "2024-05-01T12:00:00.000Z",
        keys.OLD_ORDER_HISTORY: {old.id: {"version": 1, "totalCents": 100, "status": "PLACED"}},
    }
    table.put(old_layout)

    new = shop.place()
    apply(shop.last_event(), table)

    stored = table.get(keys.customer_view_key("ana")) or {}
    assert keys.OLD_ORDER_HISTORY not in stored
    assert (stored["orderCount"], stored["lifetimeValueCents"]) == (2, 200)
    assert [order["id"] for order in stored["recentOrders"]] == [new.id, old.id]
