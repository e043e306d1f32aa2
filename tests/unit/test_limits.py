"""Limits: each is refused with LimitExceeded before anything runs."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import parse

from domain.errors import LimitExceeded
from emulator.auth import Caller
from emulator.executor import Executor, load_schema
from emulator.limits import Limits

DEEP = """
query Deep {
  customer(id: "c1") { recentOrders { ...Lines } }
}
fragment Lines on Order { lines { productName } customer { name } }
"""


def test_depth_counts_through_fragments() -> None:
    """GIVEN a query 4 fields deep through a fragment (customer, recentOrders, lines,
    productName) WHEN the limit is 3 THEN refused, and at 4 it passes."""
    with pytest.raises(LimitExceeded, match="4 levels deep; the limit is 3"):
        Limits(max_depth=3).check_depth(parse(DEEP))
    Limits(max_depth=4).check_depth(parse(DEEP))


def test_the_executor_answers_limit_exceeded_without_invoking_anything() -> None:
    """GIVEN a depth limit of 2 WHEN a 4-deep query arrives THEN errorType LimitExceeded
    and the resolver Lambda is never invoked."""
    invoked: list[dict[str, Any]] = []
    executor = Executor(load_schema(), invoked.append, Limits(max_depth=2))

    outcome = executor.execute(DEEP, None, None, Caller("API_KEY"))

    assert outcome.response["data"] is None
    assert outcome.response["errors"][0]["errorType"] == "LimitExceeded"
    assert invoked == []


def test_an_oversized_document_is_refused_before_parsing() -> None:
    """GIVEN a 200,000-character document THEN LimitExceeded naming the limit."""
    executor = Executor(load_schema(), lambda event: None, Limits())
    huge = "{ region { name } }" + " " * 200_000

    outcome = executor.execute(huge, None, None, Caller("API_KEY"))

    assert outcome.response["errors"][0]["errorType"] == "LimitExceeded"
    assert "100000" in outcome.response["errors"][0]["message"]


def test_subscriptions_per_connection_are_capped() -> None:
    """GIVEN a cap of 2 THEN a connection holding 2 may not start a third."""
    limits = Limits(max_subscriptions_per_connection=2)
    limits.check_subscriptions(1)
    with pytest.raises(LimitExceeded, match="2 subscriptions"):
        limits.check_subscriptions(2)


def test_the_rate_limit_is_per_credential_and_refills() -> None:
    """GIVEN 2 requests per second WHEN a key sends 3 at once THEN the third is refused,
    another key is not affected, and half a second later one more is allowed."""
    now = [100.0]
    limits = Limits(rate_per_second=2)

    limits.check_rate("key-a", lambda: now[0])
    limits.check_rate("key-a", lambda: now[0])
    with pytest.raises(LimitExceeded, match="2 requests per second"):
        limits.check_rate("key-a", lambda: now[0])
    limits.check_rate("key-b", lambda: now[0])
    now[0] += 0.5
    limits.check_rate("key-a", lambda: now[0])


def test_no_rate_limit_by_default() -> None:
    """GIVEN the default limits THEN a thousand requests at once all pass."""
    limits = Limits()
    for _ in range(1000):
        limits.check_rate("key", lambda: 0.0)
