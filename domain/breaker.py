"""Failing fast when the primary region cannot be reached.

A write to an unreachable primary must be refused within 2 s, every time, without
piling timed-out requests onto a region that is already down. Each call is retried a
few times with capped, jittered exponential backoff, within a deadline; after
repeated failures the breaker opens and refuses at once, then lets one probe through
after a cool-down to learn whether the region is back.

Stdlib only: this is on the resolver Lambda's cold-start path.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from domain.errors import PrimaryUnavailable

T = TypeVar("T")

FAILURES_TO_OPEN = 5
COOL_DOWN_S = 5.0
# The whole call, retries included, ends within this; the clients' own timeouts
# (projections.settings.WRITE_TIMEOUTS) decide how long one attempt may take.
DEADLINE_S = 1.5
ATTEMPT_BUDGET_S = 1.0
MAX_ATTEMPTS = 3
BACKOFF_BASE_S = 0.05
BACKOFF_CAP_S = 0.4


class CircuitBreaker:
    """Closed, open, or half-open, for the calls to one region.

    Parameters
    ----------
    failures_to_open
        Consecutive failures that open the breaker, each within ``cool_down_s`` of the
        one before: failures further apart are not an outage, and count afresh.
    cool_down_s
        How long it stays open before one probe may try the region again.
    clock
        Monotonic seconds; tests pass their own.
    """

    def __init__(
        self,
        failures_to_open: int = FAILURES_TO_OPEN,
        cool_down_s: float = COOL_DOWN_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._failures_to_open = failures_to_open
        self._cool_down_s = cool_down_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._failed_at: float | None = None
        self._opened_at: float | None = None
        self._probing = False

    @property
    def is_open(self) -> bool:
        """True while calls are refused: open, or half-open with a probe in flight."""
        with self._lock:
            return self._opened_at is not None

    def allow(self) -> bool:
        """Whether a call may go out now; after the cool-down, one probe at a time."""
        with self._lock:
            if self._opened_at is None:
                return True
            if self._probing or self._clock() - self._opened_at < self._cool_down_s:
                return False
            self._probing = True
            return True

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._probing = False

    def record_failure(self) -> None:
        with self._lock:
            now = self._clock()
            # An idle execution environment keeps its count for as long as it lives; a
            # failure long after the last one starts a new run.
            if self._failed_at is not None and now - self._failed_at > self._cool_down_s:
                self._failures = 0
            self._failed_at = now
            self._failures += 1
            if self._probing or self._failures >= self._failures_to_open:
                # A failed probe waits out another cool-down.
                self._opened_at = now
            self._probing = False


class Guard:
    """Calls to one region through its breaker, with retries inside a deadline.

    Only :class:`~domain.errors.PrimaryUnavailable` counts as a failure: a condition
    that failed (a lost race, a taken claim) means the region answered.
    """

    def __init__(
        self,
        breaker: CircuitBreaker | None = None,
        clock: Callable[[], float] = time.monotonic,
        pause: Callable[[float], None] = time.sleep,
        jitter: Callable[[float], float] = lambda ceiling: random.uniform(0, ceiling),
    ) -> None:
        self.breaker = breaker or CircuitBreaker(clock=clock)
        self._clock = clock
        self._pause = pause
        self._jitter = jitter

    def call(self, operation: Callable[[], T]) -> T:
        """``operation()``, retried while the region fails and time allows.

        Raises
        ------
        PrimaryUnavailable
            The breaker is open, or every attempt within the deadline failed.
        """
        started = self._clock()
        attempt = 0
        while True:
            if not self.breaker.allow():
                raise PrimaryUnavailable(
                    "The primary region cannot be reached; writes are refused until it "
                    "recovers, and reads still work. Retry later.",
                    {"breaker": "open"},
                )
            try:
                result = operation()
            except PrimaryUnavailable:
                self.breaker.record_failure()
                attempt += 1
                delay = self._jitter(min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt))
                spent = self._clock() - started
                if attempt >= MAX_ATTEMPTS or spent + delay + ATTEMPT_BUDGET_S > DEADLINE_S:
                    raise
                self._pause(delay)
                continue
            except Exception:
                # The region answered (a failed condition, a moved fence): a success for
                # the breaker. Were it left unrecorded, a probe that ends this way would
                # hold the breaker half-open, refusing every later call, for good.
                self.breaker.record_success()
                raise
            self.breaker.record_success()
            return result
