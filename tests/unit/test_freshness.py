"""minVersion: wait a bounded time for the local projection, then read the primary."""

from __future__ import annotations

from typing import Any

import pytest

from domain.errors import ValidationError
from resolvers.freshness import read_at_least


class FakeTime:
    """A clock that moves only when the code under test pauses."""

    def __init__(self) -> None:
        self.now = 0.0
        self.pauses: list[float] = []

    def pause(self, seconds: float) -> None:
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
    view = read_at_least(None, _views(1), _never, 1.0, time.pause, time.clock)
    assert view == {"id": "p1", "version": 1}
    assert time.pauses == []


def test_a_local_view_that_catches_up_is_returned_without_the_primary() -> None:
    """GIVEN a projection at v1 that reaches v2 on the third read WHEN minVersion 2 is asked
    THEN v2 comes from the local view after two growing waits."""
    time = FakeTime()
    view = read_at_least(2, _views(1, 1, 2), _never, 1.0, time.pause, time.clock)
    assert view == {"id": "p1", "version": 2}
    assert time.pauses == [0.02, 0.04]


def test_a_lagging_region_reads_through_to_the_primary_within_the_budget() -> None:
    """GIVEN a projection stuck at v1 WHEN minVersion 3 is asked with a 1 s budget THEN the
    waits stay within the budget and the primary's v3 is returned."""
    time = FakeTime()
    view = read_at_least(3, _views(1), _views(3), 1.0, time.pause, time.clock)
    assert view == {"id": "p1", "version": 3}
    assert sum(time.pauses) <= 1.0
    assert max(time.pauses) <= 0.2


def test_a_product_unknown_locally_is_read_from_the_primary() -> None:
    """GIVEN a product not yet replicated WHEN minVersion 1 is asked THEN the primary answers."""
    time = FakeTime()
    view = read_at_least(1, _views(None), _views(1), 0.1, time.pause, time.clock)
    assert view == {"id": "p1", "version": 1}


@pytest.mark.parametrize("primary_version", [None, 2])
def test_a_version_nobody_has_is_refused_never_answered_stale(primary_version: int | None) -> None:
    """GIVEN a primary older than minVersion (or without the product) THEN ValidationError,
    never the older view."""
    time = FakeTime()
    with pytest.raises(ValidationError, match="minVersion 5"):
        read_at_least(5, _views(1), _views(primary_version), 0.1, time.pause, time.clock)
