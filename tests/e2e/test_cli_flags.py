"""`gateway dev` flags: more regions, replication lag, sample data, and refused values."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.support import free_base_port, start_gateway, stop_gateway, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

SEEDED_LIGHTING = ["LAMP-001", "LAMP-002"]
LIGHTING = '{ products(category: "lighting") { items { sku version } } }'


def test_seed_reaches_every_region_of_a_three_region_deployment(tmp_path: Path) -> None:
    """GIVEN `gateway dev --seed` with three regions, 200 ms of replication lag, and
    eu-west-1 as the region nearest the developer WHEN it is ready THEN each region
    listens on its own port, the global endpoint on the next one, answered by eu-west-1,
    and the sample products appear in every region's projection."""
    port = free_base_port(3)
    regions = "us-east-1,eu-west-1,ap-southeast-2"
    gateway = start_gateway(
        tmp_path / "out.log",
        port,
        "--regions",
        regions,
        "--replication-lag-ms",
        "200",
        "--seed",
        "--nearest-region",
        "eu-west-1",
    )
    try:
        assert "seeded 5 sample products" in gateway.text()
        assert gateway.urls == {
            region: f"http://127.0.0.1:{port + index}/graphql"
            for index, region in enumerate(regions.split(","))
        }
        assert gateway.global_url == f"http://127.0.0.1:{port + 3}/graphql"
        assert gateway.query(gateway.global_url, "{ region { name } }") == {
            "region": {"name": "eu-west-1"}
        }
        for region, url in gateway.urls.items():
            info = gateway.query(url, "{ region { name primary } }")["region"]
            assert info == {"name": region, "primary": "us-east-1"}

            def seeded(url: str = url) -> list[str]:
                items = gateway.query(url, LIGHTING)["products"]["items"]
                return sorted(item["sku"] for item in items)

            wait_until(lambda: seeded() == SEEDED_LIGHTING, 15, f"the seed in {region}")
    finally:
        assert stop_gateway(gateway) == 0


@pytest.mark.parametrize(
    ("flags", "complaint"),
    [
        (["--regions", ","], "--regions"),
        (["--regions", "us-east-1,us-east-1"], "--regions"),
        (["--replication-lag-ms", "-5"], "--replication-lag-ms"),
        (["--host", "0.0.0.0"], "loopback"),
        (["--port", "70000"], "--port"),
        (["--port", "many"], "invalid int value"),
        (["--resolver-count-limit", "10001"], "--resolver-count-limit"),
        (["--resolver-count-limit", "-1"], "--resolver-count-limit"),
        (["--max-depth", "76"], "--max-depth"),
        (["--max-sockets-per-key", "0"], "--max-sockets-per-key"),
        (["--connection-init-timeout-ms", "0"], "--connection-init-timeout-ms"),
        (["--request-read-timeout-ms", "-1"], "--request-read-timeout-ms"),
        (["--nearest-region", "sa-east-1"], "--nearest-region"),
        (["--health-interval-s", "0"], "--health-interval-s"),
        (["--edge-cache-s", "-1"], "--edge-cache-s"),
        (["--port", "65534"], "--port"),
        (["--public-token", "short"], "--public-token"),
        (["--api-key", "da2-gatewaylocaldevelopmentkey"], "--public-token"),
    ],
)
def test_bad_flags_are_refused_with_a_reason(flags: list[str], complaint: str) -> None:
    """GIVEN a flag value that cannot work WHEN `gateway dev` starts THEN it exits 2 at
    once, naming the flag, without a traceback and without listening anywhere."""
    result = subprocess.run(
        [sys.executable, "-m", "cli", "dev", *flags],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert complaint in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_a_bad_environment_setting_is_refused_with_a_reason() -> None:
    """GIVEN GATEWAY_CONTROL_CACHE_MS=soon WHEN `gateway dev` starts THEN it exits 2 naming
    the variable, without a traceback."""
    result = subprocess.run(
        [sys.executable, "-m", "cli", "dev", "--port", "4990"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "GATEWAY_CONTROL_CACHE_MS": "soon"},
    )
    assert result.returncode == 2
    assert "GATEWAY_CONTROL_CACHE_MS" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
