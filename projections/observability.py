"""Logs, metrics and traces for both Lambdas: one module, so both speak alike.

* Logs: powertools ``Logger``, one JSON line per resolver invocation (``resolved``) and
  per stream record (``projected``, then ``published``), each with the write's
  ``correlation_id``. Keys are appended per thread: ``gateway dev`` runs many
  invocations at once in one process, where Lambda runs one per sandbox.
* Metrics: CloudWatch EMF, flushed at the end of each invocation, and only when a value
  was added. The names below are what CloudWatch shows on AWS and what ``gateway status``
  shows locally.
* Traces: powertools ``Tracer``, only when :attr:`Settings.tracing` asks for it and
  ``aws_xray_sdk`` is installed; it costs about 330 ms of cold start, so nothing here
  imports it otherwise.

It lives in ``projections`` because both Lambdas use it: the stream handler is here, the
resolvers may import projections, and the domain stays free of powertools.
"""

from __future__ import annotations

import importlib.util
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TextIO

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
    AmazonCloudWatchEMFProvider,
)
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.constants import MAX_METRICS

from projections.settings import DEFAULT_METRICS_NAMESPACE, Settings

RESOLVER_LATENCY = "ResolverLatency"
RESOLVER_ERRORS = "ResolverErrors"
PROJECTION_LAG = "ProjectionLag"
REPLICATION_LAG = "ReplicationLag"
# The health signals (infra.observability alarms on them under the same names).
HEARTBEAT_AGE = "HeartbeatAge"
SOURCE_REGION = "SourceRegion"
CANARY_SUCCESS = "CanarySuccess"
CANARY_LATENCY = "CanaryLatency"
FIELD = "Field"
MILLISECONDS = "Milliseconds"
COUNT = "Count"

EmfSink = Callable[[dict[str, Any]], None]

_correlation_id: ContextVar[str] = ContextVar("gateway_correlation_id", default="")


def current_correlation_id() -> str:
    """The id of the write being handled in this thread ("" outside one), so a call made
    on its behalf (the publish mutation) can carry it on."""
    return _correlation_id.get()


class Observability:
    """One Lambda's logger, metrics and tracer; built once per execution environment.

    Parameters
    ----------
    service
        The function's ``POWERTOOLS_SERVICE_NAME``: the ``service`` log key and dimension.
    region
        Added to every log line: ``gateway dev`` prints every region's lines together.
    namespace
        The CloudWatch namespace of the metrics.
    tracing
        Build a Tracer and trace each invocation (see the module docstring).
    emf_sink
        Where each invocation's EMF blob goes. None: stdout, where CloudWatch reads it on
        Lambda; ``gateway dev`` passes its own, to keep each region's figures.
    log_stream
        Where the log lines go. None: stdout, as on Lambda; a command that answers on
        stdout passes stderr. powertools configures one logger per service and process,
        so the first Observability of a service decides.
    """

    def __init__(
        self,
        service: str,
        *,
        region: str = "",
        namespace: str = DEFAULT_METRICS_NAMESPACE,
        tracing: bool = False,
        emf_sink: EmfSink | None = None,
        log_stream: TextIO | None = None,
    ) -> None:
        self.service = service
        self.region = region
        self.namespace = namespace
        self.logger = Logger(service=service, stream=log_stream)
        self.emf_sink: EmfSink = emf_sink or print_emf
        self.tracer = _tracer(service, self.logger) if tracing else None

    @classmethod
    def for_lambda(cls, service: str, settings: Settings) -> Observability:
        """What a Lambda's cold start builds from its settings."""
        return cls(
            service,
            region=settings.region,
            namespace=settings.metrics_namespace,
            tracing=settings.tracing,
        )

    @contextmanager
    def resolver_call(self, field: str, correlation_id: str) -> Iterator[None]:
        """One resolver invocation of ``field`` (``Type.field``): its line, its metrics.

        An exception leaving the block counts as an error of its class's name, and goes on.
        """
        started = time.perf_counter()
        error_type: str | None = None
        with self.scope(f"## {field}", correlation_id=correlation_id, field=field):
            try:
                yield
            except Exception as error:
                error_type = type(error).__name__
                raise
            finally:
                latency_ms = (time.perf_counter() - started) * 1000
                metrics = _Metrics(self)
                metrics.dimension(FIELD, field)
                metrics.add(RESOLVER_LATENCY, MILLISECONDS, latency_ms)
                metrics.add(RESOLVER_ERRORS, COUNT, 0 if error_type is None else 1)
                metrics.metadata("correlation_id", correlation_id)
                metrics.flush()
                extra = {"latency_ms": round(latency_ms, 1), "error_type": error_type}
                self.logger.info("resolved", extra=extra)

    def canary(self, healthy: bool, latency_ms: float, reason: str) -> None:
        """One synthetic read: ``CanarySuccess`` 1 or 0 (its alarm takes the minimum, so
        one failure in a minute counts), and how long the answer took."""
        metrics = _Metrics(self)
        metrics.add(CANARY_SUCCESS, COUNT, 1 if healthy else 0)
        metrics.add(CANARY_LATENCY, MILLISECONDS, latency_ms)
        metrics.flush()
        extra = {"healthy": healthy, "reason": reason, "latency_ms": round(latency_ms, 1)}
        with self.scope("## canary"):
            if healthy:
                self.logger.info("canary", extra=extra)
            else:
                self.logger.warning("canary", extra=extra)

    @contextmanager
    def stream_batch(self) -> Iterator[StreamBatch]:
        """One stream invocation; its metrics are flushed when the block ends."""
        metrics = _Metrics(self)
        with self.scope("## stream batch"):
            try:
                yield StreamBatch(self, metrics)
            finally:
                metrics.flush()

    @contextmanager
    def scope(self, name: str, **keys: Any) -> Iterator[None]:
        """``keys`` on every line logged in the block, and on its trace subsegment ``name``;
        the keys before it are restored after it."""
        if self.region:
            keys = {"region": self.region, **keys}
        previous = dict(self.logger.thread_safe_get_current_keys())
        self.logger.thread_safe_append_keys(**keys)
        token = _correlation_id.set(keys["correlation_id"]) if "correlation_id" in keys else None
        try:
            if self.tracer is None:
                yield
            else:
                with self.tracer.provider.in_subsegment(name=name) as subsegment:
                    for key, value in keys.items():
                        subsegment.put_annotation(key, value)
                    yield
        finally:
            if token is not None:
                _correlation_id.reset(token)
            self.logger.thread_safe_clear_keys()
            if previous:
                self.logger.thread_safe_append_keys(**previous)


class StreamBatch:
    """What the stream handler reports while it applies one batch."""

    def __init__(self, observability: Observability, metrics: _Metrics) -> None:
        self._observability = observability
        self._metrics = metrics

    @contextmanager
    def record(self, correlation_id: str, **keys: str | int) -> Iterator[None]:
        """One event record: its correlation id on every line; a failure is logged, with
        no trace (the record is retried, then dead-lettered), and goes on."""
        logger = self._observability.logger
        with self._observability.scope("## record", correlation_id=correlation_id, **keys):
            try:
                yield
            except Exception as error:
                failure = {"error_type": type(error).__name__, "error": str(error)[:500]}
                logger.warning("record failed", extra=failure)
                raise

    def projected(self, applied: bool, projection_lag_ms: int, replication_lag_ms: int) -> None:
        """The record reached this region's projection (``applied``: it changed a view)."""
        self._metrics.add(PROJECTION_LAG, MILLISECONDS, projection_lag_ms)
        self._metrics.add(REPLICATION_LAG, MILLISECONDS, replication_lag_ms)
        extra = {
            "applied": applied,
            "projection_lag_ms": projection_lag_ms,
            "replication_lag_ms": replication_lag_ms,
        }
        self._observability.logger.info("projected", extra=extra)

    def published(self, mutation: str) -> None:
        """This region's subscribers were told, through ``mutation``."""
        self._observability.logger.info("published", extra={"mutation": mutation})

    def heartbeat(self, source_region: str, age_ms: int) -> None:
        """A heartbeat of ``source_region`` arrived ``age_ms`` after it was written.

        A metric set of its own: its ``SourceRegion`` dimension must not reach the
        batch's other metrics, and each source region has its own alarm.
        """
        metrics = _Metrics(self._observability)
        metrics.dimension(SOURCE_REGION, source_region)
        metrics.add(HEARTBEAT_AGE, MILLISECONDS, age_ms)
        metrics.flush()
        extra = {"source_region": source_region, "age_ms": age_ms}
        self._observability.logger.info("heartbeat", extra=extra)


class _Metrics:
    """One invocation's EMF metric set.

    A provider of its own, not powertools' ``Metrics``: that keeps one metric set per
    process, which the concurrent invocations of ``gateway dev`` would mix. EMF holds at
    most 100 values per metric, and the provider prints a full set to stdout on its own,
    so this flushes first, through the sink.
    """

    def __init__(self, observability: Observability) -> None:
        self._observability = observability
        self._provider = AmazonCloudWatchEMFProvider(
            namespace=observability.namespace, service=observability.service
        )
        self._counts: Counter[str] = Counter()

    def dimension(self, name: str, value: str) -> None:
        self._provider.add_dimension(name=name, value=value)

    def metadata(self, key: str, value: str) -> None:
        self._provider.add_metadata(key=key, value=value)

    def add(self, name: str, unit: str, value: float) -> None:
        if self._counts[name] == MAX_METRICS - 1:
            self.flush()
        self._counts[name] += 1
        self._provider.add_metric(name=name, unit=unit, value=value)

    def flush(self) -> None:
        """Emit what was added since the last flush; nothing at all when nothing was."""
        if not self._counts:
            return
        dimensions = dict(self._provider.dimension_set)
        self._observability.emf_sink(dict(self._provider.serialize_metric_set()))
        self._provider.clear_metrics()
        for name, value in dimensions.items():
            self._provider.add_dimension(name=name, value=value)
        self._counts.clear()


def print_emf(blob: dict[str, Any]) -> None:
    """Where EMF goes on Lambda: a line on stdout, as powertools' own flush prints it."""
    if not is_metrics_disabled():
        print(json.dumps(blob, separators=(",", ":")), flush=True)


def _tracer(service: str, logger: Logger) -> Any:
    """powertools' Tracer, or None (with a warning) when aws_xray_sdk is not installed."""
    if importlib.util.find_spec("aws_xray_sdk") is None:
        logger.warning("tracing asked for, but aws_xray_sdk is not installed; tracing off")
        return None
    from aws_lambda_powertools import Tracer

    return Tracer(service=service)
