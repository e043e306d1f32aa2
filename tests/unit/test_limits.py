"""Limits: each is refused with LimitExceeded before anything runs."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from graphql import parse

from domain.errors import LimitExceeded
from emulator.appsync.auth import Caller
from emulator.appsync.executor import Executor, load_schema
from emulator.appsync.limits import Limits

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
        Limits(max_depth=3).check_document(parse(DEEP), None)
    Limits(max_depth=4).check_document(parse(DEEP), None)


def test_the_executor_answers_limit_exceeded_without_invoking_anything() -> None:
    """GIVEN a depth limit of 2 WHEN a 4-deep query arrives THEN errorType LimitExceeded
    and the resolver Lambda is never invoked."""
    invoked: list[dict[str, Any]] = []
    executor = Executor(load_schema(), invoked.append, Limits(max_depth=2))

    outcome = asyncio.run(executor.execute(DEEP, None, None, Caller("AWS_LAMBDA")))

    assert outcome.response["data"] is None
    assert outcome.response["errors"][0]["errorType"] == "LimitExceeded"
    assert invoked == []


def test_an_oversized_document_is_refused_before_parsing() -> None:
    """GIVEN a 200,000-character document THEN LimitExceeded naming the limit."""
    executor = Executor(load_schema(), lambda event: None, Limits())
    huge = "{ region { name } }" + " " * 200_000

    outcome = asyncio.run(executor.execute(huge, None, None, Caller("AWS_LAMBDA")))

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

    limits.check_rate("key-a", clock=lambda: now[0])
    limits.check_rate("key-a", clock=lambda: now[0])
    with pytest.raises(LimitExceeded, match="2 resolvers per second"):
        limits.check_rate("key-a", clock=lambda: now[0])
    limits.check_rate("key-b", clock=lambda: now[0])
    now[0] += 0.5
    limits.check_rate("key-a", clock=lambda: now[0])


def test_no_rate_limit_by_default() -> None:
    """GIVEN the default limits THEN a thousand requests at once all pass."""
    limits = Limits()
    for _ in range(1000):
        limits.check_rate("key", clock=lambda: 0.0)


def aliases(count: int, field: str = "products(first:100){nextToken}") -> str:
    """``count`` aliases of one root field, each its own resolver invocation."""
    return " ".join(f"a{index}: {field}" for index in range(count))


def test_2500_aliases_are_refused_before_validation_and_before_any_resolver(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """
    GIVEN the default limits and a query of 2,500 aliased products(first: 100) fields,
          under the document size limit
    WHEN it is executed
    THEN it is refused with LimitExceeded naming the resolver count limit, graphql-core's
         validation (quadratic in the worst case) never ran, and no resolver was invoked
    """
    import emulator.appsync.executor

    validated: list[object] = []
    real_validate = emulator.appsync.executor.validate
    monkeypatch.setattr(
        emulator.appsync.executor,
        "validate",
        lambda *args, **kwargs: validated.append(args) or real_validate(*args, **kwargs),
    )
    invoked: list[dict[str, Any]] = []
    executor = Executor(load_schema(), invoked.append, Limits())
    query = "{ " + aliases(2_500) + " }"
    assert len(query) < Limits().max_document_chars

    outcome = asyncio.run(executor.execute(query, None, None, Caller("AWS_LAMBDA")))

    assert outcome.response["data"] is None
    [error] = outcome.response["errors"]
    assert error["errorType"] == "LimitExceeded"
    assert "2500 resolvers" in error["message"]
    assert validated == []
    assert invoked == []


def test_fragments_cannot_hide_fields_from_the_resolver_count() -> None:
    """
    GIVEN a resolver count limit of 5 and 6 root fields reached only through fragments
          (a named fragment, a fragment inside it, and an inline fragment)
    WHEN the document is checked
    THEN it counts 6 and is refused; spreading the same fragment twice counts its fields
         once (graphql-core merges them into one execution each)
    """
    limits = Limits(max_resolvers=5)
    hidden = parse(
        "{ ...Outer ... on Query { c: region { name } } }"
        " fragment Outer on Query { a: region { name } ...Inner b: region { name } }"
        " fragment Inner on Query { d: region { name } e: region { name } f: region { name } }"
    )
    twice = parse(
        "{ ...Five ...Five } fragment Five on Query { " + aliases(5, "region { name }") + " }"
    )

    with pytest.raises(LimitExceeded, match="6 resolvers; the limit is 5"):
        limits.check_document(hidden, None)
    assert limits.check_document(twice, None) == 5


def test_a_fragment_cycle_is_left_to_validation_not_a_crash() -> None:
    """GIVEN fragments that spread each other WHEN the limits measure the document before
    validation THEN they finish (validation then refuses the cycle)."""
    cycle = parse(
        "{ ...A } fragment A on Query { region { name } ...B } fragment B on Query { ...A }"
    )

    assert Limits().check_document(cycle, None) == 1


def test_a_request_costs_its_resolver_count_from_the_rate_bucket() -> None:
    """
    GIVEN a rate limit of 10 resolvers per second for one client token
    WHEN it sends a query of 8 fields, then one of 5 at the same instant
    THEN the first is answered and the second is refused with HTTP 429 LimitExceeded
         before any resolver runs (the bucket holds only 2)
    """
    invoked: list[dict[str, Any]] = []
    executor = Executor(
        load_schema(),
        lambda event: invoked.append(event) or {"name": "r"},
        Limits(rate_per_second=10),
    )
    caller = Caller("AWS_LAMBDA", credential="token-a")

    first = asyncio.run(
        executor.execute("{ " + aliases(8, "region { name }") + " }", None, None, caller)
    )
    second = asyncio.run(
        executor.execute("{ " + aliases(5, "region { name }") + " }", None, None, caller)
    )

    assert (first.status, len(invoked)) == (200, 8)
    assert second.status == 429
    assert second.response["errors"][0]["errorType"] == "LimitExceeded"
    assert len(invoked) == 8
