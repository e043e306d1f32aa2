"""Resolvers for orders."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.appsync import Router

from domain import handlers, records
from domain.commands import CancelOrder, PlaceOrder, ShipOrder
from domain.errors import Unauthorized, ValidationError
from domain.orders import LineRequest, Order
from projections import readers
from resolvers.access import customer_sub, require_own, require_visible, visible
from resolvers.freshness import read_at_least
from resolvers.pages import connection, page_size
from resolvers.services import Services


def build_router(services: Services) -> Router:
    router = Router()

    @router.resolver(type_name="Query", field_name="order")
    async def order(id: str, minVersion: int | None = None) -> dict[str, Any] | None:
        def from_primary() -> dict[str, Any] | None:
            state = services.write_store.load(records.ORDER, id)
            return None if state is None else Order.from_data(state).to_data()

        # Another customer's order reads as a missing one, in both places, so waiting
        # for minVersion and its error say nothing of it either.
        return await read_at_least(
            minVersion,
            visible(router, lambda: readers.order(services.projections, id)),
            visible(router, from_primary),
            services.wait_until(router),
            offload=services.offload,
        )

    @router.resolver(type_name="Query", field_name="ordersByCustomer")
    def orders_by_customer(
        customerId: str,
        status: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> dict[str, Any]:
        require_own(router, customerId, "the orders")
        scope = f"ordersByCustomer:{customerId}:{status}"
        start = services.tokens.read(scope, after)
        items, last = readers.orders_by_customer(
            services.projections, customerId, status, page_size(first), start
        )
        return connection(services.tokens, scope, items, last)

    @router.resolver(type_name="Mutation", field_name="placeOrder")
    def place_order(input: dict[str, Any]) -> dict[str, Any]:
        require_own(router, input["customerId"], "the orders")
        lines = input["lines"]
        if not isinstance(lines, list):
            raise ValidationError("lines must be a list.")
        command = PlaceOrder(
            customer_id=input["customerId"],
            lines=tuple(LineRequest(line["productId"], line["quantity"]) for line in lines),
            idempotency_key=input["idempotencyKey"],
        )
        placed: Order = handlers.handle(command, services.command_deps(router))
        return placed.to_data()

    @router.resolver(type_name="Mutation", field_name="cancelOrder")
    def cancel_order(input: dict[str, Any]) -> dict[str, Any]:
        deps = services.command_deps(router)
        order_id = input["id"]
        require_visible(
            router,
            records.ORDER,
            order_id,
            lambda: services.write_store.load(records.ORDER, order_id),
        )
        command = CancelOrder(order_id, input["expectedVersion"], input.get("idempotencyKey"))
        cancelled: Order = handlers.handle(command, deps)
        return cancelled.to_data()

    @router.resolver(type_name="Mutation", field_name="shipOrder")
    def ship_order(input: dict[str, Any]) -> dict[str, Any]:
        command = ShipOrder(input["id"], input["expectedVersion"], input.get("idempotencyKey"))
        shipped: Order = handlers.handle(command, services.command_deps(router))
        return shipped.to_data()

    @router.resolver(type_name="Subscription", field_name="onOrderChanged")
    def on_order_changed(id: str | None = None, customerId: str | None = None) -> None:
        # Runs when a client subscribes: a customer hears only of their own orders.
        sub = customer_sub(router)
        if sub is None:
            return None
        if customerId is not None:
            require_own(router, customerId, "the orders")
        elif id is not None:
            require_visible(
                router, records.ORDER, id, lambda: services.write_store.load(records.ORDER, id)
            )
        else:
            raise Unauthorized("A customer subscribes to onOrderChanged with their customerId.")
        return None

    @router.resolver(type_name="Mutation", field_name="publishOrderChanged")
    def publish_order_changed(**order: Any) -> dict[str, Any]:
        # A NONE data source in AppSync: the arguments are the answer.
        return order

    return router
