"""Readers: what query resolvers call. Each answer is one request to this region's table."""

from __future__ import annotations

from typing import Any

from projections import keys
from projections.table import ProjectionTable

# Attributes that serve the table (keys, merge bookkeeping), not the client.
_KEY_ATTRIBUTES = {
    keys.PARTITION_KEY,
    keys.SORT_KEY,
    keys.CATEGORY_KEY,
    keys.KIND_KEY,
    keys.LIST_KEY,
    keys.CUSTOMER_KEY,
    keys.CUSTOMER_STATUS_KEY,
    keys.PLACED_KEY,
    "rev",
    "orderVersions",
}


def product(table: ProjectionTable, product_id: str) -> dict[str, Any] | None:
    """The product view, or None when this region has not seen the product."""
    item = table.get(keys.product_view_key(product_id))
    return None if item is None else _public(item)


def products(
    table: ProjectionTable, category: str | None, limit: int, start: dict[str, Any] | None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """One page of products, in one category or in all, ordered by id."""
    if category is None:
        items, last = table.query_index(keys.KIND_INDEX, keys.PRODUCT_KIND, limit, start)
    else:
        items, last = table.query_index(
            keys.CATEGORY_INDEX, keys.category_key(category), limit, start
        )
    return [_public(item) for item in items], last


def customer(table: ProjectionTable, customer_id: str) -> dict[str, Any] | None:
    """The customer with counters and recent orders (newest first), or None if this
    region has not seen the registration."""
    item = table.get(keys.customer_view_key(customer_id))
    if item is None or item["version"] == 0:
        return None
    return _public(item)


def order(table: ProjectionTable, order_id: str) -> dict[str, Any] | None:
    """The order as placed, with its customer and lines, or None."""
    item = table.get(keys.order_view_key(order_id))
    return None if item is None else _public(item)


def orders_by_customer(
    table: ProjectionTable,
    customer_id: str,
    status: str | None,
    limit: int,
    start: dict[str, Any] | None,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """One page of a customer's orders, newest first, optionally in one status."""
    index = keys.CUSTOMER_ORDERS_INDEX if status is None else keys.CUSTOMER_STATUS_INDEX
    listing = keys.customer_orders_key(customer_id, status)
    items, last = table.query_index(index, listing, limit, start, newest_first=True)
    return [_public(item) for item in items], last


def progress(table: ProjectionTable) -> dict[str, Any] | None:
    """How far this region's projections have got: see :func:`projections.stream`."""
    return table.get(keys.progress_key())


def _public(item: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in item.items() if name not in _KEY_ATTRIBUTES}
