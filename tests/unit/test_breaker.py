"""The write path's breaker and retries: fail fast, never hang, probe to recover."""

from __future__ import annotations

import pytest

from domain.breaker import (
    COOL_DOWN_S,
    DEADLINE_S,
    FAILURES_TO_OPEN,
    MAX_ATTEMPTS,
    CircuitBreaker,
    Guard,
)
from domain.errors import PrimaryUnavailable, VersionConflict

from .fakes import ManualClock


class Flaky:
    """An operation that fails ``failures`` times, each taking ``cost`` seconds."""

    def __init__(self, clock: ManualClock, failures: int, cost: float = 0.0) -> None:
        self.clock = clock
        self.failures = failures
        self.cost = cost
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        self.clock.advance(self.cost)
        if self.calls <= self.failures:
            raise PrimaryUnavailable("down")
        return "written"


def _guard(clock: ManualClock) -> tuple[Guard, list[float]]:
    waits: list[float] = []

    def pause(seconds: float) -> None:
        waits.append(seconds)
        clock.advance(seconds)

    return Guard(CircuitBreaker(clock=clock), clock=clock, pause=pause, jitter=lambda c: c), waits


def test_a_brief_failure_is_retried_with_growing_capped_waits() -> None:
    """GIVEN a primary that fails twice, quickly WHEN a write goes out THEN it is retried
    with exponential waits and succeeds."""
    clock = ManualClock()
    guard, waits = _guard(clock)
    operation = Flaky(clock, failures=2)
    assert guard.call(operation) == "written"
    assert operation.calls == 3
    assert waits == [0.1, 0.2]


def test_a_hanging_primary_is_given_up_within_the_deadline() -> None:
    """GIVEN every attempt times out after 0.8 s WHEN a write goes out THEN it is refused
    with PrimaryUnavailable before the 2 s budget, without another attempt that could
    not finish in time."""
    clock = ManualClock()
    guard, _ = _guard(clock)
    operation = Flaky(clock, failures=99, cost=0.8)
    with pytest.raises(PrimaryUnavailable):
        guard.call(operation)
    assert operation.calls == 1
    assert clock.now <= DEADLINE_S < 2.0


def test_repeated_failures_open_the_breaker_and_later_calls_are_refused_at_once() -> None:
    """GIVEN a primary that keeps failing WHEN enough writes fail THEN the breaker opens,
    the next write is refused without touching the primary, and says so."""
    clock = ManualClock()
    guard, _ = _guard(clock)
    operation = Flaky(clock, failures=99)
    while not guard.breaker.is_open:
        with pytest.raises(PrimaryUnavailable):
            guard.call(operation)
    assert operation.calls == FAILURES_TO_OPEN
    with pytest.raises(PrimaryUnavailable) as refused:
        guard.call(operation)
    assert refused.value.info == {"breaker": "open"}
    assert operation.calls == FAILURES_TO_OPEN


def test_after_the_cool_down_one_probe_closes_the_breaker_when_the_primary_is_back() -> None:
    """GIVEN an open breaker WHEN the cool-down passes and the primary answers THEN the
    probe succeeds and writes flow again."""
    clock = ManualClock()
    breaker = CircuitBreaker(clock=clock)
    for _ in range(FAILURES_TO_OPEN):
        breaker.record_failure()
    assert not breaker.allow()
    clock.advance(COOL_DOWN_S)
    assert breaker.allow()
    assert not breaker.allow(), "only one probe at a time"
    breaker.record_success()
    assert not breaker.is_open and breaker.allow()


def test_a_failed_probe_waits_out_another_cool_down() -> None:
    """GIVEN an open breaker WHEN its probe fails THEN it stays open for a full cool-down."""
    clock = ManualClock()
    breaker = CircuitBreaker(clock=clock)
    for _ in range(FAILURES_TO_OPEN):
        breaker.record_failure()
    clock.advance(COOL_DOWN_S)
    assert breaker.allow()
    breaker.record_failure()
    clock.advance(COOL_DOWN_S / 2)
    assert not breaker.allow()
    clock.advance(COOL_DOWN_S / 2)
    assert breaker.allow()


def test_a_lost_race_is_an_answer_not_a_failure() -> None:
    """GIVEN the primary answers with a failed condition WHEN the guard sees it THEN it is
    passed on at once, not retried, and does not count toward opening the breaker."""
    clock = ManualClock()
    guard, waits = _guard(clock)

    def conflict() -> str:
        raise VersionConflict("moved")

    for _ in range(FAILURES_TO_OPEN + 1):
        with pytest.raises(VersionConflict):
            guard.call(conflict)
    assert waits == [] and not guard.breaker.is_open


def test_no_more_than_the_allowed_attempts() -> None:
    """GIVEN instant failures WHEN a write goes out THEN it makes MAX_ATTEMPTS attempts."""
    clock = ManualClock()
    guard = Guard(
        CircuitBreaker(failures_to_open=99, clock=clock), clock=clock, pause=clock.advance
    )
    operation = Flaky(clock, failures=99)
    with pytest.raises(PrimaryUnavailable):
        guard.call(operation)
    assert operation.calls == MAX_ATTEMPTS


def test_a_probe_the_primary_answers_with_a_lost_race_closes_the_breaker() -> None:
    """GIVEN an open breaker WHEN, after the cool-down, its probe meets a failed condition
    (the primary answered) THEN the breaker closes, and later calls go out again instead
    of being refused for good."""
    clock = ManualClock()
    guard, _ = _guard(clock)
    for _ in range(FAILURES_TO_OPEN):
        guard.breaker.record_failure()
    clock.advance(COOL_DOWN_S)

    def conflict() -> str:
        raise VersionConflict("moved")

    with pytest.raises(VersionConflict):
        guard.call(conflict)
    clock.advance(COOL_DOWN_S * 10)

    assert not guard.breaker.is_open
    assert guard.call(lambda: "written") == "written"


def test_failures_far_apart_do_not_add_up_to_an_outage() -> None:
    """GIVEN an execution environment that met one failure now and then over an hour, with
    no write in between WHEN one more write fails THEN the breaker stays closed: only
    failures close together say the region is down. (A game day saw an idle environment
    carry four old failures into a later, single lost reply and refuse writes for 5 s.)"""
    clock = ManualClock()
    breaker = CircuitBreaker(clock=clock)
    for _ in range(FAILURES_TO_OPEN - 1):
        breaker.record_failure()
        clock.advance(15 * 60)
    breaker.record_failure()
    assert not breaker.is_open and breaker.allow()


def test_failures_close_together_still_open_the_breaker() -> None:
    """GIVEN failures within a cool-down of each other THEN they add up as before."""
    clock = ManualClock()
    breaker = CircuitBreaker(clock=clock)
    for _ in range(FAILURES_TO_OPEN):
        breaker.record_failure()
        clock.advance(COOL_DOWN_S / 2)
    assert breaker.is_open
