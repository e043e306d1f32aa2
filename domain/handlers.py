"""Command handlers: HANDLERS is the index of what the write side does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain import order_handlers, product_handlers
from domain.commands import (
    AdjustStock,
    CancelOrder,
    Command,
    CreateProduct,
    PlaceOrder,
    RegisterCustomer,
    ShipOrder,
    UpdateProduct,
)
from domain.customers import Customer
from domain.dependencies import Dependencies, new_id, utc_now
from domain.orders import Order
from domain.products import Product

__all__ = ["HANDLERS", "Dependencies", "handle", "new_id", "utc_now"]

HANDLERS: dict[type[Any], Callable[[Any, Dependencies], Any]] = {
    CreateProduct: product_handlers.create_product,
    UpdateProduct: product_handlers.update_product,
    AdjustStock: product_handlers.adjust_product_stock,
    RegisterCustomer: order_handlers.register_customer,
    PlaceOrder: order_handlers.place_order,
    CancelOrder: order_handlers.cancel_order,
    ShipOrder: order_handlers.ship_order,
}


def handle(command: Command, deps: Dependencies) -> Any:
    """Run the one handler for ``command``; it returns the aggregate as it now stands."""
    result: Product | Customer | Order = HANDLERS[type(command)](command, deps)
    return result
