"""The product aggregate and its rules.

Write-table keys: state at ``PRODUCT#<id>`` / ``STATE``, events at
``PRODUCT#<id>`` / ``EVENT#<version>``; a product's SKU is claimed at ``SKU#<sku>`` /
``STATE`` so that no two products share one.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from domain import rules
from domain.data import camel, from_data, to_data
from domain.errors import InsufficientStock, ValidationError

MAX_NAME = 200
MAX_DESCRIPTION = 4000
MAX_CATEGORY = 100
MAX_PRICE_CENTS = rules.MAX_INT
MAX_STOCK = rules.MAX_INT
SKU_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
CURRENCY_PATTERN = re.compile(r"[A-Z]{3}")


class Product(NamedTuple):
    """A product's current state; ``version`` counts the events applied to it."""

    id: str
    sku: str
    name: str
    description: str
    category: str
    price_cents: int
    currency: str
    stock: int
    version: int
    created_at: str
    updated_at: str

    def to_data(self) -> dict[str, Any]:
        """The GraphQL-shaped (camelCase) form stored in items and events."""
        data: dict[str, Any] = to_data(self)
        return data

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Product:
        """Inverse of :meth:`to_data`."""
        return from_data(cls, data)


def new_product(
    *,
    product_id: str,
    sku: str,
    name: str,
    description: str,
    category: str,
    price_cents: int,
    currency: str,
    stock: int,
    now: str,
) -> Product:
    """Check every rule for a new product and build its first version."""
    _check_sku(sku)
    _check_stock(stock)
    product = Product(
        id=product_id,
        sku=sku,
        name=rules.visible_text("name", name, MAX_NAME),
        description=rules.bounded_text("description", description, MAX_DESCRIPTION),
        category=rules.visible_text("category", category, MAX_CATEGORY),
        price_cents=_check_price(price_cents),
        currency=_check_currency(currency),
        stock=stock,
        version=1,
        created_at=now,
        updated_at=now,
    )
    return product


def revise(product: Product, changes: dict[str, Any], now: str) -> Product:
    """Apply the changed catalogue fields; stock and SKU have their own paths."""
    checked: dict[str, Any] = {}
    for field, value in changes.items():
        if field == "name":
            checked["name"] = rules.visible_text("name", value, MAX_NAME)
        elif field == "description":
            checked["description"] = rules.bounded_text("description", value, MAX_DESCRIPTION)
        elif field == "category":
            checked["category"] = rules.visible_text("category", value, MAX_CATEGORY)
        elif field == "price_cents":
            checked["price_cents"] = _check_price(value)
        elif field == "currency":
            checked["currency"] = _check_currency(value)
        else:
            raise ValidationError(f"{camel(field)} cannot be changed by updateProduct.")
    if not checked:
        raise ValidationError("updateProduct needs at least one field to change.")
    return product._replace(**checked, version=next_version(product), updated_at=now)


def adjust_stock(product: Product, delta: int, now: str) -> Product:
    """Move stock by ``delta``; stock never goes below zero."""
    if rules.whole("delta", delta) == 0:
        raise ValidationError("delta must not be 0.")
    if product.stock + delta < 0:
        raise InsufficientStock(
            f"Product {product.id} has {product.stock} in stock; cannot remove {-delta}.",
            {"productId": product.id, "stock": product.stock, "delta": delta},
        )
    stock = product.stock + delta
    if stock > MAX_STOCK:
        raise ValidationError(
            f"Product {product.id} has {product.stock} in stock; adding {delta} would pass "
            f"the limit of {MAX_STOCK}.",
            {"productId": product.id, "stock": product.stock, "delta": delta},
        )
    return product._replace(stock=stock, version=next_version(product), updated_at=now)


def next_version(product: Product) -> int:
    """The product's next version, refused where GraphQL's Int ends."""
    return rules.next_version("product", product.id, product.version)


def _check_sku(sku: object) -> None:
    if not SKU_PATTERN.fullmatch(rules.text("sku", sku)):
        raise ValidationError(
            "sku must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit."
        )


def _check_price(price_cents: object) -> int:
    price_cents = rules.whole("price_cents", price_cents)
    if price_cents <= 0:
        raise ValidationError("priceCents must be greater than 0.")
    if price_cents > MAX_PRICE_CENTS:
        raise ValidationError(
            f"priceCents must be at most {MAX_PRICE_CENTS}.", {"maxPriceCents": MAX_PRICE_CENTS}
        )
    return price_cents


def _check_currency(currency: object) -> str:
    currency = rules.text("currency", currency)
    if not CURRENCY_PATTERN.fullmatch(currency):
        raise ValidationError("currency must be an ISO 4217 code such as USD or EUR.")
    return currency


def _check_stock(stock: object) -> None:
    count = rules.whole("stock", stock)
    if count < 0:
        raise ValidationError("stock must not be negative.")
    if count > MAX_STOCK:
        raise ValidationError(f"stock must be at most {MAX_STOCK}.")
