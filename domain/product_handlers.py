"""Handlers for product commands.

Each takes an optional idempotency key (:mod:`domain.idempotency`): a repeat is refused
by what the first write changed, and then answered with the first result.
"""

from __future__ import annotations

from domain import idempotency, records
from domain.commands import AdjustStock, CreateProduct, UpdateProduct
from domain.creation import create_claiming
from domain.data import camel
from domain.dependencies import Dependencies
from domain.errors import NotFound, ValidationError, VersionConflict
from domain.events import ProductCreated, ProductUpdated, StockAdjusted
from domain.idempotency import Claim
from domain.products import Product, adjust_stock, new_product, revise
from domain.store import Change


def create_product(command: CreateProduct, deps: Dependencies) -> Product:
    claim = idempotency.claim_for(command, deps.caller)

    def attempt() -> Product:
        product = new_product(
            product_id=deps.ids(),
            sku=command.sku,
            name=command.name,
            description=command.description,
            category=command.category,
            price_cents=command.price_cents,
            currency=command.currency,
            stock=command.stock,
            now=deps.clock(),
        )
        create_claiming(
            records.PRODUCT,
            product,
            ProductCreated(product, deps.correlation_id),
            (records.SKU, product.sku),
            ValidationError(
                f"sku {product.sku} is already used by another product.", {"sku": product.sku}
            ),
            deps,
            idempotency.claims(claim, records.PRODUCT, product.id, product.version),
        )
        return product

    return idempotency.once(claim, deps, attempt)


def update_product(command: UpdateProduct, deps: Dependencies) -> Product:
    claim = idempotency.claim_for(command, deps.caller)

    def attempt() -> Product:
        current = load_product(command.product_id, deps)
        if current.version != command.expected_version:
            raise VersionConflict(
                f"Product {current.id} is at version {current.version}, "
                f"not {command.expected_version}; read it again and retry.",
                {"expectedVersion": command.expected_version, "currentVersion": current.version},
            )
        product = revise(current, command.changes, deps.clock())
        changed = tuple(sorted(camel(field) for field in command.changes))
        event = ProductUpdated(product, changed, deps.correlation_id)
        _commit(current, product, event, claim, deps)
        return product

    return idempotency.once(claim, deps, attempt)


def adjust_product_stock(command: AdjustStock, deps: Dependencies) -> Product:
    claim = idempotency.claim_for(command, deps.caller)

    # No expectedVersion here: a stock move commutes, so a lost race is retried with
    # the fresh version instead of being handed back to the caller.
    def attempt() -> Product:
        current = load_product(command.product_id, deps)
        product = adjust_stock(current, command.delta, deps.clock())
        event = StockAdjusted(product, command.delta, deps.correlation_id)
        _commit(current, product, event, claim, deps)
        return product

    return idempotency.once(claim, deps, lambda: deps.retry_lost_races(attempt, records.PRODUCT))


def load_product(product_id: str, deps: Dependencies) -> Product:
    state = deps.store.load(records.PRODUCT, product_id)
    if state is None:
        raise NotFound(f"Product {product_id} does not exist.", {"id": product_id})
    return Product.from_data(state)


def _commit(
    current: Product,
    product: Product,
    event: ProductUpdated | StockAdjusted,
    claim: Claim | None,
    deps: Dependencies,
) -> None:
    deps.store.commit(
        Change(
            kind=records.PRODUCT,
            aggregate_id=product.id,
            state=product.to_data(),
            expected_version=current.version,
            events=[event],
            claims=idempotency.claims(claim, records.PRODUCT, product.id, product.version),
        )
    )
