"""minVersion with replication lag far above the read-your-writes wait."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.support import free_base_port, post, start_gateway, stop_gateway, unique

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

CREATE = (
    'mutation($s: String!) { createProduct(input: {sku: $s, name: "Jug", category: "ryw", '
    'priceCents: 700, currency: "EUR", stock: 5}) { id version } }'
)
READ = "query($id: ID!, $v: Int) { product(id: $id, minVersion: $v) { id name version } }"
RENAME = (
    "mutation($id: ID!) { updateProduct(input: {id: $id, expectedVersion: 1, "
    'name: "Tall jug"}) { version } }'
)


def test_min_version_answers_from_the_primary_when_replication_lags_30_seconds(
    tmp_path: Path,
) -> None:
    """GIVEN replication lagging 30 s (the wait is 1 s) WHEN eu-west-1 is asked for a
    product just written, with the version the mutation returned THEN it answers that
    version at once from the primary, while a plain read there still sees nothing, then
    the older version."""
    gateway = start_gateway(
        tmp_path / "out.log", free_base_port(2), "--replication-lag-ms", "30000"
    )
    try:
        created = gateway.query(gateway.primary, CREATE, {"s": unique("JUG")})["createProduct"]
        plain = gateway.query(gateway.replica, READ, {"id": created["id"]})["product"]
        fresh = gateway.query(gateway.replica, READ, {"id": created["id"], "v": 1})["product"]
        assert plain is None
        assert fresh == {"id": created["id"], "name": "Jug", "version": 1}

        renamed = gateway.query(gateway.primary, RENAME, {"id": created["id"]})["updateProduct"]
        fresh = gateway.query(gateway.replica, READ, {"id": created["id"], "v": renamed["version"]})
        assert fresh["product"] == {"id": created["id"], "name": "Tall jug", "version": 2}

        status, body = post(gateway.replica, READ, {"id": created["id"], "v": 3}, gateway.public())
        assert status == 200
        assert body["data"]["product"] is None
        assert body["errors"][0]["errorType"] == "ValidationError"
        assert "minVersion 3" in body["errors"][0]["message"]
    finally:
        assert stop_gateway(gateway) == 0
