"""The resolver Lambda's entry point, and the one place errors are shaped.

A :class:`~domain.errors.GatewayError` leaves as it is: the Lambda runtime reports its
class name as ``errorType`` and AppSync shows that to the client. Anything else is
logged with its context and leaves as ``InternalFailure``, with no trace or AWS text.
Each invocation logs one ``resolved`` line and its EMF metrics
(:mod:`projections.observability`).
"""

from __future__ import annotations

import uuid
from typing import Any

from aws_lambda_powertools.event_handler import AppSyncResolver

from domain.errors import GatewayError, InternalFailure
from projections.observability import Observability
from projections.settings import Settings
from resolvers.bootstrap import build_app, build_services

SERVICE = "gateway-resolvers"
# A client's own x-correlation-id is kept when it is this short: it is stored on every
# event item the request writes.
MAX_CORRELATION_ID = 128


class ResolverHandler:
    """Invokes one app for one event at a time, as one Lambda execution environment does."""

    def __init__(self, app: AppSyncResolver, observability: Observability | None = None) -> None:
        self._app = app
        self._observability = observability or Observability(SERVICE)

    def __call__(self, event: dict[str, Any], context: Any = None) -> Any:
        info = event.get("info") or {}
        field = f"{info.get('parentTypeName')}.{info.get('fieldName')}"
        correlation_id = correlation_id_of(event, context)
        self._app.append_context(correlation_id=correlation_id, identity=event.get("identity"))
        with self._observability.resolver_call(field, correlation_id):
            try:
                return self._app.resolve(event, context)
            except GatewayError:
                raise
            except Exception:
                self._observability.logger.exception("resolver failed")
                raise InternalFailure() from None


def correlation_id_of(event: dict[str, Any], context: Any) -> str:
    """The id that follows this request's writes to every region's stream handler.

    The caller's ``x-correlation-id`` (the stream handler sends one with each publish
    mutation), else the Lambda request id, else a new one.
    """
    headers = (event.get("request") or {}).get("headers") or {}
    given = headers.get("x-correlation-id")
    if isinstance(given, str) and 0 < len(given) <= MAX_CORRELATION_ID and given.isprintable():
        return given
    return str(getattr(context, "aws_request_id", "") or uuid.uuid4())


def build_handler(
    settings: Settings, observability: Observability | None = None
) -> ResolverHandler:
    """A handler for the region ``settings`` names; ``gateway dev`` passes its own
    ``observability``, to keep each region's metrics."""
    observability = observability or Observability.for_lambda(SERVICE, settings)
    return ResolverHandler(build_app(build_services(settings)), observability)


_handler: ResolverHandler | None = None


def lambda_handler(event: dict[str, Any], context: Any) -> Any:
    """AWS Lambda entry point; the app is built once per execution environment."""
    global _handler
    if _handler is None:
        _handler = build_handler(Settings.from_env())
    return _handler(event, context)
