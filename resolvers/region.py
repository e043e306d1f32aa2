"""Resolver for ``Query.region``: which region answered, where writes go, how fresh it is."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.appsync import Router

from domain import records
from projections import readers
from resolvers.services import Services


def build_router(services: Services) -> Router:
    router = Router()

    @router.resolver(type_name="Query", field_name="region")
    def region() -> dict[str, Any]:
        progress = readers.progress(services.projections) or {}
        control = services.control.current()
        return {
            "name": services.settings.region,
            # As this region's writes see them, so an operator can watch a change land.
            "primary": control.primary_region,
            # READ_ONLY too while the breaker refuses writes to an unreachable primary.
            "mode": records.MODE_READ_ONLY
            if services.write_store.primary_unreachable()
            else control.mode,
            "projectionLagMs": progress.get("lagMs"),
            "lastProjectedAt": progress.get("projectedAt"),
        }

    return router
