"""Route 53's stand-in and the health checks that guard its latency records."""

from __future__ import annotations

import socket

import pytest

from emulator.edge.health import HealthChecks
from emulator.edge.route53 import LatencyRecords, RegionalEndpoint, nearest_first
from infra.edge import origin_request
from infra.thresholds import HEALTH_EVALUATION_PERIODS
from resolvers.canary import Verdict

from .fakes import ManualClock

ORIGIN = "origin.api.shop.example.com"
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]
OK = Verdict(True, "ok", 10.0, "us-east-1")
FAILED = Verdict(False, "errors: InternalFailure", 10.0)


def records(nearest: str, unhealthy: set[str]) -> LatencyRecords:
    endpoints = [
        RegionalEndpoint(region, ("127.0.0.1", 4000 + REGIONS.index(region)))
        for region in nearest_first(REGIONS, nearest)
    ]
    return LatencyRecords(ORIGIN, endpoints, lambda region: region not in unhealthy)


@pytest.mark.parametrize(
    ("nearest", "unhealthy", "answered"),
    [
        ("us-east-1", set(), "us-east-1"),
        ("eu-west-1", set(), "eu-west-1"),
        ("us-east-1", {"us-east-1"}, "eu-west-1"),
        ("us-east-1", {"us-east-1", "eu-west-1"}, "ap-southeast-2"),
        ("eu-west-1", {"eu-west-1"}, "us-east-1"),
        ("us-east-1", set(REGIONS), "us-east-1"),
    ],
    ids=["nearest", "other-nearest", "next", "the-one-left", "back-to-first", "none-healthy"],
)
def test_the_origin_name_leads_to_the_nearest_healthy_region(
    nearest: str, unhealthy: set[str], answered: str
) -> None:
    """GIVEN latency records tried nearest first WHEN the origin name is resolved THEN
    the answer is the nearest region whose health check passes; with none healthy,
    Route 53 treats them all as healthy and answers the nearest."""
    canonical, aliases, addresses = records(nearest, unhealthy).gethostbyname_ex(ORIGIN + ".")

    assert canonical == f"gatewaydev.appsync-api.{answered}.amazonaws.com"
    assert aliases == [ORIGIN]
    assert addresses == ["127.0.0.1"]


def test_the_answer_has_the_shape_the_edge_function_accepts() -> None:
    """GIVEN the stand-in's answer WHEN the edge function reads it THEN it takes it for
    an AppSync host (its check refuses anything else, on AWS as here)."""
    for region in REGIONS:
        endpoint = RegionalEndpoint(region, ("127.0.0.1", 4000))
        assert origin_request._API_HOST.match(endpoint.api_host), endpoint.api_host


def test_every_regions_hosts_lead_to_its_port_and_nothing_else_resolves() -> None:
    """GIVEN three regions WHEN the edge function's chosen API or real-time host is looked
    up THEN it is that region's loopback port; any other name fails as DNS fails."""
    latency = records("us-east-1", set())
    eu = latency.origin("GatewayDev.AppSync-Realtime-Api.eu-west-1.amazonaws.com.")
    api = latency.origin("gatewaydev.appsync-api.ap-southeast-2.amazonaws.com")

    assert eu is not None and eu.address == ("127.0.0.1", 4001)
    assert api is not None and api.address == ("127.0.0.1", 4002)
    assert latency.origin("gatewaydev.appsync-api.eu-west-2.amazonaws.com") is None
    with pytest.raises(socket.gaierror):
        latency.gethostbyname_ex("origin.api.elsewhere.example.com")


def test_the_nearest_region_must_be_one_of_the_deployments() -> None:
    with pytest.raises(ValueError, match="sa-east-1"):
        nearest_first(REGIONS, "sa-east-1")


def test_a_region_turns_unhealthy_on_two_failed_canaries_of_three_and_back_on_two_good() -> None:
    """GIVEN the canary alarm's rule (2 bad of the last 3) WHEN one run fails THEN the
    region stays healthy (one lost datapoint is tolerated); WHEN a second fails THEN it
    is unhealthy; WHEN runs pass again THEN it is healthy once two have."""
    clock = ManualClock()
    checks = HealthChecks(["us-east-1"], interval_s=1.0, clock=clock)
    seen = []
    for verdict in (OK, FAILED, OK, FAILED, FAILED, OK, OK):
        clock.advance(1.0)
        checks.record("us-east-1", verdict)
        seen.append(checks.healthy("us-east-1"))

    assert seen == [True, True, True, False, False, False, True]


def test_a_region_starts_healthy_and_a_silent_canary_is_a_failing_one() -> None:
    """GIVEN no verdict yet THEN the region is healthy (a new check keeps its last known
    status); WHEN no verdict comes for the whole evaluation window THEN it is unhealthy:
    missing data is breaching."""
    clock = ManualClock()
    checks = HealthChecks(["eu-west-1"], interval_s=2.0, clock=clock)
    assert checks.healthy("eu-west-1")

    checks.record("eu-west-1", OK)
    clock.advance(2.0 * HEALTH_EVALUATION_PERIODS + 0.1)

    assert not checks.healthy("eu-west-1")
    status = checks.status()["eu-west-1"]
    assert status["healthy"] is False
    assert status["lastVerdict"]["healthy"] is True
