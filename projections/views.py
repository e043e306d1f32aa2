"""The shapes of the denormalized views, and what one order does to its customer's.

A customer view holds the profile (kept by customer version), two counters and the
10 newest orders, and nothing else: its size does not grow with the number of orders.
Each order's own view records the version applied, so the counters move by the
difference between the order view's old and new contribution, written together with
the order view and conditional on its old version: a duplicate or an older record
changes nothing, and any delivery order ends in the same view.
"""

from __future__ import annotations

from typing import Any

from domain.customers import Customer
from domain.orders import CANCELLED, Order
from domain.products import Product
from projections import keys

RECENT_ORDERS = 10
ORDER_COUNT = "orderCount"
LIFETIME_VALUE = "lifetimeValueCents"
RECENT = "recentOrders"


def product_view(product: Product) -> dict[str, Any]:
    """The product item: the view plus its index keys."""
    return {
        **keys.product_view_key(product.id),
        **product.to_data(),
        keys.CATEGORY_KEY: keys.category_key(product.category),
        keys.KIND_KEY: keys.PRODUCT_KIND,
        keys.LIST_KEY: product.id,
    }


def order_view(order: Order) -> dict[str, Any]:
    """The order item: the order as placed (names, prices, customer) and its listings."""
    return {
        **keys.order_view_key(order.id),
        **order.to_data(),
        keys.CUSTOMER_KEY: keys.customer_orders_key(order.customer_id),
        keys.CUSTOMER_STATUS_KEY: keys.customer_orders_key(order.customer_id, order.status),
        keys.PLACED_KEY: keys.placed_key(order.placed_at, order.id),
    }


def profile(customer: Customer) -> dict[str, Any]:
    """The customer view's own fields; its counters and recent orders come from orders."""
    return customer.to_data()


def counter_moves(before: dict[str, Any] | None, after: Order) -> dict[str, int]:
    """How far the customer's counters move when an order's view goes from ``before``
    (None: this region has not seen the order) to ``after``. Both are always given, so
    that the first order creates both, whichever of its states arrives first."""
    old_count, old_value = _contribution(before)
    new_count, new_value = _contribution(after.to_data())
    return {ORDER_COUNT: new_count - old_count, LIFETIME_VALUE: new_value - old_value}


def recent_with(recent: list[dict[str, Any]], order: Order) -> list[dict[str, Any]] | None:
    """The customer's 10 newest orders (by placedAt, then id) with this state of
    ``order``, or None when they do not change: it is older than all 10, or they hold
    this version of it or a newer one."""
    held = next((item for item in recent if item["id"] == order.id), None)
    if held is not None and held["version"] >= order.version:
        return None
    others = [item for item in recent if item["id"] != order.id]
    newest = sorted([*others, order.to_data()], key=_placed, reverse=True)[:RECENT_ORDERS]
    if all(item["id"] != order.id for item in newest):
        return None
    return newest


def _contribution(order: dict[str, Any] | None) -> tuple[int, int]:
    """What one order adds to its customer's (order count, lifetime value)."""
    if order is None:
        return 0, 0
    return 1, 0 if order["status"] == CANCELLED else int(order["totalCents"])


def _placed(order: dict[str, Any]) -> tuple[str, str]:
    return order["placedAt"], order["id"]
