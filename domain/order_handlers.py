"""Handlers for customer and order commands.

A placement or a cancellation is one transaction over the order and every product it
touches. Products are changed conditional on the version read, so a lost race is
retried with fresh stock, and the loser of the last units gets InsufficientStock.
Each command takes an idempotency key (:mod:`domain.idempotency`; a placement must).
"""

from __future__ import annotations

from typing import Any

from domain import idempotency, orders, records
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
from domain.store import Change


def register_customer(command: RegisterCustomer, deps: Dependencies) -> Customer:
    claim = idempotency.claim_for(command, deps.caller)

    def attempt() -> Customer:
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
                idempotency.claims(claim, records.CUSTOMER, customer.id, customer.version),
            )
        except VersionConflict as conflict:
            raise ValidationError(
                f"Customer {customer.id} is already registered.", {"id": customer.id}
            ) from conflict
        return customer

    return idempotency.once(claim, deps, attempt)


def place_order(command: PlaceOrder, deps: Dependencies) -> Order:
    lines = orders.check_lines(command.lines)
    if command.idempotency_key is None:
        raise ValidationError("placeOrder needs an idempotencyKey.")
    claim = idempotency.claim_for(command, deps.caller)

    def attempt() -> Order:
        # The customer and every product, in one consistent read.
        customer_key = (records.CUSTOMER, command.customer_id)
        product_keys = [(records.PRODUCT, line.product_id) for line in lines]
        states = deps.store.load_many([customer_key, *product_keys])
        customer = Customer.from_data(_found(customer_key, states))
        products = {key[1]: Product.from_data(_found(key, states)) for key in product_keys}
        order, taken = orders.place(
            order_id=deps.ids(),
            customer=customer,
            lines=lines,
            products=products,
            now=deps.clock(),
        )
        quantities = {line.product_id: line.quantity for line in lines}
        changes = [
            Change(
                kind=records.ORDER,
                aggregate_id=order.id,
                state=order.to_data(),
                expected_version=0,
                events=[OrderPlaced(order, deps.correlation_id)],
                claims=idempotency.claims(claim, records.ORDER, order.id, order.version),
            ),
            *(
                _product_change(
                    product,
                    StockReserved(product, order.id, quantities[product.id], deps.correlation_id),
                )
                for product in taken
            ),
        ]
        # A twin request with the same key that got in first is refused on the claim,
        # and answered with the twin's order.
        deps.store.commit(*changes)
        return order

    return idempotency.once(claim, deps, lambda: deps.retry_lost_races(attempt, records.PRODUCT))


def cancel_order(command: CancelOrder, deps: Dependencies) -> Order:
    claim = idempotency.claim_for(command, deps.caller)

    def attempt() -> Order:
        order = Order.from_data(_load(records.ORDER, command.order_id, deps))
        cancelled = orders.move(order, orders.CANCELLED, command.expected_version, deps.clock())
        products = _load_products([line.product_id for line in order.lines], deps)
        event = OrderCancelled(cancelled, deps.correlation_id)
        changes = [_order_change(order, cancelled, event, claim)]
        for line in order.lines:
            product = orders.restock(products[line.product_id], line.quantity, cancelled.updated_at)
            released = StockReleased(product, order.id, line.quantity, deps.correlation_id)
            changes.append(_product_change(product, released))
        deps.store.commit(*changes)
        return cancelled

    return idempotency.once(claim, deps, lambda: deps.retry_lost_races(attempt, records.PRODUCT))


def ship_order(command: ShipOrder, deps: Dependencies) -> Order:
    claim = idempotency.claim_for(command, deps.caller)

    def attempt() -> Order:
        order = Order.from_data(_load(records.ORDER, command.order_id, deps))
        shipped = orders.move(order, orders.SHIPPED, command.expected_version, deps.clock())
        event = OrderShipped(shipped, deps.correlation_id)
        deps.store.commit(_order_change(order, shipped, event, claim))
        return shipped

    return idempotency.once(claim, deps, attempt)


def _load(kind: str, aggregate_id: str, deps: Dependencies) -> dict[str, Any]:
    state = deps.store.load(kind, aggregate_id)
    if state is None:
        raise NotFound(f"{kind.title()} {aggregate_id} does not exist.", {"id": aggregate_id})
    return state


def _load_products(product_ids: list[str], deps: Dependencies) -> dict[str, Product]:
    keys = [(records.PRODUCT, product_id) for product_id in product_ids]
    states = deps.store.load_many(keys)
    return {key[1]: Product.from_data(_found(key, states)) for key in keys}


def _found(key: tuple[str, str], states: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    kind, aggregate_id = key
    if key not in states:
        raise NotFound(f"{kind.title()} {aggregate_id} does not exist.", {"id": aggregate_id})
    return states[key]


def _order_change(
    before: Order,
    after: Order,
    event: OrderShipped | OrderCancelled,
    claim: idempotency.Claim | None,
) -> Change:
    claims = idempotency.claims(claim, records.ORDER, after.id, after.version)
    return Change(records.ORDER, after.id, after.to_data(), before.version, [event], claims)


def _product_change(product: Product, event: StockReserved | StockReleased) -> Change:
    return Change(records.PRODUCT, product.id, product.to_data(), product.version - 1, [event])
