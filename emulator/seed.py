"""``gateway dev --seed``: a few products to look at, written through the real write path."""

from __future__ import annotations

from domain import handlers
from domain.commands import CreateProduct
from domain.errors import ValidationError
from domain.store import DynamoWriteStore
from projections.settings import Settings

SAMPLE_PRODUCTS = (
    CreateProduct(
        "LAMP-001", "Desk lamp", "Brass, with a linen shade.", "lighting", 4500, "EUR", 12
    ),
    CreateProduct("LAMP-002", "Floor lamp", "Walnut stand.", "lighting", 12900, "EUR", 3),
    CreateProduct("MUG-001", "Stoneware mug", "Glazed, 350 ml.", "kitchen", 1800, "EUR", 40),
    CreateProduct("KETTLE-001", "Stovetop kettle", "Enamel, 1.5 l.", "kitchen", 5400, "EUR", 0),
    CreateProduct("RUG-001", "Wool rug", "Hand-woven, 2 x 3 m.", "living", 32000, "EUR", 2),
)


def seed(primary: Settings) -> int:
    """Create the sample products that do not exist yet; return how many were created."""
    deps = handlers.Dependencies(
        store=DynamoWriteStore(primary.dynamodb(primary.region), primary.write_table),
        correlation_id="seed",
    )
    created = 0
    for command in SAMPLE_PRODUCTS:
        try:
            handlers.handle(command, deps)
        except ValidationError:
            continue  # the SKU is taken: seeded by an earlier run
        created += 1
    return created
