"""Products: the catalogue, its stock, and its change feed."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry

from schema.arguments import (
    AFTER,
    FIRST,
    INPUT,
    MIN_VERSION,
    OPTIONAL_IDEMPOTENCY_KEY,
    PUBLISHED,
)
from schema.aws import (
    AWSDateTime,
    AwsIam,
    AwsLambda,
    AwsSubscribe,
    resolved_by_lambda,
    user_pools,
)


@strawberry.type(
    description="A product in the catalogue, as this region's projection holds it.",
    directives=[AwsLambda(), user_pools(), AwsIam()],
)
class Product:
    id: strawberry.ID = strawberry.field(description="The product's id, assigned on creation.")
    sku: str = strawberry.field(description="Stock-keeping unit; unique, and fixed once created.")
    name: str = strawberry.field(description="Display name; never empty.")
    description: str = strawberry.field(description="Longer text for the product page.")
    category: str = strawberry.field(description="Category; `products(category:)` lists by it.")
    price_cents: int = strawberry.field(description="Unit price in the currency's minor unit.")
    currency: str = strawberry.field(description="ISO 4217 currency code, such as USD.")
    stock: int = strawberry.field(description="Units in stock; never negative.")
    version: int = strawberry.field(
        description="Counts the changes to this product; pass it as `expectedVersion` or "
        "`minVersion`."
    )
    updated_at: AWSDateTime = strawberry.field(description="When the last change was written.")


@strawberry.type(description="One page of products.", directives=[AwsLambda(), user_pools()])
class ProductConnection:
    items: list[Product] = strawberry.field(description="The products on this page.")
    next_token: str | None = strawberry.field(
        description="Pass as `after` for the next page; null on the last page."
    )


@strawberry.input(description="A new product.")
class CreateProductInput:
    sku: str = strawberry.field(description="Unique stock-keeping unit: letters, digits, . _ -")
    name: str = strawberry.field(description="Display name; must not be empty.")
    category: str = strawberry.field(description="Category; must not be empty.")
    price_cents: int = strawberry.field(description="Unit price in minor units; greater than 0.")
    currency: str = strawberry.field(description="ISO 4217 currency code, such as USD.")
    stock: int = strawberry.field(description="Units in stock; not negative.")
    description: str | None = strawberry.field(
        default=strawberry.UNSET, description="Longer text; empty when left out."
    )
    idempotency_key: str | None = strawberry.field(
        default=strawberry.UNSET, description=OPTIONAL_IDEMPOTENCY_KEY
    )


@strawberry.input(description="Changed catalogue fields of a product; left-out fields stay.")
class UpdateProductInput:
    id: strawberry.ID = strawberry.field(description="The product to change.")
    expected_version: int = strawberry.field(
        description="The version you read; a newer one gets VersionConflict."
    )
    name: str | None = strawberry.field(default=strawberry.UNSET, description="New name.")
    description: str | None = strawberry.field(
        default=strawberry.UNSET, description="New description."
    )
    category: str | None = strawberry.field(default=strawberry.UNSET, description="New category.")
    price_cents: int | None = strawberry.field(
        default=strawberry.UNSET, description="New unit price in minor units."
    )
    currency: str | None = strawberry.field(default=strawberry.UNSET, description="New currency.")
    idempotency_key: str | None = strawberry.field(
        default=strawberry.UNSET, description=OPTIONAL_IDEMPOTENCY_KEY
    )


@strawberry.input(description="A move of stock, in or out.")
class AdjustStockInput:
    id: strawberry.ID = strawberry.field(description="The product whose stock moves.")
    delta: int = strawberry.field(
        description="Units to add (positive) or remove (negative); stock never goes below 0."
    )
    idempotency_key: str | None = strawberry.field(
        default=strawberry.UNSET, description=OPTIONAL_IDEMPOTENCY_KEY
    )


@strawberry.type
class ProductQuery:
    @strawberry.field(
        description="One product from this region's projection, or null if it does not exist.",
        directives=[AwsLambda(), user_pools()],
    )
    def product(
        self,
        id: Annotated[strawberry.ID, strawberry.argument(description="The product's id.")],
        min_version: Annotated[int | None, MIN_VERSION] = strawberry.UNSET,
    ) -> Product | None:
        resolved_by_lambda()

    @strawberry.field(
        description="Products, ordered by id, optionally in one category.",
        directives=[AwsLambda(), user_pools()],
    )
    def products(
        self,
        category: Annotated[
            str | None, strawberry.argument(description="Only products in this category.")
        ] = strawberry.UNSET,
        first: Annotated[int | None, FIRST] = strawberry.UNSET,
        after: Annotated[str | None, AFTER] = strawberry.UNSET,
    ) -> ProductConnection:
        resolved_by_lambda()


@strawberry.type
class ProductMutation:
    @strawberry.mutation(
        description="Create a product. Errors: ValidationError (a rule broken, the sku "
        "taken, or the idempotencyKey used for other input), Unauthorized (not staff), "
        "PrimaryUnavailable.",
        directives=[user_pools("staff")],
    )
    def create_product(self, input: Annotated[CreateProductInput, INPUT]) -> Product | None:
        resolved_by_lambda()

    @strawberry.mutation(
        description="Change catalogue fields. Errors: ValidationError (a rule broken, such "
        "as a price past 2147483647, or the idempotencyKey used for other input), NotFound, "
        "VersionConflict (expectedVersion is not the current version), Unauthorized (not "
        "staff), PrimaryUnavailable.",
        directives=[user_pools("staff")],
    )
    def update_product(self, input: Annotated[UpdateProductInput, INPUT]) -> Product | None:
        resolved_by_lambda()

    @strawberry.mutation(
        description="Move stock in or out. Errors: ValidationError (a delta of 0, stock over "
        "the limit, or the idempotencyKey used for other input), NotFound, InsufficientStock, "
        "VersionConflict (too contended; retry), Unauthorized (not staff), PrimaryUnavailable.",
        directives=[user_pools("staff")],
    )
    def adjust_stock(self, input: Annotated[AdjustStockInput, INPUT]) -> Product | None:
        resolved_by_lambda()

    @strawberry.mutation(
        description="Sent by the stream handler after a product's projection changed; "
        "returns its arguments. Subscribers hear of changes through it. Errors: "
        "Unauthorized (not the stream handler's IAM role).",
        directives=[AwsIam()],
    )
    def publish_product_changed(
        self,
        id: Annotated[strawberry.ID, PUBLISHED],
        sku: Annotated[str, PUBLISHED],
        name: Annotated[str, PUBLISHED],
        description: Annotated[str, PUBLISHED],
        category: Annotated[str, PUBLISHED],
        price_cents: Annotated[int, PUBLISHED],
        currency: Annotated[str, PUBLISHED],
        stock: Annotated[int, PUBLISHED],
        version: Annotated[int, PUBLISHED],
        updated_at: Annotated[AWSDateTime, PUBLISHED],
    ) -> Product | None:
        resolved_by_lambda()


@strawberry.type
class ProductSubscription:
    @strawberry.subscription(
        description="Every change to products; narrowed by id or category when given.",
        directives=[
            AwsSubscribe(mutations=["publishProductChanged"]),
            AwsLambda(),
            user_pools(),
        ],
    )
    async def on_product_changed(
        self,
        id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this product.")
        ] = strawberry.UNSET,
        category: Annotated[
            str | None, strawberry.argument(description="Only products in this category.")
        ] = strawberry.UNSET,
    ) -> AsyncGenerator[Product | None, None]:
        resolved_by_lambda()
        yield None
