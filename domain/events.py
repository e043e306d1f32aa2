"""Events: what happened, in the past tense, and their write-table items.

Every product event carries the whole product as it stood after the event. A
projection can then apply any event on its own, and keep the newest version, whatever
order the stream delivers them in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain import records
from domain.products import Product


@dataclass(frozen=True)
class ProductCreated:
    product: Product
    correlation_id: str = ""


@dataclass(frozen=True)
class ProductUpdated:
    product: Product
    changed: tuple[str, ...]
    correlation_id: str = ""


@dataclass(frozen=True)
class StockAdjusted:
    product: Product
    delta: int
    correlation_id: str = ""


Event = ProductCreated | ProductUpdated | StockAdjusted

EVENT_TYPES: dict[str, type[ProductCreated] | type[ProductUpdated] | type[StockAdjusted]] = {
    cls.__name__: cls for cls in (ProductCreated, ProductUpdated, StockAdjusted)
}


def version_of(event: Event) -> int:
    """The aggregate version this event produced: its position in the aggregate's history."""
    return event.product.version


def to_item(event: Event) -> dict[str, Any]:
    """The event as a write-table item; the stream carries exactly this."""
    product = event.product
    data: dict[str, Any] = {"product": product.to_data()}
    if isinstance(event, ProductUpdated):
        data["changed"] = list(event.changed)
    elif isinstance(event, StockAdjusted):
        data["delta"] = event.delta
    return {
        **records.event_key(records.PRODUCT, product.id, product.version),
        records.RECORD_KIND: records.EVENT_RECORD,
        "eventType": type(event).__name__,
        "aggregateType": records.PRODUCT,
        "aggregateId": product.id,
        "version": product.version,
        "occurredAt": product.updated_at,
        "correlationId": event.correlation_id,
        "data": data,
    }


def from_item(item: dict[str, Any]) -> Event:
    """Rebuild an event from its write-table item (or a stream record's NEW_IMAGE).

    Raises
    ------
    ValueError
        The item is not an event this code knows: a poison record.
    """
    item = records.plain(item)
    event_type = item.get("eventType")
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    data = item["data"]
    product = Product.from_data(data["product"])
    correlation_id = str(item.get("correlationId", ""))
    if event_type == "ProductUpdated":
        return ProductUpdated(product, tuple(data["changed"]), correlation_id)
    if event_type == "StockAdjusted":
        return StockAdjusted(product, int(data["delta"]), correlation_id)
    return ProductCreated(product, correlation_id)
