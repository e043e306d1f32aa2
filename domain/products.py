"""The product aggregate and its rules.

Write-table keys: state at ``PRODUCT#<id>`` / ``STATE``, events at
``PRODUCT#<id>`` / ``EVENT#<version>``; a product's SKU is claimed at ``SKU#<sku>`` /
``STATE`` so that no two products share one.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass, replace
from typing import Any

from domain.errors import InsufficientStock, ValidationError

MAX_NAME = 200
MAX_DESCRIPTION = 4000
MAX_CATEGORY = 100
# GraphQL's Int is 32-bit: a larger number could be stored but never read back.
MAX_PRICE_CENTS = 2**31 - 1
MAX_STOCK = 2**31 - 1
SKU_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
CURRENCY_PATTERN = re.compile(r"[A-Z]{3}")


@dataclass(frozen=True)
class Product:
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
        return {camel(key): value for key, value in asdict(self).items()}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Product:
        """Inverse of :meth:`to_data`."""
        return cls(**{key: data[camel(key)] for key in cls.__dataclass_fields__})


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
        name=_clean_name(name),
        description=_check_length("description", description, MAX_DESCRIPTION),
        category=_clean_category(category),
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
            checked["name"] = _clean_name(value)
        elif field == "description":
            checked["description"] = _check_length("description", value, MAX_DESCRIPTION)
        elif field == "category":
            checked["category"] = _clean_category(value)
        elif field == "price_cents":
            checked["price_cents"] = _check_price(value)
        elif field == "currency":
            checked["currency"] = _check_currency(value)
        else:
            raise ValidationError(f"{camel(field)} cannot be changed by updateProduct.")
    if not checked:
        raise ValidationError("updateProduct needs at least one field to change.")
    return replace(product, **checked, version=product.version + 1, updated_at=now)


def adjust_stock(product: Product, delta: int, now: str) -> Product:
    """Move stock by ``delta``; stock never goes below zero."""
    if _whole("delta", delta) == 0:
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
    return replace(product, stock=stock, version=product.version + 1, updated_at=now)


def _text(field: str, value: object) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{camel(field)} must be a string.")
    return value


def _whole(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{camel(field)} must be a whole number.")
    return value


def _clean_name(name: object) -> str:
    name = _text("name", name).strip()
    if not _visible(name):
        raise ValidationError("name must not be empty.")
    return _check_length("name", name, MAX_NAME)


def _clean_category(category: object) -> str:
    category = _text("category", category).strip()
    if not _visible(category):
        raise ValidationError("category must not be empty.")
    return _check_length("category", category, MAX_CATEGORY)


def _visible(text: str) -> bool:
    # strip() leaves zero-width and other format characters, which render as nothing.
    return any(unicodedata.category(char)[0] not in "CZ" for char in text)


def _check_length(field: str, value: object, limit: int) -> str:
    value = _text(field, value)
    if len(value) > limit:
        raise ValidationError(f"{field} must be at most {limit} characters.")
    return value


def _check_sku(sku: object) -> None:
    if not SKU_PATTERN.fullmatch(_text("sku", sku)):
        raise ValidationError(
            "sku must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit."
        )


def _check_price(price_cents: object) -> int:
    price_cents = _whole("price_cents", price_cents)
    if not 0 < price_cents <= MAX_PRICE_CENTS:
        raise ValidationError("priceCents must be greater than 0.")
    return price_cents


def _check_currency(currency: object) -> str:
    currency = _text("currency", currency)
    if not CURRENCY_PATTERN.fullmatch(currency):
        raise ValidationError("currency must be an ISO 4217 code such as USD or EUR.")
    return currency


def _check_stock(stock: object) -> None:
    count = _whole("stock", stock)
    if count < 0:
        raise ValidationError("stock must not be negative.")
    if count > MAX_STOCK:
        raise ValidationError(f"stock must be at most {MAX_STOCK}.")


def camel(name: str) -> str:
    """``price_cents`` -> ``priceCents``: the GraphQL (and stored) spelling."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
