"""Handlers for customer and order commands.

A placement or a cancellation is one transaction over the order and every product it
touches. Products are changed conditional on the version read, so a lost race is
retried with fresh stock, and the loser of the last units gets InsufficientStock.
"""

from __future__ import annotations

from typing import Any

from domain import orders, records
from domain.commands import CancelOrder, PlaceOrder, RegisterCustomer, ShipOrder
from domain.creation import create_claiming
from domain.customers import Customer, new_customer
from domain.dependencies import Dependencies
from domain.errors import NotFound, ValidationError, VersionConflict
from domain.events import (
    CustomerRegistered,
    OrderCancelled,
    OrderPlaced,
    OrderShipped,
    StockReleased,
    StockReserved,
)
from domain.orders import Order
from domain.products import Product
from domain.store import Change, ClaimTaken


def register_customer(command: RegisterCustomer, deps: Dependencies) -> Customer:
    customer = new_customer(
        customer_id=deps.ids() if command.customer_id is None else command.customer_id,
        email=command.email,
        name=command.name,
        now=deps.clock(),
    )
    try:
        create_claiming(
            records.CUSTOMER,
            customer,
            CustomerRegistered(customer, deps.correlation_id),
            (records.EMAIL, customer.email.lower()),
            ValidationError(
                f"email {customer.email} is already registered.", {"email": customer.email}
            ),
            deps,
        )
    except VersionConflict as conflict:
        raise ValidationError(
            f"Customer {customer.id} is already registered.", {"id": customer.id}
        ) from conflict
    return customer


def place_order(command: PlaceOrder, deps: Dependencies) -> Order:
    lines = orders.check_lines(command.lines)
    key = orders.check_idempotency_key(command.idempotency_key)
    claim_id = f"{command.customer_id}#{key}"
    request = orders.fingerprint(command.customer_id, lines)

    def attempt() -> Order:
        earlier = _replay(claim_id, request, deps)
        if earlier is not None:
            return earlier
        customer = Customer.from_data(_load(records.CUSTOMER, command.customer_id, deps))
        products = _load_products([line.product_id for line in lines], deps)
        order, taken = orders.place(
            order_id=deps.ids(),
            customer=customer,
            lines=lines,
            products=products,
            now=deps.clock(),
        )
        claim = {
            **records.state_key(records.IDEMPOTENCY, claim_id),
            "orderId": order.id,
            "fingerprint": request,
        }
        quantities = {line.product_id: line.quantity for line in lines}
        changes = [
            Change(
                kind=records.ORDER,
                aggregate_id=order.id,
                state=order.to_data(),
                expected_version=0,
                events=[OrderPlaced(order, deps.correlation_id)],
                claims=[claim],
            ),
            *(
                _product_change(
                    product,
                    StockReserved(product, order.id, quantities[product.id], deps.correlation_id),
                )
                for product in taken
            ),
        ]
        try:
            deps.store.commit(*changes)
        except ClaimTaken:
            # A replay with the same key won the race: answer with its order.
            replayed = _replay(claim_id, request, deps)
            if replayed is None:
                raise
            return replayed
        return order

    return deps.retry_lost_races(attempt, records.PRODUCT)


def cancel_order(command: CancelOrder, deps: Dependencies) -> Order:
    def attempt() -> Order:
        order = Order.from_data(_load(records.ORDER, command.order_id, deps))
        cancelled = orders.move(order, orders.CANCELLED, command.expected_version, deps.clock())
        products = _load_products([line.product_id for line in order.lines], deps)
        changes = [_order_change(order, cancelled, OrderCancelled(cancelled, deps.correlation_id))]
        for line in order.lines:
            product = orders.restock(products[line.product_id], line.quantity, cancelled.updated_at)
            released = StockReleased(product, order.id, line.quantity, deps.correlation_id)
            changes.append(_product_change(product, released))
        deps.store.commit(*changes)
        return cancelled

    return deps.retry_lost_races(attempt, records.PRODUCT)


def ship_order(command: ShipOrder, deps: Dependencies) -> Order:
    order = Order.from_data(_load(records.ORDER, command.order_id, deps))
    shipped = orders.move(order, orders.SHIPPED, command.expected_version, deps.clock())
    deps.store.commit(_order_change(order, shipped, OrderShipped(shipped, deps.correlation_id)))
    return shipped


def _replay(claim_id: str, request: str, deps: Dependencies) -> Order | None:
    """The order an earlier placement with this key made, if there was one."""
    claim = deps.store.load(records.IDEMPOTENCY, claim_id)
    if claim is None:
        return None
    if claim["fingerprint"] != request:
        raise ValidationError(
            "This idempotencyKey was already used for a different order; use a new key.",
            {"orderId": claim["orderId"]},
        )
    return Order.from_data(_load(records.ORDER, claim["orderId"], deps))


def _load(kind: str, aggregate_id: str, deps: Dependencies) -> dict[str, Any]:
    state = deps.store.load(kind, aggregate_id)
    if state is None:
        raise NotFound(f"{kind.title()} {aggregate_id} does not exist.", {"id": aggregate_id})
    return state


def _load_products(product_ids: list[str], deps: Dependencies) -> dict[str, Product]:
    states = deps.store.load_many(records.PRODUCT, product_ids)
    for product_id in product_ids:
        if product_id not in states:
            raise NotFound(f"Product {product_id} does not exist.", {"id": product_id})
    return {product_id: Product.from_data(state) for product_id, state in states.items()}


def _order_change(before: Order, after: Order, event: OrderShipped | OrderCancelled) -> Change:
    return Change(records.ORDER, after.id, after.to_data(), before.version, [event])


def _product_change(product: Product, event: StockReserved | StockReleased) -> Change:
    return Change(records.PRODUCT, product.id, product.to_data(), product.version - 1, [event])
