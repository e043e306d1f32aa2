"""The composition root: settings in, a ready resolver app out.

The Lambda calls :func:`build_app` once per cold start; ``gateway dev`` calls it once per
emulated region, with that region's settings.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import AppSyncResolver

from domain.store import DynamoWriteStore
from projections.settings import Settings
from projections.table import ProjectionTable
from resolvers import customers, orders, products, region
from resolvers.services import Services
from resolvers.tokens import TokenSigner

FEATURES = (products, customers, orders, region)


def build_services(settings: Settings) -> Services:
    return Services(
        settings=settings,
        projections=ProjectionTable(settings.dynamodb(settings.region), settings.projection_table),
        write_store=DynamoWriteStore(
            settings.dynamodb(settings.primary_region), settings.write_table
        ),
        tokens=TokenSigner(settings.token_secret),
    )


def build_app(services: Services) -> AppSyncResolver:
    app = AppSyncResolver()
    for feature in FEATURES:
        app.include_router(feature.build_router(services))
    return app
