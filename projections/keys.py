"""The key design: every table, key template, index and key attribute, in one place.

Stdlib only: infra reads it to declare the tables, and the runtime reads it to use them.

Tables
------
* the write table (a global table; layout in :mod:`domain.records`, re-exported here);
* the projection table (regional): one item per view, keyed ``pk``/``sk``.

Projection items
----------------
* product view: ``pk = "PRODUCT#<id>"``, ``sk = "VIEW"``; listed through
  ``byCategory`` (``categoryKey = "CATEGORY#<category>"``, ``listKey = <id>``) and
  ``byKind`` (``kind = "PRODUCT"``, ``listKey = <id>``);
* customer view: ``pk = "CUSTOMER#<id>"``, ``sk = "VIEW"``, with its counters, its
  10 newest orders and their revision ``rev``;
* order view: ``pk = "ORDER#<id>"``, ``sk = "VIEW"``; listed newest first through
  ``byCustomer`` (``customerKey = "CUSTOMER#<id>"``, ``placedKey = "<placedAt>#<id>"``)
  and ``byCustomerStatus`` (``customerStatusKey = "CUSTOMER#<id>#STATUS#<status>"``);
* progress: ``pk = "META"``, ``sk = "PROGRESS"``, the region's projection lag;
* heartbeat seen: ``pk = "META"``, ``sk = "HEARTBEAT#<source region>"``, the newest
  heartbeat of that region this region's stream handler saw (``writtenAt``, ``seenAt``,
  ``ageMs``, and ``version``, its ``writtenAt`` in epoch ms).
"""

from __future__ import annotations

from domain.records import (  # noqa: F401  (re-exported: the write table's keys)
    EVENT_RECORD,
    EVENT_SORT_KEY_PREFIX,
    HEARTBEAT_RECORD,
    PARTITION_KEY,
    RECORD_KIND,
    SORT_KEY,
    WRITE_TABLE,
)

PROJECTION_TABLE = "gateway-projections"
VIEW_SORT_KEY = "VIEW"
PRODUCT_KIND = "PRODUCT"
CUSTOMER_KIND = "CUSTOMER"
ORDER_KIND = "ORDER"

CATEGORY_INDEX = "byCategory"
CATEGORY_KEY = "categoryKey"
KIND_INDEX = "byKind"
KIND_KEY = "kind"
LIST_KEY = "listKey"
CUSTOMER_ORDERS_INDEX = "byCustomer"
CUSTOMER_KEY = "customerKey"
CUSTOMER_STATUS_INDEX = "byCustomerStatus"
CUSTOMER_STATUS_KEY = "customerStatusKey"
PLACED_KEY = "placedKey"
# Bookkeeping on a customer view: its write counter, and where views written before
# 2026-12-04 kept one entry per order (removed on their next write).
REVISION = "rev"
OLD_ORDER_HISTORY = "orderVersions"
# The region's own bookkeeping (progress, heartbeats seen): never a view.
META_PARTITION = "META"

INDEXES = {
    CATEGORY_INDEX: (CATEGORY_KEY, LIST_KEY),
    KIND_INDEX: (KIND_KEY, LIST_KEY),
    CUSTOMER_ORDERS_INDEX: (CUSTOMER_KEY, PLACED_KEY),
    CUSTOMER_STATUS_INDEX: (CUSTOMER_STATUS_KEY, PLACED_KEY),
}


def _view_key(kind: str, view_id: str) -> dict[str, str]:
    return {PARTITION_KEY: f"{kind}#{view_id}", SORT_KEY: VIEW_SORT_KEY}


def product_view_key(product_id: str) -> dict[str, str]:
    return _view_key(PRODUCT_KIND, product_id)


def customer_view_key(customer_id: str) -> dict[str, str]:
    return _view_key(CUSTOMER_KIND, customer_id)


def order_view_key(order_id: str) -> dict[str, str]:
    return _view_key(ORDER_KIND, order_id)


def customer_orders_key(customer_id: str, status: str | None = None) -> str:
    """An order's place in its customer's listing; with a status, in that status's."""
    listing = customer_view_key(customer_id)[PARTITION_KEY]
    return listing if status is None else f"{listing}#STATUS#{status}"


def placed_key(placed_at: str, order_id: str) -> str:
    return f"{placed_at}#{order_id}"


def category_key(category: str) -> str:
    return f"CATEGORY#{category}"


def progress_key() -> dict[str, str]:
    return {PARTITION_KEY: META_PARTITION, SORT_KEY: "PROGRESS"}


def heartbeat_seen_key(source_region: str) -> dict[str, str]:
    return {PARTITION_KEY: META_PARTITION, SORT_KEY: f"HEARTBEAT#{source_region}"}
