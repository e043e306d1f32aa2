"""Events: what happened, in the past tense, and their write-table items.

Every event carries its whole aggregate as it stood after the event, plus what
changed. A projection can then apply any event on its own and keep the newest version,
whatever order the stream delivers them in.
"""

from __future__ import annotations

import typing
from typing import Any, NamedTuple

from domain import records
from domain.customers import Customer
from domain.data import camel, to_data
from domain.orders import Order
from domain.products import Product


class ProductCreated(NamedTuple):
    product: Product
    correlation_id: str = ""


class ProductUpdated(NamedTuple):
    product: Product
    changed: tuple[str, ...]
    correlation_id: str = ""


class StockAdjusted(NamedTuple):
    product: Product
    delta: int
    correlation_id: str = ""


class StockReserved(NamedTuple):
    """An order took ``quantity`` units of the product."""

    product: Product
    order_id: str
    quantity: int
    correlation_id: str = ""


class StockReleased(NamedTuple):
    """A cancelled order gave ``quantity`` units back."""

    product: Product
    order_id: str
    quantity: int
    correlation_id: str = ""


class CustomerRegistered(NamedTuple):
    customer: Customer
    correlation_id: str = ""


class OrderPlaced(NamedTuple):
    order: Order
    correlation_id: str = ""


class OrderShipped(NamedTuple):
    order: Order
    correlation_id: str = ""


class OrderCancelled(NamedTuple):
    order: Order
    correlation_id: str = ""


ProductEvent = ProductCreated | ProductUpdated | StockAdjusted | StockReserved | StockReleased
OrderEvent = OrderPlaced | OrderShipped | OrderCancelled
Event = ProductEvent | CustomerRegistered | OrderEvent

_AGGREGATE_KINDS = {Product: records.PRODUCT, Customer: records.CUSTOMER, Order: records.ORDER}
EVENT_TYPES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        ProductCreated,
        ProductUpdated,
        StockAdjusted,
        StockReserved,
        StockReleased,
        CustomerRegistered,
        OrderPlaced,
        OrderShipped,
        OrderCancelled,
    )
}


def aggregate_of(event: Event) -> Product | Customer | Order:
    """The aggregate an event carries: always its first field."""
    aggregate: Product | Customer | Order = event[0]
    return aggregate


def occurred_at(event: Event) -> str:
    """When the event was written: its aggregate's last change."""
    aggregate = aggregate_of(event)
    return aggregate.created_at if isinstance(aggregate, Customer) else aggregate.updated_at


def version_of(event: Event) -> int:
    """The aggregate version this event produced: its position in the aggregate's history."""
    return aggregate_of(event).version


def to_item(event: Event) -> dict[str, Any]:
    """The event as a write-table item; the stream carries exactly this."""
    aggregate = aggregate_of(event)
    kind = _AGGREGATE_KINDS[type(aggregate)]
    data = {
        camel(name): to_data(getattr(event, name))
        for name in event._fields
        if name != "correlation_id"
    }
    return {
        **records.event_key(kind, aggregate.id, aggregate.version),
        records.RECORD_KIND: records.EVENT_RECORD,
        "eventType": type(event).__name__,
        "aggregateType": kind,
        "aggregateId": aggregate.id,
        "version": aggregate.version,
        "occurredAt": occurred_at(event),
        "correlationId": event.correlation_id,
        "data": data,
    }


def from_item(item: dict[str, Any]) -> Event:
    """Rebuild an event from its write-table item (or a stream record's NEW_IMAGE).

    Raises
    ------
    ValueError
        The item is not an event this code knows, or is malformed: a poison record.
    """
    item = records.plain(item)
    cls = EVENT_TYPES.get(item.get("eventType"))  # type: ignore[arg-type]
    if cls is None:
        raise ValueError(f"unknown event type {item.get('eventType')!r}")
    hints = typing.get_type_hints(cls)
    data = item.get("data")
    if not isinstance(data, dict):
        raise ValueError("event item has no data")
    values: dict[str, Any] = {"correlation_id": str(item.get("correlationId", ""))}
    try:
        for name in cls._fields:
            if name == "correlation_id":
                continue
            hint, value = hints[name], data[camel(name)]
            if hint in _AGGREGATE_KINDS:
                value = hint.from_data(value)
            elif typing.get_origin(hint) is tuple:
                value = tuple(value)
            values[name] = value
    except (KeyError, TypeError) as error:
        raise ValueError(f"malformed {cls.__name__} item: {error}") from error
    event: Event = cls(**values)
    return event
