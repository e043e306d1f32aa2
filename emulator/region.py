"""One emulated region: its resolver Lambda, its stream handler, its subscribers."""

from __future__ import annotations

import queue
from collections.abc import Callable
from typing import Any

from emulator.auth import Caller, LocalCredentials, authenticate
from emulator.cloud import stream_arn, streams_client
from emulator.deadletters import DeadLetters
from emulator.executor import Executor, Outcome
from emulator.faults import FaultRegistry
from emulator.jwt_issuer import LocalIssuer
from emulator.limits import Limits
from emulator.streams import StreamPoller, StreamReader
from emulator.subscriptions import Subscriptions
from emulator.telemetry import RegionMetrics
from projections.observability import Observability
from projections.settings import Settings
from projections.stream import SERVICE as PROJECTIONS_SERVICE
from projections.stream import build_projector
from resolvers.handler import SERVICE as RESOLVERS_SERVICE
from resolvers.handler import ResolverHandler, build_handler


class LambdaPool:
    """Execution environments of one Lambda: each serves one invocation at a time.

    powertools keeps the current event on the app, so concurrent requests each get
    their own handler, as concurrent Lambda invocations each get their own sandbox.
    """

    def __init__(self, factory: Callable[[], ResolverHandler]) -> None:
        self._factory = factory
        self._idle: queue.LifoQueue[ResolverHandler] = queue.LifoQueue()

    def __call__(self, event: dict[str, Any]) -> Any:
        try:
            handler = self._idle.get_nowait()
        except queue.Empty:
            handler = self._factory()
        try:
            return handler(event, None)
        finally:
            self._idle.put(handler)


class RegionRuntime:
    """Everything one region runs, wired from that region's settings.

    Its Lambdas' EMF metrics go to :attr:`metrics`, not to stdout; their log lines go
    to stdout, as on Lambda.
    """

    def __init__(
        self,
        settings: Settings,
        credentials: LocalCredentials,
        schema: Any,
        limits: Limits | None = None,
        issuer: LocalIssuer | None = None,
        faults: FaultRegistry | None = None,
    ) -> None:
        self.settings = settings
        self.credentials = credentials
        self.issuer = issuer
        self.limits = limits or Limits()
        self.metrics = RegionMetrics()
        resolvers = self._observability(RESOLVERS_SERVICE)
        # The region's resolver Lambda; mock mode (emulator.mock) stands in front of it.
        self.resolver_lambda: Callable[[dict[str, Any]], Any] = LambdaPool(
            lambda: build_handler(settings, resolvers)
        )
        self.executor = Executor(schema, self.invoke, self.limits)
        self.subscriptions = Subscriptions(
            schema, self.executor.subscribed_mutations, self.limits, self.invoke
        )
        projections = self._observability(PROJECTIONS_SERVICE)
        projector = build_projector(settings, credentials.botocore(), projections)
        self.dead_letters = DeadLetters(settings.dynamodb(settings.region), settings.region)
        self.poller = StreamPoller(
            settings.region,
            StreamReader(streams_client(settings), stream_arn(settings)),
            projector.handle,
            park=self.dead_letters.park,
            faults=faults,
        )

    @property
    def name(self) -> str:
        return self.settings.region

    def invoke(self, event: dict[str, Any]) -> Any:
        """One invocation of the region's resolver Lambda, or of what stands in for it."""
        return self.resolver_lambda(event)

    def _observability(self, service: str) -> Observability:
        settings = self.settings
        return Observability(
            service,
            region=settings.region,
            namespace=settings.metrics_namespace,
            emf_sink=self.metrics.record,
        )

    def authenticate(
        self, headers: dict[str, str], request: tuple[str, str, bytes] | None = None
    ) -> Caller | None:
        return authenticate(self.credentials, self.name, headers, request, self.issuer)

    def execute(
        self,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        caller: Caller,
    ) -> Outcome:
        return self.executor.execute(query, variables, operation_name, caller)
