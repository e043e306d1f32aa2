"""Each region's figures, as its Lambdas report them, for ``gateway status`` and the page.

Every region's handlers get :meth:`RegionMetrics.record` as their EMF sink instead of
stdout (:mod:`projections.observability`), so the figures are read from the same EMF
blobs CloudWatch reads on AWS, under the same names. They are kept for
:data:`WINDOW_S`: each series holds at most :data:`MAX_VALUES` values, the newest.

For the chart, :class:`LagSampler` takes one sample a second of each region's projection
and replication lag: the worst the handlers reported in that second, or the worst age of
a change still waiting (the stream poller's and the replicator's), whichever is larger;
so a paused replication shows as a climbing line, not as silence.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from projections.observability import (
    FIELD,
    PROJECTION_LAG,
    REPLICATION_LAG,
    RESOLVER_ERRORS,
    RESOLVER_LATENCY,
)

WINDOW_S = 600
MAX_VALUES = 10_000
LAGS = (PROJECTION_LAG, REPLICATION_LAG)


class LagSample(NamedTuple):
    """One second of the chart: epoch seconds, then each lag in ms."""

    at: int
    projection_ms: int
    replication_ms: int


class RegionMetrics:
    """One region's EMF figures over the last :data:`WINDOW_S` seconds; thread-safe.

    Parameters
    ----------
    clock
        Wall-clock seconds: values older than the window are dropped when read.
    """

    def __init__(self, window_s: int = WINDOW_S, clock: Callable[[], float] = time.time) -> None:
        self.window_s = window_s
        self._clock = clock
        self._lock = threading.Lock()
        # (metric name, Field dimension or "") -> (epoch seconds, value), oldest first.
        self._series: dict[tuple[str, str], deque[tuple[float, float]]] = {}
        self._worst_since_sample = dict.fromkeys(LAGS, 0.0)
        self._samples: deque[LagSample] = deque(maxlen=window_s)
        self._namespace: str | None = None

    def record(self, blob: dict[str, Any]) -> None:
        """Keep the values of one EMF blob: the sink the region's handlers write to."""
        aws = blob.get("_aws") or {}
        at = self._clock()  # the blob's own Timestamp is the same instant, on Lambda's clock
        field = str(blob.get(FIELD, ""))
        with self._lock:
            for directive in aws.get("CloudWatchMetrics", ()):
                self._namespace = directive.get("Namespace", self._namespace)
                for metric in directive.get("Metrics", ()):
                    name = metric["Name"]
                    raw = blob.get(name, ())
                    values = raw if isinstance(raw, list) else [raw]
                    series = self._series.setdefault((name, field), deque(maxlen=MAX_VALUES))
                    series.extend((at, float(value)) for value in values)
                    if name in self._worst_since_sample and values:
                        worst = max(self._worst_since_sample[name], *map(float, values))
                        self._worst_since_sample[name] = worst

    def sample(self, projection_waiting_ms: int, replication_waiting_ms: int) -> LagSample:
        """Close one second of the chart, with the ages of the changes still waiting."""
        with self._lock:
            taken = LagSample(
                int(self._clock()),
                round(max(self._worst_since_sample[PROJECTION_LAG], projection_waiting_ms)),
                round(max(self._worst_since_sample[REPLICATION_LAG], replication_waiting_ms)),
            )
            self._worst_since_sample = dict.fromkeys(LAGS, 0.0)
            self._samples.append(taken)
        return taken

    def summary(self) -> dict[str, Any]:
        """The window's figures under their CloudWatch names, as ``gateway status`` shows them.

        ``ResolverLatency`` and ``ResolverErrors`` are by ``Field`` (``Type.field``); the
        lags are per region. Times are milliseconds.
        """
        since = self._clock() - self.window_s
        with self._lock:
            kept = {
                key: [value for at, value in series if at >= since]
                for key, series in self._series.items()
            }
        latency: dict[str, Any] = {}
        errors: dict[str, int] = {}
        for (name, field), values in sorted(kept.items()):
            if values and name == RESOLVER_LATENCY:
                latency[field] = _spread(values)
            elif values and name == RESOLVER_ERRORS:
                errors[field] = round(sum(values))
        summary: dict[str, Any] = {
            "namespace": self._namespace,
            "windowS": self.window_s,
            RESOLVER_LATENCY: latency,
            RESOLVER_ERRORS: errors,
        }
        for name in LAGS:
            values = kept.get((name, ""), [])
            summary[name] = {**_spread(values), "lastMs": round(values[-1]) if values else None}
        return summary

    def history(self) -> dict[str, list[int]]:
        """The chart's samples, oldest first, as columns."""
        with self._lock:
            samples = list(self._samples)
        return {
            "at": [sample.at for sample in samples],
            "projectionLagMs": [sample.projection_ms for sample in samples],
            "replicationLagMs": [sample.replication_ms for sample in samples],
        }


def _spread(values: Sequence[float]) -> dict[str, Any]:
    """Count, p50, p99 and max of ``values`` (nearest rank), in ms; None when empty."""
    if not values:
        return {"count": 0, "p50Ms": None, "p99Ms": None, "maxMs": None}
    ordered = sorted(values)
    return {
        "count": len(ordered),
        "p50Ms": round(_rank(ordered, 0.50), 1),
        "p99Ms": round(_rank(ordered, 0.99), 1),
        "maxMs": round(ordered[-1], 1),
    }


def _rank(ordered: Sequence[float], share: float) -> float:
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


class LagSampler:
    """A daemon thread that calls ``sample`` once a second until stopped.

    ``sample`` reads memory only (the pollers' and the replicator's waiting changes), so
    the thread never holds a call that a stopping deployment would wait on.
    """

    def __init__(self, sample: Callable[[], object], interval_s: float = 1.0) -> None:
        self._sample = sample
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lag-sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(self._interval_s * 2)

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self._sample()
