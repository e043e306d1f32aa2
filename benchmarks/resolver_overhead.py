"""Resolver overhead: the resolver Lambda's handler against the raw boto3 call it needs.

Each query is answered through :class:`~resolvers.handler.ResolverHandler` (powertools
routing, the reader, decoding, shaping) and, on the same moto in this process, by the
one raw ``GetItem`` its answer needs. Handler and raw calls alternate in rounds, each
round starting with the other side, so noise falls on both.

Overhead = (handler time - raw time) / raw time, per round; the figure is the median
round. The limit is 1.0: the gateway may add at most as much as DynamoDB itself costs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NamedTuple

from benchmarks import inprocess
from benchmarks.report import Row, judged, limit_text
from benchmarks.stats import Summary
from projections import keys
from projections.table import encode

PART = "resolver-overhead"
LIMIT = 1.0
ROUNDS = 7
CALLS = 20


class Query(NamedTuple):
    """A query the handler answers, and the one raw request that answer needs."""

    name: str
    field: str
    arguments: Callable[[inprocess.Seeded], dict[str, Any]]
    raw_key: Callable[[inprocess.Seeded], dict[str, str]]


QUERIES = (
    Query(
        "product(id)",
        "product",
        lambda ids: {"id": ids.product_id},
        lambda ids: keys.product_view_key(ids.product_id),
    ),
    Query(
        "order(id)",
        "order",
        lambda ids: {"id": ids.order_id},
        lambda ids: keys.order_view_key(ids.order_id),
    ),
    Query(
        "customer(id){recentOrders}",
        "customer",
        lambda ids: {"id": ids.customer_id},
        lambda ids: keys.customer_view_key(ids.customer_id),
    ),
)


class Timings(NamedTuple):
    """Seconds per call in each round, on each side, and the requests one answer sent."""

    handler: list[float]
    raw: list[float]
    requests: list[str]


def measure(rounds: int = ROUNDS, calls: int = CALLS) -> dict[str, Timings]:
    with inprocess.region() as here:
        ids = inprocess.seed(here)
        raw_client = here.settings.dynamodb(here.settings.region)
        table = here.settings.projection_table
        sent = inprocess.count_requests([here.services.projections.client])
        timings: dict[str, Timings] = {}
        for query in QUERIES:
            event = inprocess.event("Query", query.field, query.arguments(ids))
            request = {"TableName": table, "Key": encode(query.raw_key(ids))}
            sent.clear()
            answer = here.handler(event, None)
            assert answer and answer["id"], f"{query.name} answered {answer!r}"
            requests = list(sent)
            assert "Item" in raw_client.get_item(**request)

            def handler(event: dict[str, Any] = event) -> None:
                here.handler(event, None)

            def raw(request: dict[str, Any] = request) -> None:
                raw_client.get_item(**request)

            timings[query.name] = _rounds(handler, raw, rounds, calls, requests)
        return timings


def _rounds(
    handler: Callable[[], None],
    raw: Callable[[], None],
    rounds: int,
    calls: int,
    requests: list[str],
) -> Timings:
    handler_s: list[float] = []
    raw_s: list[float] = []
    for number in range(rounds + 1):
        sides = [(handler, handler_s), (raw, raw_s)]
        for call, into in sides if number % 2 else reversed(sides):
            started = time.perf_counter()
            for _ in range(calls):
                call()
            into.append((time.perf_counter() - started) / calls)
    # The first round warms both sides up (clients, caches) and is left out.
    return Timings(handler_s[1:], raw_s[1:], requests)


def rows(timings: dict[str, Timings]) -> list[Row]:
    table = []
    for name, timing in timings.items():
        overhead = Summary.of(
            [(h - r) / r for h, r in zip(timing.handler, timing.raw, strict=True)]
        )
        handler = Summary.of([s * 1e6 for s in timing.handler])
        raw = Summary.of([s * 1e6 for s in timing.raw])
        requests = ", ".join(timing.requests) or "none"
        table.append(
            Row(
                part=PART,
                key=name,
                figure=f"{name} through the resolver handler: {handler.text('µs')}; "
                f"{len(timing.requests)} request ({requests})",
                against=f"raw boto3 GetItem of the same view, same moto: {raw.median:.0f} µs; "
                f"ratio = (handler - raw) / raw, per round (min {overhead.low:.2f}, "
                f"max {overhead.high:.2f})",
                ratio=overhead.median,
                limit=limit_text(LIMIT, "lower"),
                verdict=judged(overhead.median, LIMIT, "lower"),
            )
        )
    return table


def run() -> list[Row]:
    return rows(measure())
