"""Resolvers for products: ``Type.field`` -> one function each, named after the field."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.appsync import Router

from domain import handlers, records
from domain.commands import AdjustStock, CreateProduct, UpdateProduct
from domain.errors import ValidationError
from domain.products import Product
from projections import readers
from resolvers.freshness import read_at_least
from resolvers.pages import connection, page_size
from resolvers.services import Services

_UPDATABLE = {
    "name": "name",
    "description": "description",
    "category": "category",
    "priceCents": "price_cents",
    "currency": "currency",
}


def build_router(services: Services) -> Router:
    """The product feature's resolvers, bound to one region's services."""
    router = Router()

    def deps() -> handlers.Dependencies:
        return services.command_deps(router)

    @router.resolver(type_name="Query", field_name="product")
    async def product(id: str, minVersion: int | None = None) -> dict[str, Any] | None:
        def from_primary() -> dict[str, Any] | None:
            state = services.write_store.load(records.PRODUCT, id)
            return None if state is None else Product.from_data(state).to_data()

        return await read_at_least(
            minVersion,
            lambda: readers.product(services.projections, id),
            from_primary,
            services.wait_until(router),
            offload=services.offload,
        )

    @router.resolver(type_name="Query", field_name="products")
    def products(
        category: str | None = None, first: int | None = None, after: str | None = None
    ) -> dict[str, Any]:
        scope = f"products:{category}"
        start = services.tokens.read(scope, after)
        items, last = readers.products(services.projections, category, page_size(first), start)
        return connection(services.tokens, scope, items, last)

    @router.resolver(type_name="Mutation", field_name="createProduct")
    def create_product(input: dict[str, Any]) -> dict[str, Any]:
        command = CreateProduct(
            sku=input["sku"],
            name=input["name"],
            description=input.get("description") or "",
            category=input["category"],
            price_cents=input["priceCents"],
            currency=input["currency"],
            stock=input["stock"],
            idempotency_key=input.get("idempotencyKey"),
        )
        return handlers.handle(command, deps()).to_data()

    @router.resolver(type_name="Mutation", field_name="updateProduct")
    def update_product(input: dict[str, Any]) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        for argument, field in _UPDATABLE.items():
            if argument not in input:
                continue
            if input[argument] is None:
                raise ValidationError(f"{argument} cannot be set to null; leave it out instead.")
            changes[field] = input[argument]
        command = UpdateProduct(
            input["id"], input["expectedVersion"], changes, input.get("idempotencyKey")
        )
        return handlers.handle(command, deps()).to_data()

    @router.resolver(type_name="Mutation", field_name="adjustStock")
    def adjust_stock(input: dict[str, Any]) -> dict[str, Any]:
        command = AdjustStock(input["id"], input["delta"], input.get("idempotencyKey"))
        return handlers.handle(command, deps()).to_data()

    @router.resolver(type_name="Subscription", field_name="onProductChanged")
    def on_product_changed(id: str | None = None, category: str | None = None) -> None:
        # Runs when a client subscribes; every caller allowed here may hear products.
        return None

    @router.resolver(type_name="Mutation", field_name="publishProductChanged")
    def publish_product_changed(**product: Any) -> dict[str, Any]:
        # A NONE data source in AppSync: the arguments are the answer, and the
        # subscriptions bound to this mutation carry them to clients.
        return product

    return router
