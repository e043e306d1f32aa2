"""Orders: placed against limited stock, then shipped or cancelled."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from enum import Enum
from typing import Annotated

import strawberry

from schema.arguments import (
    AFTER,
    FIRST,
    IDEMPOTENCY_KEY,
    INPUT,
    MIN_VERSION,
    OPTIONAL_IDEMPOTENCY_KEY,
    PUBLISHED,
)
from schema.aws import (
    AWSDateTime,
    AwsIam,
    AwsSubscribe,
    customers_and_staff,
    resolved_by_lambda,
    user_pools,
)


@strawberry.enum(description="Where an order is in its life.")
class OrderStatus(Enum):
    PLACED = strawberry.enum_value("PLACED", description="Stock is taken; not yet shipped.")
    SHIPPED = strawberry.enum_value("SHIPPED", description="Sent; final.")
    CANCELLED = strawberry.enum_value("CANCELLED", description="Stock returned; final.")


@strawberry.type(
    description="The customer as they were when the order was placed.",
    directives=[user_pools(), AwsIam()],
)
class OrderCustomer:
    id: strawberry.ID = strawberry.field(description="The customer's id.")
    name: str = strawberry.field(description="The customer's name.")
    email: str = strawberry.field(description="The customer's email address.")


@strawberry.type(
    description="One product in an order, at its name and price when placed.",
    directives=[user_pools(), AwsIam()],
)
class OrderLine:
    product_id: strawberry.ID = strawberry.field(description="The product ordered.")
    product_name: str = strawberry.field(description="Its name when the order was placed.")
    quantity: int = strawberry.field(description="Units ordered; greater than 0.")
    unit_price_cents: int = strawberry.field(description="Its price when placed.")
    line_total_cents: int = strawberry.field(description="quantity x unitPriceCents.")


@strawberry.type(description="An order.", directives=[user_pools(), AwsIam()])
class Order:
    id: strawberry.ID = strawberry.field(description="The order's id.")
    customer_id: strawberry.ID = strawberry.field(description="Who placed it.")
    customer: OrderCustomer = strawberry.field(description="Who placed it, by name.")
    lines: list[OrderLine] = strawberry.field(description="What was ordered.")
    total_cents: int = strawberry.field(description="The sum of the line totals.")
    currency: str = strawberry.field(description="ISO 4217 code shared by every line.")
    status: OrderStatus = strawberry.field(description="PLACED, SHIPPED or CANCELLED.")
    version: int = strawberry.field(description="Counts changes; pass as expectedVersion.")
    placed_at: AWSDateTime = strawberry.field(description="When it was placed.")
    updated_at: AWSDateTime = strawberry.field(description="When it last changed.")


@strawberry.type(description="One page of orders, newest first.", directives=[user_pools()])
class OrderConnection:
    items: list[Order] = strawberry.field(description="The orders on this page.")
    next_token: str | None = strawberry.field(
        description="Pass as `after` for the next page; null on the last page."
    )


@strawberry.input(description="One product and how many of it.")
class OrderLineInput:
    product_id: strawberry.ID = strawberry.field(description="The product; once per order.")
    quantity: int = strawberry.field(description="Units; greater than 0.")


@strawberry.input(description="A new order.")
class PlaceOrderInput:
    customer_id: strawberry.ID = strawberry.field(description="Who orders.")
    lines: list[OrderLineInput] = strawberry.field(
        description="1 to 48 lines (what one transaction holds), each product once."
    )
    idempotency_key: str = strawberry.field(
        description="Required: an order must never be placed twice. " + IDEMPOTENCY_KEY
    )


@strawberry.input(description="An order to cancel; its stock goes back.")
class CancelOrderInput:
    id: strawberry.ID = strawberry.field(description="The order.")
    expected_version: int = strawberry.field(description="The version you read.")
    idempotency_key: str | None = strawberry.field(
        default=strawberry.UNSET, description=OPTIONAL_IDEMPOTENCY_KEY
    )


@strawberry.input(description="An order to ship.")
class ShipOrderInput:
    id: strawberry.ID = strawberry.field(description="The order.")
    expected_version: int = strawberry.field(description="The version you read.")
    idempotency_key: str | None = strawberry.field(
        default=strawberry.UNSET, description=OPTIONAL_IDEMPOTENCY_KEY
    )


@strawberry.input(description="An order's customer, as the stream handler publishes it.")
class PublishedOrderCustomerInput:
    id: strawberry.ID = strawberry.field(description="The customer's id.")
    name: str = strawberry.field(description="The customer's name.")
    email: str = strawberry.field(description="The customer's email address.")


@strawberry.input(description="An order line, as the stream handler publishes it.")
class PublishedOrderLineInput:
    product_id: strawberry.ID = strawberry.field(description="The product ordered.")
    product_name: str = strawberry.field(description="Its name when the order was placed.")
    quantity: int = strawberry.field(description="Units ordered.")
    unit_price_cents: int = strawberry.field(description="Its price when placed.")
    line_total_cents: int = strawberry.field(description="quantity x unitPriceCents.")


@strawberry.type
class OrderQuery:
    @strawberry.field(
        description="One order, or null. With minVersion, never an older version.",
        directives=[customers_and_staff()],
    )
    def order(
        self,
        id: Annotated[
            strawberry.ID,
            strawberry.argument(
                description="The order's id. To a customer, another customer's order is null, "
                "as a missing one is."
            ),
        ],
        min_version: Annotated[int | None, MIN_VERSION] = strawberry.UNSET,
    ) -> Order | None:
        resolved_by_lambda()

    @strawberry.field(
        description="A customer's orders, newest first, optionally in one status.",
        directives=[customers_and_staff()],
    )
    def orders_by_customer(
        self,
        customer_id: Annotated[
            strawberry.ID,
            strawberry.argument(description="Whose orders; a customer reads only their own."),
        ],
        status: Annotated[
            OrderStatus | None, strawberry.argument(description="Only orders in this status.")
        ] = strawberry.UNSET,
        first: Annotated[int | None, FIRST] = strawberry.UNSET,
        after: Annotated[str | None, AFTER] = strawberry.UNSET,
    ) -> OrderConnection:
        resolved_by_lambda()


@strawberry.type
class OrderMutation:
    @strawberry.mutation(
        description="Place an order, taking stock. Errors: ValidationError (bad lines, mixed "
        "currencies, a total past 2147483647 cents, or the idempotencyKey used for other "
        "input), NotFound (the customer or a product), InsufficientStock, VersionConflict "
        "(too contended; retry), Unauthorized (for another customer, or not in the customers "
        "or staff group), PrimaryUnavailable.",
        directives=[customers_and_staff()],
    )
    def place_order(self, input: Annotated[PlaceOrderInput, INPUT]) -> Order | None:
        resolved_by_lambda()

    @strawberry.mutation(
        description="Cancel a PLACED order and restock. Errors: ValidationError (the stock "
        "returned, or a total placed before totals were checked, past the limit; or the "
        "idempotencyKey used for other input), NotFound (no such order; to a customer, "
        "another customer's order too), VersionConflict, InvalidTransition (not PLACED), "
        "Unauthorized (not in the customers or staff group), "
        "PrimaryUnavailable.",
        directives=[customers_and_staff()],
    )
    def cancel_order(self, input: Annotated[CancelOrderInput, INPUT]) -> Order | None:
        resolved_by_lambda()

    @strawberry.mutation(
        description="Ship a PLACED order. Errors: ValidationError (a total past the limit, "
        "placed before totals were checked; or the idempotencyKey used for other input), "
        "NotFound, VersionConflict, InvalidTransition (not PLACED), Unauthorized (not staff), "
        "PrimaryUnavailable.",
        directives=[user_pools("staff")],
    )
    def ship_order(self, input: Annotated[ShipOrderInput, INPUT]) -> Order | None:
        resolved_by_lambda()

    @strawberry.mutation(
        description="Sent by the stream handler after an order's projection changed; "
        "returns its arguments. Subscribers hear of orders through it. Errors: "
        "Unauthorized (not the stream handler's IAM role).",
        directives=[AwsIam()],
    )
    def publish_order_changed(
        self,
        id: Annotated[strawberry.ID, PUBLISHED],
        customer_id: Annotated[strawberry.ID, PUBLISHED],
        customer: Annotated[PublishedOrderCustomerInput, PUBLISHED],
        lines: Annotated[list[PublishedOrderLineInput], PUBLISHED],
        total_cents: Annotated[int, PUBLISHED],
        currency: Annotated[str, PUBLISHED],
        status: Annotated[OrderStatus, PUBLISHED],
        version: Annotated[int, PUBLISHED],
        placed_at: Annotated[AWSDateTime, PUBLISHED],
        updated_at: Annotated[AWSDateTime, PUBLISHED],
    ) -> Order | None:
        resolved_by_lambda()


@strawberry.type
class OrderSubscription:
    @strawberry.subscription(
        description="Changes to orders; narrowed by order id or customer id when given.",
        directives=[
            AwsSubscribe(mutations=["publishOrderChanged"]),
            customers_and_staff(),
        ],
    )
    async def on_order_changed(
        self,
        id: Annotated[
            strawberry.ID | None,
            strawberry.argument(
                description="Only this order; a customer's subscription to an order that is "
                "not theirs gets NotFound, as one to a missing order does."
            ),
        ] = strawberry.UNSET,
        customer_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(
                description="Only this customer's orders; a customer must pass their own id."
            ),
        ] = strawberry.UNSET,
    ) -> AsyncGenerator[Order | None, None]:
        resolved_by_lambda()
        yield None
