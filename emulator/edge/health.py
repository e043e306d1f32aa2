"""Each region's health check, locally: the read canary's alarm, as Route 53 follows it.

On AWS the check is healthy while the canary alarm is OK, and the alarm fires on
:data:`~infra.thresholds.HEALTH_DATAPOINTS_TO_ALARM` bad minutes of the last
:data:`~infra.thresholds.HEALTH_EVALUATION_PERIODS`, a minute without a verdict
counting as bad. Here the canary runs every ``interval_s`` (:mod:`emulator.cloud.schedules`)
and each run is one period: a region is unhealthy while that many of its last runs
failed, or while no verdict has come for as many periods (the canary itself stalled).
It starts healthy, as a check with no data yet keeps its last known status.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from infra.thresholds import HEALTH_DATAPOINTS_TO_ALARM, HEALTH_EVALUATION_PERIODS
from resolvers.canary import Verdict


class HealthChecks:
    """The canary-driven health of every region; thread-safe (the canary runs in
    threads, the global endpoint asks from the event loop)."""

    def __init__(
        self,
        regions: Sequence[str],
        interval_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval_s = interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._started = clock()
        self._verdicts: dict[str, deque[tuple[float, Verdict]]] = {
            region: deque(maxlen=HEALTH_EVALUATION_PERIODS) for region in regions
        }

    def record(self, region: str, verdict: Verdict) -> None:
        """One canary run's verdict for ``region``."""
        with self._lock:
            self._verdicts[region].append((self._clock(), verdict))

    def healthy(self, region: str) -> bool:
        with self._lock:
            return self._healthy(region, self._clock())

    def status(self) -> dict[str, dict[str, Any]]:
        """Each region's check as ``gateway status`` shows it."""
        now = self._clock()
        with self._lock:
            return {
                region: {
                    "healthy": self._healthy(region, now),
                    "lastVerdict": None
                    if not verdicts
                    else {
                        "healthy": verdicts[-1][1].healthy,
                        "reason": verdicts[-1][1].reason,
                        "agoMs": round((now - verdicts[-1][0]) * 1000),
                    },
                }
                for region, verdicts in self._verdicts.items()
            }

    def _healthy(self, region: str, now: float) -> bool:
        verdicts = self._verdicts[region]
        last = verdicts[-1][0] if verdicts else self._started
        if now - last > HEALTH_EVALUATION_PERIODS * self.interval_s:
            return False  # no verdict for the whole window: missing data is breaching
        failed = sum(not verdict.healthy for _, verdict in verdicts)
        return failed < HEALTH_DATAPOINTS_TO_ALARM
