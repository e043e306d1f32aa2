"""Builders: one handler per event, named after it; BUILDERS is their index.

Each write is conditional on the version the event carries, so a duplicate, a replay
or a late older record changes nothing. Every handler answers whether a view changed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.customers import Customer
from domain.events import (
    CustomerRegistered,
    Event,
    OrderCancelled,
    OrderPlaced,
    OrderShipped,
    ProductCreated,
    ProductUpdated,
    StockAdjusted,
    StockReleased,
    StockReserved,
)
from domain.orders import Order
from domain.products import Product
from projections import keys, views
from projections.table import ProjectionTable

MERGE_RETRIES = 10


class MergeContended(Exception):
    """A customer view kept changing under the merge; the record will be retried."""


def product_created(event: ProductCreated, table: ProjectionTable) -> bool:
    return _product(event.product, table)


def product_updated(event: ProductUpdated, table: ProjectionTable) -> bool:
    # The event carries the whole product, so the view is replaced, not patched: a
    # patch applied out of order would lose the fields of the event it overtook.
    return _product(event.product, table)


def stock_adjusted(event: StockAdjusted, table: ProjectionTable) -> bool:
    return _product(event.product, table)


def stock_reserved(event: StockReserved, table: ProjectionTable) -> bool:
    return _product(event.product, table)


def stock_released(event: StockReleased, table: ProjectionTable) -> bool:
    return _product(event.product, table)


def customer_registered(event: CustomerRegistered, table: ProjectionTable) -> bool:
    customer: Customer = event.customer
    return _merge_customer(customer.id, table, lambda view: views.with_profile(view, customer))


def order_placed(event: OrderPlaced, table: ProjectionTable) -> bool:
    return _order(event.order, table)


def order_shipped(event: OrderShipped, table: ProjectionTable) -> bool:
    return _order(event.order, table)


def order_cancelled(event: OrderCancelled, table: ProjectionTable) -> bool:
    return _order(event.order, table)


BUILDERS: dict[type[Any], Callable[[Any, ProjectionTable], bool]] = {
    ProductCreated: product_created,
    ProductUpdated: product_updated,
    StockAdjusted: stock_adjusted,
    StockReserved: stock_reserved,
    StockReleased: stock_released,
    CustomerRegistered: customer_registered,
    OrderPlaced: order_placed,
    OrderShipped: order_shipped,
    OrderCancelled: order_cancelled,
}


def apply(event: Event, table: ProjectionTable) -> bool:
    """Apply one event to the region's projections; True if the event's own view changed."""
    return BUILDERS[type(event)](event, table)


def _product(product: Product, table: ProjectionTable) -> bool:
    return table.put_if_newer(views.product_view(product), product.version)


def _order(order: Order, table: ProjectionTable) -> bool:
    changed = table.put_if_newer(views.order_view(order), order.version)
    # The customer's view is merged even when the order's was already newer: the
    # merge keeps its own per-order versions, and a crash between the two writes
    # must not leave the customer behind.
    _merge_customer(order.customer_id, table, lambda view: views.with_order(view, order))
    return changed


def _merge_customer(
    customer_id: str,
    table: ProjectionTable,
    merge: Callable[[dict[str, Any]], dict[str, Any] | None],
) -> bool:
    """Read, merge, and write back only if nobody wrote in between."""
    for _ in range(MERGE_RETRIES):
        current = table.get(keys.customer_view_key(customer_id))
        view = current if current is not None else views.empty_customer_view(customer_id)
        merged = merge(view)
        if merged is None:
            return False
        revision = None if current is None else int(current.get("rev", 0))
        merged["rev"] = (revision or 0) + 1
        if table.put_if_revision(merged, revision):
            return True
    raise MergeContended(f"customer view {customer_id} changed {MERGE_RETRIES} times")
