"""The order aggregate and its life: PLACED, then SHIPPED or CANCELLED.

Write-table keys: state at ``ORDER#<id>`` / ``STATE``, events at ``ORDER#<id>`` /
``EVENT#<version>``; a placement's idempotency key is claimed at
``IDEMPOTENCY#<caller>#<key>`` / ``STATE`` (:mod:`domain.idempotency`) so that one key
never places two orders.

An order keeps each product's name and unit price, and the customer's name and
email, as they were when it was placed.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from domain import rules
from domain.customers import Customer
from domain.data import from_data, to_data
from domain.errors import InsufficientStock, InvalidTransition, ValidationError, VersionConflict
from domain.products import MAX_STOCK, Product, next_version

PLACED, SHIPPED, CANCELLED = "PLACED", "SHIPPED", "CANCELLED"
TRANSITIONS = {PLACED: {SHIPPED, CANCELLED}, SHIPPED: set(), CANCELLED: set()}
# One TransactWriteItems holds at most 100 items. A placement writes, for each line,
# the product and its event, plus the order, its event, the idempotency claim and the
# check of the control record's epoch.
MAX_TRANSACTION_ITEMS = 100
FIXED_ITEMS = 4
MAX_LINES = (MAX_TRANSACTION_ITEMS - FIXED_ITEMS) // 2
# An order's total is an Int, as is each line's; the total bounds the lines.
MAX_TOTAL_CENTS = rules.MAX_INT


class LineRequest(NamedTuple):
    product_id: str
    quantity: int


class OrderLine(NamedTuple):
    product_id: str
    product_name: str
    quantity: int
    unit_price_cents: int
    line_total_cents: int


class CustomerSummary(NamedTuple):
    id: str
    name: str
    email: str


class Order(NamedTuple):
    id: str
    customer_id: str
    customer: CustomerSummary
    lines: tuple[OrderLine, ...]
    total_cents: int
    currency: str
    status: str
    version: int
    placed_at: str
    updated_at: str

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = to_data(self)
        return data

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Order:
        return from_data(cls, data)


def check_lines(lines: object) -> tuple[LineRequest, ...]:
    """The shape rules an order's lines must meet before anything is read."""
    if not isinstance(lines, list | tuple) or not lines:
        raise ValidationError("An order needs at least one line.")
    if len(lines) > MAX_LINES:
        raise ValidationError(
            f"An order may have at most {MAX_LINES} lines (one transaction); this one has "
            f"{len(lines)}. Split it into several orders.",
            {"maxLines": MAX_LINES},
        )
    checked = []
    for line in lines:
        if not isinstance(line, LineRequest):
            raise ValidationError("Each line needs a productId and a quantity.")
        quantity = rules.whole("quantity", line.quantity)
        if quantity <= 0:
            raise ValidationError("quantity must be greater than 0.")
        checked.append(LineRequest(rules.text("product_id", line.product_id), quantity))
    product_ids = [line.product_id for line in checked]
    if len(set(product_ids)) != len(product_ids):
        raise ValidationError("Each product may appear in only one line of an order.")
    return tuple(checked)


def place(
    *,
    order_id: str,
    customer: Customer,
    lines: tuple[LineRequest, ...],
    products: dict[str, Product],
    now: str,
) -> tuple[Order, list[Product]]:
    """The new order and each product with its stock taken.

    Raises
    ------
    InsufficientStock
        A line asks for more than its product has; ``errorInfo`` names the product.
    ValidationError
        The products are priced in more than one currency, or the total passes
        :data:`MAX_TOTAL_CENTS`.
    """
    currencies = {products[line.product_id].currency for line in lines}
    if len(currencies) != 1:
        raise ValidationError("All products in one order must share a currency.")
    order_lines = []
    taken = []
    for line in lines:
        product = products[line.product_id]
        if product.stock < line.quantity:
            raise InsufficientStock(
                f"Product {product.id} has {product.stock} in stock; "
                f"the order asks for {line.quantity}.",
                {"productId": product.id, "stock": product.stock, "quantity": line.quantity},
            )
        order_lines.append(
            OrderLine(
                product_id=product.id,
                product_name=product.name,
                quantity=line.quantity,
                unit_price_cents=product.price_cents,
                line_total_cents=product.price_cents * line.quantity,
            )
        )
        taken.append(
            product._replace(
                stock=product.stock - line.quantity,
                version=next_version(product),
                updated_at=now,
            )
        )
    total_cents = sum(line.line_total_cents for line in order_lines)
    if total_cents > MAX_TOTAL_CENTS:
        raise ValidationError(
            f"This order comes to {total_cents} cents; an order may total at most "
            f"{MAX_TOTAL_CENTS} cents (GraphQL's Int). Split it into several orders.",
            {"maxTotalCents": MAX_TOTAL_CENTS},
        )
    order = Order(
        id=order_id,
        customer_id=customer.id,
        customer=CustomerSummary(customer.id, customer.name, customer.email),
        lines=tuple(order_lines),
        total_cents=total_cents,
        currency=currencies.pop(),
        status=PLACED,
        version=1,
        placed_at=now,
        updated_at=now,
    )
    return order, taken


def move(order: Order, status: str, expected_version: int, now: str) -> Order:
    """The order in its next status; only PLACED moves, to SHIPPED or CANCELLED."""
    if order.version != expected_version:
        raise VersionConflict(
            f"Order {order.id} is at version {order.version}, not {expected_version}; "
            "read it again and retry.",
            {"expectedVersion": expected_version, "currentVersion": order.version},
        )
    if status not in TRANSITIONS[order.status]:
        raise InvalidTransition(
            f"Order {order.id} is {order.status}; it cannot become {status}.",
            {"status": order.status, "requested": status},
        )
    if order.total_cents > MAX_TOTAL_CENTS:
        # Placed before totals were checked: its answer could not be returned, so the
        # change would be made while the client is told it failed.
        raise ValidationError(
            f"Order {order.id} totals {order.total_cents} cents, past the limit of "
            f"{MAX_TOTAL_CENTS}; it was placed before totals were checked and cannot "
            "change. Staff can return its stock with adjustStock.",
            {"id": order.id, "maxTotalCents": MAX_TOTAL_CENTS},
        )
    version = rules.next_version("order", order.id, order.version)
    return order._replace(status=status, version=version, updated_at=now)


def restock(product: Product, quantity: int, now: str) -> Product:
    """A product with a cancelled line's units back in stock.

    Raises
    ------
    ValidationError
        The stock would pass :data:`~domain.products.MAX_STOCK` (staff filled it up
        while the order was open); nothing is written.
    """
    stock = product.stock + quantity
    if stock > MAX_STOCK:
        raise ValidationError(
            f"Returning {quantity} of product {product.id} would take its stock from "
            f"{product.stock} past the limit of {MAX_STOCK}; lower its stock with "
            "adjustStock first.",
            {"productId": product.id, "stock": product.stock, "maxStock": MAX_STOCK},
        )
    return product._replace(stock=stock, version=next_version(product), updated_at=now)
