"""Builders: one handler per event, named after it; BUILDERS is their index.

Each write is conditional on the version the event carries, so a duplicate, a replay
or a late older record changes nothing. Every handler answers whether a view changed.
An order's view and its customer's counters and recent orders change in one
transaction (:mod:`projections.views`): per record, one consistent BatchGetItem of the
two views and one write.
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
    """An order's or its customer's view kept changing under the builder; the record
    will be retried."""


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
    # Only the profile's own fields: the counters and recent orders belong to orders,
    # which may have reached this region first.
    customer: Customer = event.customer
    key = keys.customer_view_key(customer.id)
    profile = views.profile(customer)
    return table.update_if_older(key, profile, customer.version, (keys.OLD_ORDER_HISTORY,))


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
    order_key = keys.order_view_key(order.id)
    customer_key = keys.customer_view_key(order.customer_id)
    for _ in range(MERGE_RETRIES):
        before, customer = table.get_many([order_key, customer_key])
        if before is not None and before["version"] >= order.version:
            # The same version again tells subscribers again (at least once); its
            # customer changed in the transaction that wrote it. An older one is late.
            return bool(before["version"] == order.version)
        customer = customer or {}
        recent = views.recent_with(customer.get(views.RECENT, []), order)
        written = table.apply_order(
            views.order_view(order),
            replaces=None if before is None else int(before["version"]),
            customer=customer_key,
            moves=views.counter_moves(before, order),
            sets={} if recent is None else {views.RECENT: recent},
            revision=customer.get(keys.REVISION),
        )
        if written:
            return True
    raise MergeContended(f"order {order.id} or its customer changed {MERGE_RETRIES} times")
