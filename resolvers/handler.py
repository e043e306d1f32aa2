"""The resolver Lambda's entry point, and the one place errors are shaped.

A :class:`~domain.errors.GatewayError` leaves as it is: the Lambda runtime reports its
class name as ``errorType`` and AppSync shows that to the client. Anything else is
logged with its context and leaves as ``InternalFailure``, with no trace or AWS text.
Each invocation logs one ``resolved`` line and its EMF metrics
(:mod:`projections.observability`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import uuid
from collections.abc import Coroutine, Iterator
from typing import Any

from aws_lambda_powertools.event_handler import AppSyncResolver

from domain.errors import GatewayError, InternalFailure
from projections.observability import Observability
from projections.settings import Settings
from resolvers.bootstrap import build_app, build_services
from resolvers.freshness import WAIT_LEFT_KEY, Offload, run_inline
from resolvers.services import WAIT_MS_LEFT

SERVICE = "gateway-resolvers"
# A client's own x-correlation-id is kept when it is this short: it is stored on every
# event item the request writes.
MAX_CORRELATION_ID = 128


class ResolverHandler:
    """Invokes one app for one event at a time, as one Lambda execution environment does.

    A resolver may be async (the ``minVersion`` reads, which wait): Lambda's entry
    point, :meth:`__call__`, runs it to its end on this environment's own event loop;
    ``gateway dev`` awaits :meth:`invoke` on its server's loop instead, so that the wait
    holds none of the region's threads.
    """

    def __init__(
        self,
        app: AppSyncResolver,
        observability: Observability | None = None,
        offload: Offload[Any] = run_inline,
    ) -> None:
        self._app = app
        self._observability = observability or Observability(SERVICE)
        self._offload = offload
        self._loop: asyncio.AbstractEventLoop | None = None

    def __call__(self, event: dict[str, Any], context: Any = None) -> Any:
        with self._invocation(event, context):
            answer = self._app.resolve(event, context)
            if inspect.iscoroutine(answer):
                if self._loop is None:
                    self._loop = asyncio.new_event_loop()
                answer = self._loop.run_until_complete(self._settle(answer))
            return answer

    async def invoke(self, event: dict[str, Any], context: Any = None) -> Any:
        """One invocation from an event loop: the synchronous part (routing, and the
        whole of a synchronous resolver) runs through ``offload``; an async resolver's
        waits hold no thread."""
        with self._invocation(event, context):
            answer = await self._offload(functools.partial(self._app.resolve, event, context))
            if inspect.iscoroutine(answer):
                answer = await self._settle(answer)
            return answer

    @contextlib.contextmanager
    def _invocation(self, event: dict[str, Any], context: Any) -> Iterator[None]:
        info = event.get("info") or {}
        field = f"{info.get('parentTypeName')}.{info.get('fieldName')}"
        correlation_id = correlation_id_of(event, context)
        self._app.append_context(
            correlation_id=correlation_id,
            identity=event.get("identity"),
            **{WAIT_MS_LEFT: (event.get("stash") or {}).get(WAIT_LEFT_KEY)},
        )
        with self._observability.resolver_call(field, correlation_id):
            try:
                yield
            except GatewayError:
                raise
            except Exception:
                self._observability.logger.exception("resolver failed")
                raise InternalFailure() from None

    async def _settle(self, answer: Coroutine[Any, Any, Any]) -> Any:
        # powertools leaves an async resolver's context for its caller to clear.
        try:
            return await answer
        finally:
            self._app.clear_context()


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
