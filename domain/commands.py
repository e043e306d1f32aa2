"""Commands: what a caller asks the write side to do, in the imperative."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from domain.orders import LineRequest


@dataclass(frozen=True)
class CreateProduct:
    sku: str
    name: str
    description: str
    category: str
    price_cents: int
    currency: str
    stock: int


@dataclass(frozen=True)
class UpdateProduct:
    """Change catalogue fields; refused unless ``expected_version`` is current."""

    product_id: str
    expected_version: int
    changes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AdjustStock:
    product_id: str
    delta: int


@dataclass(frozen=True)
class RegisterCustomer:
    """Register a customer; ``customer_id`` is the caller's own id when they register
    themselves, or None to have one assigned."""

    email: str
    name: str
    customer_id: str | None = None


@dataclass(frozen=True)
class PlaceOrder:
    """Place an order; the same ``idempotency_key`` never places a second one."""

    customer_id: str
    lines: tuple[LineRequest, ...]
    idempotency_key: str


@dataclass(frozen=True)
class CancelOrder:
    order_id: str
    expected_version: int


@dataclass(frozen=True)
class ShipOrder:
    order_id: str
    expected_version: int


Command = (
    CreateProduct
    | UpdateProduct
    | AdjustStock
    | RegisterCustomer
    | PlaceOrder
    | CancelOrder
    | ShipOrder
)
