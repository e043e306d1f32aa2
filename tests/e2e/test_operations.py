"""Operator commands against a running `gateway dev`: rebuild and the dead letters."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.support import Gateway, unique, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]


def gateway_command(*words: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *words],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_rebuild_keeps_every_product_readable_in_every_region(gateway: Gateway) -> None:
    """GIVEN a product projected in both regions WHEN the operator rebuilds the projections
    THEN each region reports the events it replayed and still answers the product."""
    category = unique("rebuild")
    created = gateway.query(
        gateway.replica,
        'mutation($c: String!, $s: String!) { createProduct(input: {sku: $s, name: "Vase", '
        'category: $c, priceCents: 900, currency: "EUR", stock: 3}) { id } }',
        {"c": category, "s": unique("VASE")},
    )["createProduct"]
    listing = "query($c: String) { products(category: $c) { items { id version } } }"
    for url in gateway.urls.values():
        wait_until(
            lambda url=url: gateway.query(url, listing, {"c": category})["products"]["items"], 15
        )

    result = gateway_command("projections", "rebuild", "--state-dir", str(gateway.state_dir))

    assert result.returncode == 0, result.stderr
    assert "us-east-1: rebuilt from" in result.stdout
    assert "eu-west-1: rebuilt from" in result.stdout
    assert "Traceback" not in result.stderr
    for url in gateway.urls.values():
        items = gateway.query(url, listing, {"c": category})["products"]["items"]
        assert items == [{"id": created["id"], "version": 1}]


def test_a_dry_run_rebuild_counts_and_changes_nothing(gateway: Gateway) -> None:
    """GIVEN a product projected in both regions WHEN the operator asks for a dry run of
    eu-west-1's rebuild THEN it says how many views it would delete and events it would
    apply, warns that reads would miss data meanwhile, and the product is still there."""
    category = unique("dry")
    gateway.query(
        gateway.primary,
        'mutation($c: String!, $s: String!) { createProduct(input: {sku: $s, name: "Jug", '
        'category: $c, priceCents: 700, currency: "EUR", stock: 1}) { id } }',
        {"c": category, "s": unique("JUG")},
    )
    listing = "query($c: String) { products(category: $c) { items { id } } }"
    wait_until(
        lambda: gateway.query(gateway.replica, listing, {"c": category})["products"]["items"], 15
    )

    result = gateway_command(
        "projections", "rebuild", "--dry-run", "--region", "eu-west-1",
        "--state-dir", str(gateway.state_dir),
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("eu-west-1: would delete ")
    assert "nothing changed (a rebuild leaves reads in eu-west-1 missing data" in result.stdout
    assert gateway.query(gateway.replica, listing, {"c": category})["products"]["items"]


def test_dead_letters_are_listed_per_region(gateway: Gateway) -> None:
    """GIVEN a healthy deployment WHEN the operator lists and redrives the dead letters
    THEN each region reports none, and the redrive succeeds with nothing to do."""
    listed = gateway_command("dlq", "list", "--state-dir", str(gateway.state_dir))
    redriven = gateway_command("dlq", "redrive", "--state-dir", str(gateway.state_dir))

    assert listed.returncode == 0, listed.stderr
    assert "us-east-1: 0 dead letters" in listed.stdout
    assert "eu-west-1: 0 dead letters" in listed.stdout
    assert redriven.returncode == 0
    assert "0 applied, 0 still failing" in redriven.stdout


@pytest.mark.parametrize(
    ("words", "code", "complaint"),
    [
        (["dlq", "list", "--region", "mars-1"], 2, "unknown region mars-1"),
        (["projections", "rebuild", "--region", "mars-1"], 2, "unknown region mars-1"),
    ],
)
def test_an_unknown_region_is_refused(
    gateway: Gateway, words: list[str], code: int, complaint: str
) -> None:
    """GIVEN a region the deployment does not run WHEN named THEN exit 2, naming it."""
    result = gateway_command(*words, "--state-dir", str(gateway.state_dir))
    assert (result.returncode, complaint in result.stderr) == (code, True)


def test_without_a_running_gateway_the_commands_say_how_to_start_one(tmp_path: Path) -> None:
    """GIVEN no gateway dev for this state directory THEN exit 1 with what to do."""
    result = gateway_command("dlq", "list", "--state-dir", str(tmp_path / "none"))
    assert result.returncode == 1
    assert "make dev" in result.stderr
    assert "Traceback" not in result.stderr
