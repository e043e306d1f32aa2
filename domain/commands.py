"""Commands: what a caller asks the write side to do, in the imperative."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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


Command = CreateProduct | UpdateProduct | AdjustStock
