"""gateway dev's figures: kept from the handlers' own EMF, summed up as `gateway status` shows."""

from __future__ import annotations

import io
from typing import Any

from cli import status as cli_status
from emulator.telemetry import RegionMetrics
from projections.observability import Observability

from .fakes import ManualClock


def _region(clock: ManualClock) -> tuple[RegionMetrics, Observability]:
    metrics = RegionMetrics(window_s=600, clock=clock)
    return metrics, Observability("gateway-test-telemetry", emf_sink=metrics.record)


def _resolve(observability: Observability, field: str, fail: bool = False) -> None:
    try:
        with observability.resolver_call(field, "req"):
            if fail:
                raise ValueError("refused")
    except ValueError:
        pass


def test_resolver_figures_are_by_field_under_their_cloudwatch_names() -> None:
    """GIVEN 100 calls of one field (one refused) and 3 of another WHEN the status is read
    THEN each field has its call count, error count and p50/p99 latency, under the names
    the Lambda emits on AWS."""
    metrics, observability = _region(ManualClock())
    for call in range(100):
        _resolve(observability, "Query.product", fail=call == 0)
    for _ in range(3):
        _resolve(observability, "Mutation.placeOrder")

    summary = metrics.summary()

    assert summary["namespace"] == "Gateway"
    latency = summary["ResolverLatency"]
    assert {field: spread["count"] for field, spread in latency.items()} == {
        "Mutation.placeOrder": 3,
        "Query.product": 100,
    }
    assert summary["ResolverErrors"] == {"Mutation.placeOrder": 0, "Query.product": 1}
    product = latency["Query.product"]
    assert 0 <= product["p50Ms"] <= product["p99Ms"] <= product["maxMs"]


def test_lags_are_summed_up_over_the_window_only() -> None:
    """GIVEN lags reported 11 minutes ago and just now WHEN the status is read THEN only the
    last 10 minutes count: their count, p50, p99, max and last value."""
    clock = ManualClock()
    metrics, observability = _region(clock)
    with observability.stream_batch() as batch:
        batch.projected(True, 9_000, 9_000)
    clock.advance(660)
    with observability.stream_batch() as batch:
        for lag in range(1, 101):
            batch.projected(True, lag, 2 * lag)

    summary = metrics.summary()

    assert summary["ProjectionLag"] == {
        "count": 100,
        "p50Ms": 50.0,
        "p99Ms": 99.0,
        "maxMs": 100.0,
        "lastMs": 100,
    }
    assert summary["ReplicationLag"]["maxMs"] == 200.0


def test_each_chart_sample_is_the_worst_lag_of_its_second() -> None:
    """GIVEN lags reported in one second, then a second where replication waits WHEN the
    chart samples THEN the first sample is the worst reported, the second the age of the
    change still waiting, so a stalled replication climbs instead of falling silent."""
    clock = ManualClock()
    metrics, observability = _region(clock)
    with observability.stream_batch() as batch:
        batch.projected(True, 40, 300)
        batch.projected(True, 25, 900)
    metrics.sample(0, 0)
    clock.advance(1)
    metrics.sample(5, 1_000)

    history = metrics.history()

    assert history["projectionLagMs"] == [40, 5]
    assert history["replicationLagMs"] == [900, 1_000]
    assert history["at"][1] - history["at"][0] == 1


def test_the_chart_keeps_one_sample_a_second_for_the_window() -> None:
    """GIVEN more seconds sampled than the window holds WHEN the chart is read THEN it has
    the newest window's worth, oldest first."""
    clock = ManualClock()
    metrics = RegionMetrics(window_s=600, clock=clock)
    for second in range(700):
        metrics.sample(second, 0)
        clock.advance(1)

    lags = metrics.history()["projectionLagMs"]

    assert (len(lags), lags[0], lags[-1]) == (600, 100, 699)


def _status_of(name: str, metrics: RegionMetrics) -> dict[str, Any]:
    return {
        "name": name,
        "role": "primary",
        "mode": "ACTIVE",
        "replication": {"lagMs": 0, "backlog": 0},
        "projection": {"lagMs": 0, "backlog": 0},
        "deadLetters": 2,
        "subscribers": 0,
        "metrics": metrics.summary(),
    }


def test_gateway_status_prints_each_regions_metrics_beside_todays_table() -> None:
    """GIVEN a region with resolver calls and lags, and one with none WHEN `gateway status`
    prints the emulator's own view THEN its table comes first, then each region's lags
    and DLQ depth, then each field's calls, errors, p50 and p99."""
    busy, observability = _region(ManualClock())
    _resolve(observability, "Mutation.placeOrder")
    _resolve(observability, "Mutation.placeOrder", fail=True)
    with observability.stream_batch() as batch:
        batch.projected(True, 12, 0)
    idle = RegionMetrics(clock=ManualClock())
    status = {
        "regions": [_status_of("us-east-1", busy), _status_of("eu-west-1", idle)],
        "replication": {"paused": False, "lagMs": 0, "configuredLagMs": 0},
        "faults": [],
    }
    out = io.StringIO()

    cli_status._print_emulator(status, out)

    lines = out.getvalue().splitlines()
    assert lines[1] == "emulator only (gateway dev's own view):"
    assert lines[2].split() == ["region", "replication", "projection", "subscribers", "health"]
    lag_line = next(line for line in lines if line.startswith("us-east-1") and "12/12/12" in line)
    assert lag_line.split()[-1] == "2"  # the DLQ depth
    (placed,) = [line for line in lines if "Mutation.placeOrder" in line]
    assert placed.split()[1:4] == ["Mutation.placeOrder", "2", "1"]
    assert any(line.startswith("eu-west-1") and "none yet" in line for line in lines)
