"""`gateway failover` refuses what cannot work, with the reason and no traceback; and the
primary is never split: not by a failback issued before the last failover has
replicated, nor by an old primary that comes back before the failover reaches it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.game_day import (
    failover,
    open_shop,
    place_order,
    restore,
)
from tests.e2e.ledger import (
    PRIMARY,
    REGIONS,
    REPLICA,
    ledger_problems,
    orders_in,
    primary_seen_by,
    settle,
)
from tests.e2e.support import (
    REPO_ROOT,
    Gateway,
    free_base_port,
    start_gateway,
    stop_gateway,
    wait_until,
)
from tests.e2e.test_chaos import chaos, switch_on

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

REPLICATED_WITHIN_S = 15.0
LAG_MS = 4000


@pytest.fixture(scope="module")
def failover_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A deployment of its own, whose primary moves: a 100 ms control cache."""
    output: Path = tmp_path_factory.mktemp("failover") / "gateway-dev.log"
    running = start_gateway(
        output,
        free_base_port(2),
        "--regions",
        ",".join(REGIONS),
        env={"GATEWAY_CONTROL_CACHE_MS": "100"},
    )
    yield running
    assert stop_gateway(running) == 0, running.text()


@pytest.fixture
def gateway(failover_gateway: Gateway) -> Iterator[Gateway]:
    """The deployment, settled with us-east-1 primary before and after each test."""
    restore(failover_gateway)
    yield failover_gateway
    restore(failover_gateway)


def cli(state_dir: Path, *words: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *words, "--state-dir", str(state_dir)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def primaries(gateway: Gateway) -> list[str]:
    return [primary_seen_by(gateway, region) for region in REGIONS]


@pytest.mark.parametrize(
    ("words", "code", "complaint"),
    [
        (["--to", "mars-1"], 2, "mars-1 is not a region of this deployment (us-east-1, eu-west-1)"),
        (["--to", "mars-1", "--force"], 2, "mars-1 is not a region of this deployment"),
        (["--to", PRIMARY], 2, f"{PRIMARY} is already the primary (epoch"),
        (["--to", PRIMARY, "--force"], 2, f"{PRIMARY} is already the primary"),
        ([], 2, "the following arguments are required: --to"),
        (["--to"], 2, "expected one argument"),
    ],
)
def test_a_failover_that_cannot_work_exits_with_the_reason_and_changes_nothing(
    gateway: Gateway, words: list[str], code: int, complaint: str
) -> None:
    """GIVEN us-east-1 primary WHEN the operator fails over to an unknown region, to the
    current primary, or without saying where THEN the command exits 2 with the reason,
    no traceback, and both regions still name us-east-1."""
    assert gateway.state_dir is not None
    result = cli(gateway.state_dir, "failover", *words)

    assert (result.returncode, complaint in result.stderr) == (code, True), result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert primaries(gateway) == [PRIMARY, PRIMARY]


def test_a_failover_to_a_region_that_cannot_be_reached_exits_2_and_changes_nothing(
    gateway: Gateway,
) -> None:
    """GIVEN eu-west-1's DynamoDB fails WHEN the operator fails over to it, with or
    without --force THEN each exits 2 saying it cannot be reached, with no traceback,
    and once the outage is cleared both regions still name us-east-1."""
    assert gateway.state_dir is not None
    switch_on(gateway, "outage", "--region", REPLICA)

    results = [failover(gateway, REPLICA), failover(gateway, REPLICA, "--force")]

    for result in results:
        assert result.returncode == 2, result.stderr
        assert f"{REPLICA} cannot be reached" in result.stderr
        assert "Traceback" not in result.stderr
    restore(gateway)
    assert primaries(gateway) == [PRIMARY, PRIMARY]


@pytest.mark.parametrize(
    ("state", "complaint"),
    [
        (None, "no gateway dev is running with state in"),
        ('{"endpoint_url": "http://127.0.0.1:9"', "is not a gateway dev state file"),
        ("dead pid", "is no longer running"),
    ],
    ids=["no state file", "a torn state file", "a stopped gateway"],
)
def test_without_a_running_gateway_failover_exits_1_and_says_so(
    tmp_path: Path, state: str | None, complaint: str
) -> None:
    """GIVEN no gateway dev behind the state directory WHEN the operator fails over THEN
    the command exits 1 with what to do, and no traceback."""
    if state == "dead pid":
        body = {
            "endpoint_url": "http://127.0.0.1:9",
            "regions": list(REGIONS),
            "urls": ["http://127.0.0.1:9/graphql", "http://127.0.0.1:10/graphql"],
            "credentials": {
                "public_token": "k",
                "access_key_id": "AKIA",
                "secret_access_key": "s",
            },
            "operator_token": "t",
            "pid": 2**22 + 1,  # above the kernel's largest pid: no such process
        }
        (tmp_path / "dev.json").write_text(json.dumps(body))
    elif state is not None:
        (tmp_path / "dev.json").write_text(state)

    for force in ([], ["--force"]):
        result = cli(tmp_path, "failover", "--to", REPLICA, *force)

        assert (result.returncode, complaint in result.stderr) == (1, True), result.stderr
        assert "Traceback" not in result.stderr


def test_a_failback_before_the_promotion_has_replicated_fences_the_real_primary(
    gateway: Gateway,
) -> None:
    """
    GIVEN replication lagging 4 s, and a planned failover to eu-west-1 just done
    WHEN the operator fails back to us-east-1 at once, before eu-west-1's promotion
         has reached us-east-1 (which still holds its own fence)
    THEN the failback fences eu-west-1, the latest primary by epoch, waits for the fence
         to drain and promotes us-east-1: it exits 0, both regions name us-east-1, and
         orders through either region are acknowledged, never split between two
         primaries
    """
    shop = open_shop(gateway, stocks=(10,), customers=1)
    # Longer than the command takes to start, so the failback comes before the promotion.
    lag = switch_on(gateway, "replication", "--lag-ms", str(LAG_MS))
    moved = failover(gateway, REPLICA)
    early = failover(gateway, PRIMARY)
    wait_until(lambda: primaries(gateway) == [PRIMARY, PRIMARY], REPLICATED_WITHIN_S, "back")
    customer, product = shop.customers[0], next(iter(shop.stock))
    placed = [place_order(gateway, region, customer, product) for region in REGIONS]

    assert moved.returncode == 0, moved.stderr
    assert early.returncode == 0, early.stdout + early.stderr
    assert early.stdout.startswith(f"{PRIMARY} is the primary now"), early.stdout
    assert f"was {REPLICA}" in early.stdout, early.stdout
    assert [attempt.error_type for attempt in placed] == [None] * 2, placed
    assert chaos(gateway, "clear", lag).returncode == 0
    settle(gateway, shop, placed)


def test_an_old_primary_back_before_the_failover_reaches_it_takes_no_write_of_its_own(
    gateway: Gateway,
) -> None:
    """
    GIVEN us-east-1 lost (its DynamoDB fails), eu-west-1 promoted by a forced failover,
          and an order taken by eu-west-1 since
    WHEN us-east-1 comes back before replication has brought it the new control record
         (replication paused: it trails after an outage), and an order comes through it
    THEN that order is refused with PrimaryUnavailable, or written in eu-west-1; never in
         us-east-1's own table under the superseded epoch, from stale stock, to collide
         with eu-west-1's writes once replication resumes. So afterwards both regions
         hold every acknowledged order, and the stock the ledger says.
    """
    shop = open_shop(gateway, stocks=(10,), customers=1)
    customer, product = shop.customers[0], next(iter(shop.stock))
    placed = [place_order(gateway, PRIMARY, customer, product)]
    wait_until(
        lambda: not ledger_problems(gateway, shop, placed), REPLICATED_WITHIN_S, "replication"
    )
    outage = switch_on(gateway, "outage", "--region", PRIMARY)
    forced = failover(gateway, REPLICA, "--force")
    placed.append(place_order(gateway, REPLICA, customer, product))
    switch_on(gateway, "replication", "--pause")
    assert chaos(gateway, "clear", outage).returncode == 0
    returning = place_order(gateway, PRIMARY, customer, product)
    placed.append(returning)

    assert forced.returncode == 0, forced.stderr
    assert placed[1].order is not None, placed[1]
    assert returning.order is not None or returning.error_type == "PrimaryUnavailable", returning
    if returning.order is not None:
        # Written in the primary, it is projected there though replication is paused.
        wait_until(
            lambda: orders_in(gateway, gateway.replica, [str(returning.order_id)]).popitem()[1],
            REPLICATED_WITHIN_S,
            "the order us-east-1 acknowledged to be in eu-west-1, the primary",
        )
    assert chaos(gateway, "replication", "--resume").returncode == 0
    settle(gateway, shop, placed, primary=REPLICA)
