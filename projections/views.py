"""The shapes of the denormalized views, and the merge that builds a customer's.

A customer view gathers two histories: the customer's own (profile, by customer
version) and each of its orders' (by order version). Both are kept per source, so any
delivery order, duplicates included, ends in the same view.
"""

from __future__ import annotations

import copy
from typing import Any

from domain.customers import Customer
from domain.orders import CANCELLED, Order
from domain.products import Product
from projections import keys

RECENT_ORDERS = 10


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


def empty_customer_view(customer_id: str) -> dict[str, Any]:
    """A customer not yet registered here, whose orders may arrive first (version 0)."""
    return {
        **keys.customer_view_key(customer_id),
        "id": customer_id,
        "email": None,
        "name": None,
        "version": 0,
        "createdAt": None,
        "orderCount": 0,
        "lifetimeValueCents": 0,
        "recentOrders": [],
        "orderVersions": {},
    }


def with_profile(view: dict[str, Any], customer: Customer) -> dict[str, Any] | None:
    """The view with a newer profile, or None when it already has this one or a newer."""
    if view["version"] >= customer.version:
        return None
    merged = copy.deepcopy(view)
    merged.update(customer.to_data())
    return merged


def with_order(view: dict[str, Any], order: Order) -> dict[str, Any] | None:
    """The view with a newer state of one order, or None when it has it already."""
    seen = view["orderVersions"].get(order.id)
    if seen is not None and seen["version"] >= order.version:
        return None
    merged = copy.deepcopy(view)
    merged["orderVersions"][order.id] = {
        "version": order.version,
        "totalCents": order.total_cents,
        "status": order.status,
    }
    summaries = merged["orderVersions"].values()
    merged["orderCount"] = len(merged["orderVersions"])
    merged["lifetimeValueCents"] = sum(
        summary["totalCents"] for summary in summaries if summary["status"] != CANCELLED
    )
    recent = [item for item in merged["recentOrders"] if item["id"] != order.id]
    recent.append(order.to_data())
    recent.sort(key=lambda item: (item["placedAt"], item["id"]), reverse=True)
    merged["recentOrders"] = recent[:RECENT_ORDERS]
    return merged
