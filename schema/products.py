"""Products: the catalogue, its stock, and its change feed."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from schema.aws import (
    AwsApiKey,
    AWSDateTime,
    AwsIam,
    AwsSubscribe,
    resolved_by_lambda,
    user_pools,
)


@strawberry.type(
    description="A product in the catalogue, as this region's projection holds it.",
    directives=[AwsApiKey(), user_pools(), AwsIam()],
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


@strawberry.type(description="One page of products.", directives=[AwsApiKey(), user_pools()])
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


@strawberry.input(description="A move of stock, in or out.")
class AdjustStockInput:
    id: strawberry.ID = strawberry.field(description="The product whose stock moves.")
    delta: int = strawberry.field(
        description="Units to add (positive) or remove (negative); stock never goes below 0."
    )


@strawberry.type
class ProductQuery:
    @strawberry.field(
        description="One product from this region's projection, or null if it does not exist.",
        directives=[AwsApiKey(), user_pools()],
    )
    def product(
        self,
        id: strawberry.ID,
        min_version: int | None = strawberry.UNSET,
    ) -> Product | None:
        resolved_by_lambda()

    @strawberry.field(
        description="Products, ordered by id, optionally in one category.",
        directives=[AwsApiKey(), user_pools()],
    )
    def products(
        self,
        category: str | None = strawberry.UNSET,
        first: int | None = strawberry.UNSET,
        after: str | None = strawberry.UNSET,
    ) -> ProductConnection:
        resolved_by_lambda()


@strawberry.type
class ProductMutation:
    @strawberry.mutation(
        description="Create a product. Errors: ValidationError, PrimaryUnavailable.",
        directives=[user_pools("staff")],
    )
    def create_product(self, input: CreateProductInput) -> Product | None:
        resolved_by_lambda()

    @strawberry.mutation(
        description="Change catalogue fields. Errors: ValidationError, NotFound, "
        "VersionConflict, PrimaryUnavailable.",
        directives=[user_pools("staff")],
    )
    def update_product(self, input: UpdateProductInput) -> Product | None:
        resolved_by_lambda()

    @strawberry.mutation(
        description="Move stock in or out. Errors: ValidationError, NotFound, "
        "InsufficientStock, PrimaryUnavailable.",
        directives=[user_pools("staff")],
    )
    def adjust_stock(self, input: AdjustStockInput) -> Product | None:
        resolved_by_lambda()

    @strawberry.mutation(
        description="Sent by the stream handler after a product's projection changed; "
        "returns its arguments. Subscribers hear of changes through it.",
        directives=[AwsIam()],
    )
    def publish_product_changed(
        self,
        id: strawberry.ID,
        sku: str,
        name: str,
        description: str,
        category: str,
        price_cents: int,
        currency: str,
        stock: int,
        version: int,
        updated_at: AWSDateTime,
    ) -> Product | None:
        resolved_by_lambda()


@strawberry.type
class ProductSubscription:
    @strawberry.subscription(
        description="Every change to products; narrowed by id or category when given.",
        directives=[
            AwsSubscribe(mutations=["publishProductChanged"]),
            AwsApiKey(),
            user_pools(),
        ],
    )
    async def on_product_changed(
        self,
        id: strawberry.ID | None = strawberry.UNSET,
        category: str | None = strawberry.UNSET,
    ) -> AsyncGenerator[Product | None, None]:
        resolved_by_lambda()
        yield None
