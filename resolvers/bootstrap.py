"""The composition root: settings in, a ready resolver app out.

The Lambda calls :func:`build_app` once per cold start; ``gateway dev`` calls it once per
emulated region, with that region's settings.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import AppSyncResolver

from domain import records
from domain.control import Control, ControlRecord
from domain.primary_store import PrimaryWriteStore
from projections.settings import Settings
from projections.table import ProjectionTable
from resolvers import customers, orders, products, region
from resolvers.freshness import Offload, run_inline
from resolvers.secret_values import CachedSecret
from resolvers.services import Services
from resolvers.tokens import SecretKeys, SigningKeys, TokenSigner

FEATURES = (products, customers, orders, region)


def build_services(settings: Settings, offload: Offload[Any] = run_inline) -> Services:
    """One region's adapters; ``offload`` runs the async resolvers' blocking reads
    (``gateway dev`` passes the region's threads).

    The control record is read from THIS region's replica of the write table with the
    write path's one-attempt client, so a region whose own DynamoDB hangs answers a
    mutation within the write path's bounds instead of the read client's retries; that
    client also writes when this region is the primary. The peers' copies are read with
    their write clients too (see :mod:`domain.control`).
    """
    clients = {settings.region: settings.write_dynamodb(settings.region)}
    clients.update((peer, settings.write_dynamodb(peer)) for peer in settings.peer_regions)
    control = ControlRecord(
        clients[settings.region],
        settings.write_table,
        default=Control(settings.primary_region, records.MODE_ACTIVE, 0),
        ttl_s=settings.control_cache_ms / 1000,
        peers={peer: clients[peer] for peer in settings.peer_regions},
    )

    def write_client(region: str) -> Any:
        if region not in clients:
            clients[region] = settings.write_dynamodb(region)
        return clients[region]

    return Services(
        settings=settings,
        projections=ProjectionTable(settings.dynamodb(settings.region), settings.projection_table),
        write_store=PrimaryWriteStore(control, write_client, settings.write_table),
        tokens=TokenSigner(page_token_keys(settings)),
        control=control,
        offload=offload,
    )


def page_token_keys(settings: Settings) -> SigningKeys | str:
    """The page-token secret of this region, read on first use; or, when the settings
    name none (tests), the key they hold."""
    if settings.token_secret_id is None:
        return settings.token_secret
    secret = CachedSecret(
        settings.secretsmanager, settings.token_secret_id, settings.secret_cache_ms / 1000
    )
    return SecretKeys(secret)


def build_app(services: Services) -> AppSyncResolver:
    app = AppSyncResolver()
    for feature in FEATURES:
        app.include_router(feature.build_router(services))
    return app
