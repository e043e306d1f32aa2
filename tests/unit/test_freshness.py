"""minVersion: wait a bounded time for the local projection, then read the primary."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

import pytest

from domain.errors import ValidationError
from resolvers.freshness import read_at_least, wait_deadline

T = TypeVar("T")
LOOP = asyncio.new_event_loop()  # made at import, before the conftest refuses sockets


def run(step: Awaitable[T]) -> T:
    return LOOP.run_until_complete(step)


class FakeTime:
    """A clock that moves only when the code under test pauses."""

    def __init__(self) -> None:
        self.now = 0.0
        self.pauses: list[float] = []

    async def pause(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def _views(*versions: int | None) -> Any:
    remaining = list(versions)

    def read() -> dict[str, Any] | None:
        version = remaining.pop(0) if len(remaining) > 1 else remaining[0]
        return None if version is None else {"id": "p1", "version": version}

    return read


def _never() -> dict[str, Any] | None:
    raise AssertionError("the primary must not be read")


def test_without_min_version_the_local_view_is_returned_at_once() -> None:
    """GIVEN no minVersion WHEN read THEN the local view comes back, with no wait."""
    time = FakeTime()
    view = run(read_at_least(None, _views(1), _never, 1.0, pause=time.pause, clock=time.clock))
    assert view == {"id": "p1", "version": 1}
    assert time.pauses == []


def test_a_local_view_that_catches_up_is_returned_without_the_primary() -> None:
    """GIVEN a projection at v1 that reaches v2 on the third read WHEN minVersion 2 is asked
    THEN v2 comes from the local view after two growing waits."""
    time = FakeTime()
    view = run(read_at_least(2, _views(1, 1, 2), _never, 1.0, pause=time.pause, clock=time.clock))
    assert view == {"id": "p1", "version": 2}
    assert time.pauses == [0.02, 0.04]


def test_a_lagging_region_reads_through_to_the_primary_within_the_budget() -> None:
    """GIVEN a projection stuck at v1 WHEN minVersion 3 is asked with a 1 s budget THEN the
    waits stay within the budget and the primary's v3 is returned."""
    time = FakeTime()
    view = run(read_at_least(3, _views(1), _views(3), 1.0, pause=time.pause, clock=time.clock))
    assert view == {"id": "p1", "version": 3}
    assert sum(time.pauses) <= 1.0
    assert max(time.pauses) <= 0.2


def test_a_product_unknown_locally_is_read_from_the_primary() -> None:
    """GIVEN a product not yet replicated WHEN minVersion 1 is asked THEN the primary answers."""
    time = FakeTime()
    view = run(read_at_least(1, _views(None), _views(1), 0.1, pause=time.pause, clock=time.clock))
    assert view == {"id": "p1", "version": 1}


@pytest.mark.parametrize("primary_version", [None, 2])
def test_a_version_nobody_has_is_refused_never_answered_stale(primary_version: int | None) -> None:
    """GIVEN a primary older than minVersion (or without the product) THEN ValidationError,
    never the older view."""
    time = FakeTime()
    with pytest.raises(ValidationError, match="minVersion 5"):
        run(
            read_at_least(
                5, _views(1), _views(primary_version), 0.1, pause=time.pause, clock=time.clock
            )
        )


def test_a_deadline_already_passed_reads_through_without_waiting() -> None:
    """GIVEN a request whose shared deadline has passed (other fields spent it) WHEN a
    stale view is asked for THEN there is no pause: the primary is read at once."""
    time = FakeTime()
    time.now = 5.0
    view = run(read_at_least(2, _views(1), _views(2), 4.0, pause=time.pause, clock=time.clock))
    assert view == {"id": "p1", "version": 2}
    assert time.pauses == []


@pytest.mark.parametrize(
    ("left", "deadline"),
    [(None, 11.0), (400, 10.4), (5000, 11.0), (-20, 10.0), ("soon", 11.0), (True, 11.0)],
    ids=["absent (AWS)", "less left", "more left", "negative", "not a number", "a boolean"],
)
def test_an_invocation_waits_its_budget_or_what_its_request_has_left(
    left: object, deadline: float
) -> None:
    """GIVEN a 1 s budget at clock 10 WHEN the event says ``left`` ms remain of the
    request's budget THEN the wait ends at the sooner of the two, never later than the
    budget whatever the event holds."""
    assert wait_deadline(left, 1000, lambda: 10.0) == pytest.approx(deadline)


def test_every_read_goes_through_offload() -> None:
    """GIVEN an offload that records what it runs WHEN a stale view catches up THEN every
    read ran through it (in gateway dev: on the region's threads, not the event loop)."""
    time = FakeTime()
    offloaded: list[str] = []

    async def offload(work: Any) -> Any:
        offloaded.append("read")
        return work()

    run(
        read_at_least(
            2, _views(1, 2), _never, 1.0, offload=offload, pause=time.pause, clock=time.clock
        )
    )
    assert offloaded == ["read", "read"]
