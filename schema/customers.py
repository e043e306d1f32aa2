"""Customers: who places orders, with their counters and recent orders."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from schema.arguments import INPUT, MIN_VERSION, OPTIONAL_IDEMPOTENCY_KEY
from schema.aws import (
    AWSDateTime,
    AWSEmail,
    customers_and_staff,
    resolved_by_lambda,
    user_pools,
)

if TYPE_CHECKING:
    from schema.orders import Order


@strawberry.type(
    description="A customer, as this region's projection holds it.",
    directives=[user_pools()],
)
class Customer:
    id: strawberry.ID = strawberry.field(description="The customer's id.")
    email: AWSEmail = strawberry.field(description="Unique email address.")
    name: str = strawberry.field(description="Display name.")
    version: int = strawberry.field(description="Counts changes to the customer's profile.")
    created_at: AWSDateTime = strawberry.field(description="When the customer registered.")
    order_count: int = strawberry.field(
        description="Orders placed, in any status (2147483647 at most, GraphQL's Int limit)."
    )
    lifetime_value_cents: int = strawberry.field(
        description="Total of the customer's orders that were not cancelled, in minor units; "
        "2147483647 (GraphQL's Int limit) when the total is larger.",
        deprecation_reason="Stops at 2147483647 cents; read fullLifetimeValueCents, which is "
        "exact at any size.",
    )
    full_lifetime_value_cents: str = strawberry.field(
        description="Total of the customer's orders that were not cancelled, in minor units, "
        'as a decimal string (such as "2500000000"): exact at any size, where an Int '
        "would stop at 2147483647. Parse it as a big integer or a decimal."
    )
    recent_orders: list[Annotated[Order, strawberry.lazy("schema.orders")]] = strawberry.field(
        description="The last 10 orders, newest first, with their lines."
    )


@strawberry.input(description="A new customer.")
class RegisterCustomerInput:
    email: AWSEmail = strawberry.field(description="Unique email address.")
    name: str = strawberry.field(description="Display name; must not be empty.")
    id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET,
        description="The id to register under (a customer registers as their own `sub`); "
        "assigned when left out.",
    )
    idempotency_key: str | None = strawberry.field(
        default=strawberry.UNSET, description=OPTIONAL_IDEMPOTENCY_KEY
    )


@strawberry.type
class CustomerQuery:
    @strawberry.field(
        description="One customer, or null. With minVersion, never an older profile.",
        directives=[customers_and_staff()],
    )
    def customer(
        self,
        id: Annotated[
            strawberry.ID,
            strawberry.argument(description="The customer's id; a customer reads only their own."),
        ],
        min_version: Annotated[int | None, MIN_VERSION] = strawberry.UNSET,
    ) -> Customer | None:
        resolved_by_lambda()


@strawberry.type
class CustomerMutation:
    @strawberry.mutation(
        description="Register a customer. Errors: ValidationError (bad or taken email, "
        "taken id, or the idempotencyKey used for other input), Unauthorized (a customer "
        "registering under another id, or a user in neither the customers nor the staff "
        "group), PrimaryUnavailable.",
        directives=[customers_and_staff()],
    )
    def register_customer(self, input: Annotated[RegisterCustomerInput, INPUT]) -> Customer | None:
        resolved_by_lambda()
