"""Resolvers for customers."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.appsync import Router

from domain import handlers, records
from domain.commands import RegisterCustomer
from domain.customers import Customer
from projections import readers
from resolvers.access import customer_sub, require_own
from resolvers.freshness import read_at_least
from resolvers.services import Services

NO_ORDERS: dict[str, Any] = {
    "orderCount": 0,
    "lifetimeValueCents": 0,
    "fullLifetimeValueCents": "0",
    "recentOrders": [],
}
COUNTERS = tuple(NO_ORDERS)


def build_router(services: Services) -> Router:
    router = Router()

    @router.resolver(type_name="Query", field_name="customer")
    async def customer(id: str, minVersion: int | None = None) -> dict[str, Any] | None:
        require_own(router, id, "the customer record")
        seen: dict[str, dict[str, Any] | None] = {}

        def from_here() -> dict[str, Any] | None:
            seen["view"] = readers.customer(services.projections, id)
            return seen["view"]

        def from_primary() -> dict[str, Any] | None:
            state = services.write_store.load(records.CUSTOMER, id)
            if state is None:
                return None
            # The primary holds the profile; the counters are this region's, the
            # freshest it has (a profile's version never moves with its orders).
            counters = seen.get("view") or NO_ORDERS
            return {
                **{name: counters[name] for name in COUNTERS},
                **Customer.from_data(state).to_data(),
            }

        return await read_at_least(
            minVersion,
            from_here,
            from_primary,
            services.wait_until(router),
            offload=services.offload,
        )

    @router.resolver(type_name="Mutation", field_name="registerCustomer")
    def register_customer(input: dict[str, Any]) -> dict[str, Any]:
        # A customer registers themselves: under their own sub, whatever they pass.
        customer_id = input.get("id") or customer_sub(router)
        if customer_id is not None:
            require_own(router, customer_id, "the registration")
        command = RegisterCustomer(
            email=input["email"],
            name=input["name"],
            customer_id=customer_id,
            idempotency_key=input.get("idempotencyKey"),
        )
        registered: Customer = handlers.handle(command, services.command_deps(router))
        return {**registered.to_data(), **NO_ORDERS}

    return router
