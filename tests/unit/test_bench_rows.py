"""Every benchmark part turns a tiny made-up measurement into well-formed BENCHMARKS.md rows.

No part is run here (they time things, and need sockets or moto): each row builder is
fed figures of the shape its ``measure`` returns.
"""

from __future__ import annotations

import importlib

import pytest

from benchmarks import (
    cold_start,
    dynamodb_requests,
    emulator_http,
    fanout,
    freshness,
    place_order,
    projection,
    report,
    resilience,
    resolver_overhead,
    run,
    synth,
)
from benchmarks.report import Row


def _built() -> dict[str, list[Row]]:
    samples = {name: ([0.25, 0.27], [0.2, 0.21]) for name in ("resolver handler", "stream handler")}
    return {
        "cold-start": cold_start.rows(cold_start.Measured(samples, {}), None),
        "resolver-overhead": resolver_overhead.rows(
            {
                q.name: resolver_overhead.Timings([2e-3, 3e-3], [1e-3, 2e-3], ["GetItem"])
                for q in resolver_overhead.QUERIES
            }
        ),
        "requests": dynamodb_requests.rows(
            {
                op.name: [["GetItem"] * op.minimum, ["GetItem"] * op.minimum]
                for op in dynamodb_requests.OPERATIONS
            }
        ),
        "emulator-http": emulator_http.rows(emulator_http.Timings([0.03, 0.04], [0.02, 0.02])),
        "projection": projection.rows(
            {"product events": projection.Throughput(10, 11, [0.1, 0.12], [0.01, 0.012])}
        ),
        "place-order": place_order.rows(
            {
                "order_ms": [20.0, 22.0],
                "raw_ms": [7.0, 8.0],
                "requests_per_order": 4,
                "operations": ["GetItem", "TransactWriteItems"],
            }
        ),
        "freshness": freshness.rows({0: [0.08, 0.09, 0.1], 200: [0.28, 0.3, 0.31]}),
        "fanout": fanout.rows(
            {
                "gateway": fanout.Side([[0.1, 0.2], [0.15, 0.25]], 0, 100.0, 130.0),
                "simulator": fanout.Side([[0.05, 0.1], [0.06, 0.12]], 0, 150.0, 160.0),
            }
        ),
        "synth": synth.rows(([12.0, 13.0, 11.0], 560.0)),
        "resilience": resilience.rows(
            resilience.Recovery(
                [2.0, 2.5, 1.9],
                [(0.0, 0, True), (210.0, 2, True)],
                resilience.CatchUp(100, [4.0, 4.2], [5.0, 5.5]),
            )
        ),
        "catch-up-10k": [
            resilience.catch_up_row(resilience.CatchUp(10_000, [400.0], [500.0]), "catch-up-10k")
        ],
    }


BUILT = _built()


def test_every_part_has_a_row_builder_here() -> None:
    assert set(BUILT) == set(run.PARTS)


@pytest.mark.parametrize("part", sorted(BUILT))
def test_a_parts_rows_are_well_formed(part: str) -> None:
    """GIVEN a part's made-up figures WHEN its rows are built THEN each names its part and a
    key unique in it, says what it is measured against, has a finite ratio or none, and
    reads back from a table as it was written."""
    rows = BUILT[part]

    assert rows
    assert all(row.part == part and row.key and row.figure and row.against for row in rows)
    assert len({row.key for row in rows}) == len(rows)
    assert all(row.ratio is None or row.ratio == row.ratio for row in rows)
    assert all(row.better in report.ARROWS and row.limit and row.verdict for row in rows)
    parsed = report.parse("\n".join(report.table(rows)))
    assert [(r.key, r.ratio is None) for r in parsed] == [(r.key, r.ratio is None) for r in rows]


def test_each_part_names_a_function_that_exists() -> None:
    for name, part in run.PARTS.items():
        module = importlib.import_module(f"benchmarks.{part.module}")
        assert callable(getattr(module, part.function)), name


def test_the_catch_up_sample_says_it_was_scaled() -> None:
    catch_up = resilience.CatchUp(250, [10.0, 10.0, 12.0, 8.0], [12.5, 12.5, 13.0, 12.0])

    row = resilience.catch_up_row(catch_up, "resilience")

    assert row.figure.startswith("catch-up of 10,000 events, extrapolated: 500 s (20 events/s)")
    assert row.ratio == 1.25
