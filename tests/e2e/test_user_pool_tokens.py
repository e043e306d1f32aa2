"""`gateway token` mints what `gateway dev` accepts, as a Cognito user pool would."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.e2e.support import Gateway, post, unique

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

CREATE = (
    'mutation($s: String!) { createProduct(input: {sku: $s, name: "Stool", category: '
    '"tokens", priceCents: 2500, currency: "EUR", stock: 2}) { id version } }'
)


def mint(gateway: Gateway, *words: str) -> str:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "emulator.cli",
            "token",
            *words,
            "--state-dir",
            str(gateway.state_dir),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and result.stderr == ""  # stdout holds the token and nothing else
    return lines[0]


def test_staff_may_write_products_and_customers_may_not(gateway: Gateway) -> None:
    """GIVEN tokens from `gateway token` for a staff member and a customer WHEN each
    creates a product through eu-west-1 THEN staff succeed (raw or Bearer) and the
    customer gets Unauthorized, with nothing written."""
    staff = mint(gateway, "--sub", "staff-1", "--groups", "staff")
    customer = mint(gateway, "--sub", "c-1", "--groups", "customers")

    for header in (staff, f"Bearer {staff}"):
        status, body = post(
            gateway.replica, CREATE, {"s": unique("STOOL")}, {"Authorization": header}
        )
        assert status == 200 and body["data"]["createProduct"]["version"] == 1, body
    status, body = post(
        gateway.replica, CREATE, {"s": unique("STOOL")}, {"Authorization": customer}
    )
    assert status == 200
    assert body["data"]["createProduct"] is None
    assert body["errors"][0]["errorType"] == "Unauthorized"


def test_a_forged_token_gets_401(gateway: Gateway) -> None:
    """GIVEN a token whose payload was altered WHEN sent THEN HTTP 401, no data."""
    header, payload, signature = mint(gateway, "--sub", "c-1").split(".")
    forged = f"{header}.{payload[:-2]}xx.{signature}"
    status, body = post(gateway.primary, "{ region { name } }", None, {"Authorization": forged})
    assert status == 401
    assert body["errors"][0]["errorType"] == "UnauthorizedException"


@pytest.mark.parametrize(
    ("words", "complaint"), [(["--sub", " "], "--sub"), (["--sub", "x", "--ttl", "0"], "--ttl")]
)
def test_token_refuses_bad_flags(gateway: Gateway, words: list[str], complaint: str) -> None:
    """GIVEN an empty sub or a non-positive ttl THEN exit 2 naming the flag."""
    result = subprocess.run(
        [sys.executable, "-m", "emulator.cli", "token", *words], capture_output=True, text=True
    )
    assert result.returncode == 2 and complaint in result.stderr
