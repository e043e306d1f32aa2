"""One emulated region: its resolver Lambda, its stream handler, its subscribers."""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from emulator.appsync.auth import Caller, LocalCredentials, authenticate
from emulator.appsync.executor import Executor, Outcome
from emulator.appsync.lambda_auth import LambdaAuthorizer, Operation
from emulator.appsync.limits import Limits
from emulator.appsync.subscriptions import Subscriptions
from emulator.chaos.faults import FaultRegistry
from emulator.cloud.deadletters import DeadLetters
from emulator.cloud.jwt_issuer import LocalIssuer
from emulator.cloud.server import LOCAL_ACCOUNT_ID, stream_arn, streams_client
from emulator.cloud.streams import StreamPoller, StreamReader
from emulator.telemetry import RegionMetrics
from infra.config import CLIENT_TOKEN_CACHE_S, CLIENT_TOKEN_PATTERN
from projections.observability import Observability
from projections.settings import Settings
from projections.stream import SERVICE as PROJECTIONS_SERVICE
from projections.stream import build_projector
from resolvers.authorizer import build_authorizer
from resolvers.bootstrap import build_app, build_services
from resolvers.handler import SERVICE as RESOLVERS_SERVICE
from resolvers.handler import ResolverHandler

T = TypeVar("T")
# Threads per region for whatever blocks. moto answers one call at a time and
# read-your-writes waits hold no thread, so what needs the headroom is a write to an
# unreachable primary, which sleeps between its retries for up to 1.5 s. A flood
# queues here, in its own region.
LAMBDA_THREADS = 16


class LambdaPool:
    """Execution environments of one Lambda: each serves one invocation at a time.

    powertools keeps the current event and context on the app, so concurrent
    invocations each get their own handler, as concurrent Lambda invocations each get
    their own sandbox. Only the event loop calls it, so the idle list needs no lock.
    """

    def __init__(self, factory: Callable[[], ResolverHandler]) -> None:
        self._factory = factory
        self._idle: list[ResolverHandler] = []

    async def __call__(self, event: dict[str, Any]) -> Any:
        handler = self._idle.pop() if self._idle else self._factory()
        try:
            return await handler.invoke(event)
        finally:
            self._idle.append(handler)


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
        # The region's own bounded executor: what blocks (DynamoDB calls, parsing and
        # validating documents) runs here, so a flood at one region never takes
        # another's threads, and a read-your-writes wait, awaited on the event loop,
        # takes none.
        self.threads = ThreadPoolExecutor(
            max_workers=LAMBDA_THREADS, thread_name_prefix=f"lambda-{settings.region}"
        )
        resolvers = self._observability(RESOLVERS_SERVICE)
        # The region's environments share its adapters (clients, control cache,
        # breakers): a waiting invocation then costs an app, not 24 ms of new clients.
        services = build_services(settings, self.offload)
        # The region's resolver Lambda; mock mode (emulator.mock.stand_in) stands in front of it.
        self.resolver_lambda: Callable[[dict[str, Any]], Any] = LambdaPool(
            lambda: ResolverHandler(build_app(services), resolvers, self.offload)
        )
        # The API's AWS_LAMBDA mode, calling the region's authorizer function on its
        # threads, with infra's pattern and cache time (what the template's
        # LambdaAuthorizerConfig says).
        authorizer_function = build_authorizer(settings)
        self.authorizer = LambdaAuthorizer(
            lambda event: self.offload(functools.partial(authorizer_function, event, None)),
            api_id=local_api_id(settings.region),
            account_id=LOCAL_ACCOUNT_ID,
            pattern=CLIENT_TOKEN_PATTERN,
            ttl_s=CLIENT_TOKEN_CACHE_S,
        )
        self.executor = Executor(
            schema,
            self.invoke,
            self.limits,
            offload=self.offload,
            wait_budget_s=settings.min_version_wait_ms / 1000,
        )
        self.subscriptions = Subscriptions(
            schema,
            self.executor.subscribed_mutations,
            self.limits,
            self.invoke,
            offload=self.offload,
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
        """One invocation of the region's resolver Lambda, or of what stands in for it:
        an awaitable of its answer."""
        return self.resolver_lambda(event)

    async def offload(self, work: Callable[[], T]) -> T:
        """Run blocking ``work`` on the region's threads, in the caller's context (its
        log keys and correlation id)."""
        context = contextvars.copy_context()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.threads, context.run, work)

    def close(self) -> None:
        """Let the region's threads go once their work is done."""
        self.threads.shutdown(wait=False, cancel_futures=True)

    def _observability(self, service: str) -> Observability:
        settings = self.settings
        return Observability(
            service,
            region=settings.region,
            namespace=settings.metrics_namespace,
            emf_sink=self.metrics.record,
        )

    async def authenticate(
        self,
        headers: dict[str, str],
        request: tuple[str, str, bytes] | None = None,
        operation: Operation | None = None,
    ) -> Caller | None:
        return await authenticate(
            self.credentials, self.name, headers, request, self.issuer, self.authorizer, operation
        )

    async def execute(
        self,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        caller: Caller,
    ) -> Outcome:
        return await self.executor.execute(query, variables, operation_name, caller)


def local_api_id(region: str) -> str:
    """The id this region's emulated API goes by, as AppSync names an API's 26 characters."""
    return ("gatewaylocal" + region.replace("-", "")).ljust(26, "0")[:26]
