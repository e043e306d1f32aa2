"""Resolver for ``Query.region``: which region answered, and how fresh it is."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.appsync import Router

from projections import readers
from resolvers.services import Services


def build_router(services: Services) -> Router:
    router = Router()

    @router.resolver(type_name="Query", field_name="region")
    def region() -> dict[str, Any]:
        progress = readers.progress(services.projections) or {}
        return {
            "name": services.settings.region,
            "primary": services.settings.primary_region,
            # READ_ONLY arrives with the write path's circuit breaker (issue 6).
            "mode": "ACTIVE",
            "projectionLagMs": progress.get("lagMs"),
            "lastProjectedAt": progress.get("projectedAt"),
        }

    return router
