"""Builders: one handler per event, named after it; BUILDERS is their index.

Each write is conditional on the event's version, so a duplicate, a replay or a
late older record changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.events import Event, ProductCreated, ProductUpdated, StockAdjusted
from domain.products import Product
from projections import keys
from projections.table import ProjectionTable


def product_view(product: Product) -> dict[str, Any]:
    """The denormalized product item: the view plus its index keys."""
    return {
        **keys.product_view_key(product.id),
        **product.to_data(),
        keys.CATEGORY_KEY: keys.category_key(product.category),
        keys.KIND_KEY: keys.PRODUCT_KIND,
        keys.LIST_KEY: product.id,
    }


def product_created(event: ProductCreated, table: ProjectionTable) -> bool:
    return table.put_if_newer(product_view(event.product), event.product.version)


def product_updated(event: ProductUpdated, table: ProjectionTable) -> bool:
    # The event carries the whole product, so the view is replaced, not patched: a
    # patch applied out of order would lose the fields of the event it overtook.
    return table.put_if_newer(product_view(event.product), event.product.version)


def stock_adjusted(event: StockAdjusted, table: ProjectionTable) -> bool:
    return table.put_if_newer(product_view(event.product), event.product.version)


BUILDERS: dict[type[Any], Callable[[Any, ProjectionTable], bool]] = {
    ProductCreated: product_created,
    ProductUpdated: product_updated,
    StockAdjusted: stock_adjusted,
}


def apply(event: Event, table: ProjectionTable) -> bool:
    """Apply one event to the region's projections; True if a view changed."""
    return BUILDERS[type(event)](event, table)
