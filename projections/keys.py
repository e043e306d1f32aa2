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
* progress: ``pk = "META"``, ``sk = "PROGRESS"``, the region's projection lag.
"""

from __future__ import annotations

from domain.records import (  # noqa: F401  (re-exported: the write table's keys)
    EVENT_SORT_KEY_PREFIX,
    PARTITION_KEY,
    RECORD_KIND,
    SORT_KEY,
    WRITE_TABLE,
)

PROJECTION_TABLE = "gateway-projections"
VIEW_SORT_KEY = "VIEW"
PRODUCT_KIND = "PRODUCT"

CATEGORY_INDEX = "byCategory"
CATEGORY_KEY = "categoryKey"
KIND_INDEX = "byKind"
KIND_KEY = "kind"
LIST_KEY = "listKey"

INDEXES = {
    CATEGORY_INDEX: (CATEGORY_KEY, LIST_KEY),
    KIND_INDEX: (KIND_KEY, LIST_KEY),
}


def product_view_key(product_id: str) -> dict[str, str]:
    return {PARTITION_KEY: f"{PRODUCT_KIND}#{product_id}", SORT_KEY: VIEW_SORT_KEY}


def category_key(category: str) -> str:
    return f"CATEGORY#{category}"


def progress_key() -> dict[str, str]:
    return {PARTITION_KEY: "META", SORT_KEY: "PROGRESS"}
