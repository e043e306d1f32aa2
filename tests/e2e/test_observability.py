"""Observability of a running `gateway dev`: one correlation id across regions in the
log, the Lambdas' metrics in `gateway status`, and the status page's lag chart."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.support import Gateway, gateway_cli, post, unique, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

PRIMARY, REPLICA = "us-east-1", "eu-west-1"
CREATE = """
mutation($s: String!) { createProduct(input: {sku: $s, name: "Lamp", category: "obs",
  priceCents: 1200, currency: "EUR", stock: 4}) { id version } }"""
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SEEN_WITHIN_S = 15.0


def _log_lines(gateway: Gateway) -> list[dict[str, Any]]:
    """The structured lines the regions' Lambdas wrote to gateway dev's output."""
    lines = []
    for text in gateway.text().splitlines():
        if text.startswith("{"):
            try:
                lines.append(json.loads(text))
            except ValueError:  # a line still being written
                continue
    return lines


def _create_product(gateway: Gateway, correlation_id: str | None = None) -> str:
    headers = gateway.staff()
    if correlation_id is not None:
        headers["x-correlation-id"] = correlation_id
    status, body = post(gateway.primary, CREATE, {"s": unique("OBS")}, headers)
    assert status == 200 and not body.get("errors"), body
    return str(body["data"]["createProduct"]["id"])


def _status_url(gateway: Gateway, region: str = PRIMARY) -> str:
    return gateway.urls[region].removesuffix("/graphql") + "/_emulator/status"


def _get(gateway: Gateway, url: str, accept: str) -> tuple[str, str]:
    request = urllib.request.Request(url, headers={"accept": accept, **gateway.operator()})
    with urllib.request.urlopen(request, timeout=15) as answer:
        return answer.headers.get("content-type", ""), answer.read().decode()


def test_a_write_in_us_east_1_is_logged_under_its_correlation_id_in_both_regions(
    gateway: Gateway,
) -> None:
    """GIVEN a createProduct sent to us-east-1 with correlation id X WHEN it replicates
    THEN gateway dev's log holds X on the mutation's line, and in both regions on the
    stream handler's ``projected`` and ``published`` lines and on the publish mutation
    that carries the change to the region's subscribers."""
    correlation_id = unique("corr")
    product_id = _create_product(gateway, correlation_id)

    def traced() -> dict[tuple[str, str, str], dict[str, Any]]:
        mine = [
            line for line in _log_lines(gateway) if line.get("correlation_id") == correlation_id
        ]
        seen = {(line["region"], line["service"], line["message"]): line for line in mine}
        wanted = {
            (region, service, message)
            for region in (PRIMARY, REPLICA)
            for service, message in (
                ("gateway-projections", "projected"),
                ("gateway-projections", "published"),
                ("gateway-resolvers", "resolved"),
            )
        }
        return seen if wanted <= seen.keys() else {}

    seen = wait_until(traced, SEEN_WITHIN_S, "both regions' lines with the correlation id")

    for region in (PRIMARY, REPLICA):
        projected = seen[(region, "gateway-projections", "projected")]
        assert (projected["aggregate_id"], projected["event_type"]) == (
            product_id,
            "ProductCreated",
        )
        published = seen[(region, "gateway-projections", "published")]
        assert published["mutation"] == "publishProductChanged"
    fields = {
        (line["region"], line["field"])
        for line in _log_lines(gateway)
        if line.get("correlation_id") == correlation_id and line["message"] == "resolved"
    }
    assert fields == {
        (PRIMARY, "Mutation.createProduct"),
        (PRIMARY, "Mutation.publishProductChanged"),
        (REPLICA, "Mutation.publishProductChanged"),
    }


def test_gateway_status_shows_each_regions_lambda_metrics(gateway: Gateway) -> None:
    """GIVEN a write in us-east-1 WHEN `gateway status --json` is read THEN each region
    reports, under the names its Lambdas emit in EMF, resolver latency and errors by
    field, projection and replication lag, and its DLQ depth; and `gateway status` prints
    them."""
    _create_product(gateway)

    def both_projected() -> list[dict[str, Any]]:
        result = gateway_cli(gateway, "status", "--json")
        assert result.returncode == 0, result.stderr
        regions: list[dict[str, Any]] = json.loads(result.stdout)["regions"]
        counts = [region["metrics"]["ProjectionLag"]["count"] for region in regions]
        return regions if all(counts) else []

    regions = {region["name"]: region for region in wait_until(both_projected, SEEN_WITHIN_S)}

    for name, region in regions.items():
        metrics = region["metrics"]
        assert metrics["namespace"] == "Gateway", name
        for lag in ("ProjectionLag", "ReplicationLag"):
            assert metrics[lag]["p50Ms"] <= metrics[lag]["p99Ms"] <= metrics[lag]["maxMs"], name
        published = metrics["ResolverLatency"]["Mutation.publishProductChanged"]
        assert published["count"] >= 1 and published["p99Ms"] >= published["p50Ms"] >= 0, name
        assert metrics["ResolverErrors"]["Mutation.publishProductChanged"] == 0, name
        assert region["deadLetters"] == 0, name
    assert regions[PRIMARY]["metrics"]["ResolverLatency"]["Mutation.createProduct"]["count"] >= 1
    printed = gateway_cli(gateway, "status").stdout
    assert "ProjectionLag p50/p99/max" in printed and "DLQ depth" in printed
    assert ("us-east-1", "Mutation.createProduct") in _printed_resolver_rows(printed)


def test_the_status_page_is_html_for_a_browser_and_json_for_everyone_else(
    gateway: Gateway,
) -> None:
    """GIVEN the status endpoint WHEN a browser asks THEN it gets a page that draws the
    lag chart itself and names no resource on any other host; WHEN anything else asks
    THEN it gets the JSON, with one lag sample a second on request."""
    kind, page = _get(gateway, _status_url(gateway), BROWSER_ACCEPT)
    json_kind, _ = _get(gateway, _status_url(gateway), "*/*")

    assert kind.startswith("text/html") and json_kind.startswith("application/json")
    assert "<svg" in page and "polyline" in page and "?history=1" in page
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", page, re.IGNORECASE)
    assert not re.search(r"""<(script|link|img)[^>]+(src|href)=""", page, re.IGNORECASE)

    def sampled() -> list[dict[str, Any]]:
        _, body = _get(gateway, _status_url(gateway, REPLICA) + "?history=1", "application/json")
        regions: list[dict[str, Any]] = json.loads(body)["regions"]
        return regions if all(len(region["history"]["at"]) >= 2 for region in regions) else []

    for region in wait_until(sampled, 10, "two lag samples per region"):
        history = region["history"]
        assert history["at"] == sorted(history["at"])
        assert (
            len(history["projectionLagMs"])
            == len(history["replicationLagMs"])
            == len(history["at"])
        )


def test_the_status_page_draws_each_regions_lag_in_a_browser_with_no_internet(
    gateway: Gateway,
) -> None:
    """GIVEN a write replicated to both regions WHEN headless Chromium (which has no
    internet here) opens the status page THEN it draws a projection and a replication lag
    line for each region, from the JSON it polls."""
    assert Path(CHROMIUM).exists(), "`make test` installs Debian's chromium"
    _create_product(gateway)
    profile = Path(tempfile.mkdtemp(prefix="chromium-status-"))
    try:
        result = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--virtual-time-budget=5000",
                "--dump-dom",
                # The URL gateway dev prints: it signs the browser in with a cookie.
                _status_url(gateway) + "?token=" + gateway.operator_token(),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        shutil.rmtree(profile, ignore_errors=True)

    dom = result.stdout
    assert result.returncode == 0, result.stderr[-2000:]
    for region in (PRIMARY, REPLICA):
        chart = re.search(rf'<svg class="chart" id="chart-{region}".*?</svg>', dom, re.DOTALL)
        assert chart, dom[:2000]
        for line in ("projection", "replication"):
            drawn = re.search(rf'<polyline class="{line}" points="[^"]+"', chart.group(0))
            assert drawn, (region, line, chart.group(0)[:500])


def _printed_resolver_rows(printed: str) -> set[tuple[str, str]]:
    """(region, field) of each row of `gateway status`'s resolver table with whole-number
    calls and errors; a region's name is printed on its first row only."""
    rows: set[tuple[str, str]] = set()
    region = ""
    table = printed[printed.index("resolvers, last") :].splitlines()[1:]
    for line in table:
        if not line.strip():
            break
        first, *rest = line.split()
        if not line.startswith(" "):
            region, rest = first, rest
        else:
            rest = [first, *rest]
        if len(rest) >= 3 and rest[1].isdigit() and rest[2].isdigit():
            rows.add((region, rest[0]))
    return rows
