"""The resolver Lambda's entry point, and the one place errors are shaped.

A :class:`~domain.errors.GatewayError` leaves as it is: the Lambda runtime reports its
class name as ``errorType`` and AppSync shows that to the client. Anything else is
logged with its context and leaves as ``InternalFailure``, with no trace or AWS text.
"""

from __future__ import annotations

import uuid
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import AppSyncResolver

from domain.errors import GatewayError, InternalFailure
from projections.settings import Settings
from resolvers.bootstrap import build_app, build_services

logger = Logger(service="gateway-resolvers")


class ResolverHandler:
    """Invokes one app for one event at a time, as one Lambda execution environment does."""

    def __init__(self, app: AppSyncResolver) -> None:
        self._app = app

    def __call__(self, event: dict[str, Any], context: Any = None) -> Any:
        headers = (event.get("request") or {}).get("headers") or {}
        correlation_id = headers.get("x-correlation-id") or str(uuid.uuid4())
        info = event.get("info") or {}
        field = f"{info.get('parentTypeName')}.{info.get('fieldName')}"
        logger.append_keys(correlation_id=correlation_id, field=field)
        self._app.append_context(correlation_id=correlation_id, identity=event.get("identity"))
        try:
            return self._app.resolve(event, context)
        except GatewayError:
            raise
        except Exception:
            logger.exception("resolver failed")
            raise InternalFailure() from None


def build_handler(settings: Settings) -> ResolverHandler:
    return ResolverHandler(build_app(build_services(settings)))


_handler: ResolverHandler | None = None


def lambda_handler(event: dict[str, Any], context: Any) -> Any:
    """AWS Lambda entry point; the app is built once per execution environment."""
    global _handler
    if _handler is None:
        _handler = build_handler(Settings.from_env())
    return _handler(event, context)
