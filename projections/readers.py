"""Readers: what query resolvers call. Each answer is one request to this region's table.

Every number a reader answers with fits GraphQL's Int, which AppSync will not return
past 2,147,483,647. The write side refuses amounts past it, but a view written before it
did (a local state directory) may hold one: such an order or product is left out of
lists, with a warning naming it, and reading it alone raises :class:`UnreadableView`,
so one bad view never takes its customer's other reads down with it. A lifetime value
grows across orders, so it is answered both exactly, as a decimal string, and as an
Int that stops at the limit; a lag stops at the limit too.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from domain.rules import MAX_INT
from projections import keys
from projections.table import ProjectionTable

logger = logging.getLogger("gateway.readers")

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
    keys.REVISION,
    keys.OLD_ORDER_HISTORY,
}
MIN_INT = -MAX_INT - 1


class UnreadableView(Exception):
    """A view holds a number GraphQL's Int cannot carry; the resolver reports an
    internal failure for this one view, and logs it."""


def product(table: ProjectionTable, product_id: str) -> dict[str, Any] | None:
    """The product view, or None when this region has not seen the product."""
    item = table.get(keys.product_view_key(product_id))
    return None if item is None else _checked(_public(item), f"product {product_id}")


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
    return _readable([_public(item) for item in items]), last


def customer(table: ProjectionTable, customer_id: str) -> dict[str, Any] | None:
    """The customer with counters and recent orders (newest first), or None if this
    region has not seen the registration."""
    item = table.get(keys.customer_view_key(customer_id))
    if item is None or not item.get("version"):
        return None
    view = _public(item)
    lifetime = int(view.get("lifetimeValueCents", 0))
    view["fullLifetimeValueCents"] = str(lifetime)
    view["lifetimeValueCents"] = min(lifetime, MAX_INT)
    view["orderCount"] = min(int(view.get("orderCount", 0)), MAX_INT)
    view["recentOrders"] = _readable(view.get("recentOrders", []))
    return _checked(view, f"customer {customer_id}")


def order(table: ProjectionTable, order_id: str) -> dict[str, Any] | None:
    """The order as placed, with its customer and lines, or None."""
    item = table.get(keys.order_view_key(order_id))
    return None if item is None else _checked(_public(item), f"order {order_id}")


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
    return _readable([_public(item) for item in items]), last


def progress(table: ProjectionTable) -> dict[str, Any] | None:
    """How far this region's projections have got: see :func:`projections.stream`.

    A lag past Int's limit (about 25 days: a state directory started again after weeks)
    reads as the limit: the region is at least that far behind."""
    item = table.get(keys.progress_key())
    if item is not None and isinstance(item.get("lagMs"), int):
        item["lagMs"] = min(item["lagMs"], MAX_INT)
    return item


def _public(item: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in item.items() if name not in _KEY_ATTRIBUTES}


def _checked(view: dict[str, Any], name: str) -> dict[str, Any]:
    if not _fits(view):
        raise UnreadableView(f"{name} holds a number past GraphQL's Int ({MAX_INT})")
    return view


def _readable(views: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The views a client can be given; any other is left out and logged by id."""
    readable = []
    for view in views:
        if _fits(view):
            readable.append(view)
        else:
            logger.warning("left out %s: a number past GraphQL's Int", view.get("id"))
    return readable


def _fits(value: Any) -> bool:
    return all(MIN_INT <= number <= MAX_INT for number in _numbers(value))


def _numbers(value: Any) -> Iterator[int]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _numbers(item)
    elif isinstance(value, list):
        for item in value:
            yield from _numbers(item)
    elif isinstance(value, int) and not isinstance(value, bool):
        yield value
