"""Limits over real sockets: refused with LimitExceeded, and the server stays up."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.support import free_base_port, post, start_gateway, stop_gateway

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

DEEP = '{ customer(id: "c1") { recentOrders { lines { productName } } } }'


def test_depth_and_rate_limits_answer_limit_exceeded_and_the_server_stays_up(
    tmp_path: Path,
) -> None:
    """GIVEN `gateway dev --max-depth 2 --rate-limit 3` WHEN a 3-deep query arrives THEN
    LimitExceeded; WHEN 10 requests arrive at once THEN some get HTTP 429 LimitExceeded,
    none get a 5xx; and the server answers normally afterwards."""
    gateway = start_gateway(
        tmp_path / "out.log", free_base_port(2), "--max-depth", "2", "--rate-limit", "3"
    )
    try:
        status, body = post(gateway.primary, DEEP, None, gateway.public())
        assert status == 200
        assert body["errors"][0]["errorType"] == "LimitExceeded"

        statuses = [
            post(gateway.primary, "{ region { name } }", None, gateway.public())[0]
            for _ in range(10)
        ]
        assert 429 in statuses
        assert all(status in (200, 429) for status in statuses)

        status, body = post(gateway.replica, "{ region { name } }", None, gateway.public())
        assert (status, body["data"]["region"]["name"]) == (200, "eu-west-1")
    finally:
        assert stop_gateway(gateway) == 0
