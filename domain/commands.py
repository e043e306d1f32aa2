"""Commands: what a caller asks the write side to do, in the imperative.

Every command takes an ``idempotency_key`` (:mod:`domain.idempotency`): a retry with the
same key and the same fields answers with the first result and applies nothing again.
It is optional, except for PlaceOrder.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from domain.orders import LineRequest


class CreateProduct(NamedTuple):
    sku: str
    name: str
    description: str
    category: str
    price_cents: int
    currency: str
    stock: int
    idempotency_key: str | None = None


class UpdateProduct(NamedTuple):
    """Change catalogue fields; refused unless ``expected_version`` is current."""

    product_id: str
    expected_version: int
    changes: dict[str, Any]
    idempotency_key: str | None = None


class AdjustStock(NamedTuple):
    product_id: str
    delta: int
    idempotency_key: str | None = None


class RegisterCustomer(NamedTuple):
    """Register a customer; ``customer_id`` is the caller's own id when they register
    themselves, or None to have one assigned."""

    email: str
    name: str
    customer_id: str | None = None
    idempotency_key: str | None = None


class PlaceOrder(NamedTuple):
    """Place an order; the same ``idempotency_key`` never places a second one."""

    customer_id: str
    lines: tuple[LineRequest, ...]
    idempotency_key: str


class CancelOrder(NamedTuple):
    order_id: str
    expected_version: int
    idempotency_key: str | None = None


class ShipOrder(NamedTuple):
    order_id: str
    expected_version: int
    idempotency_key: str | None = None


Command = (
    CreateProduct
    | UpdateProduct
    | AdjustStock
    | RegisterCustomer
    | PlaceOrder
    | CancelOrder
    | ShipOrder
)
