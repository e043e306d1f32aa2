"""Game days: one fault at a time over a real `gateway dev`, under a steady load of orders.

Each game day places orders continuously, through both regions, before, during and
after its fault, then proves the books balance: every acknowledged order exists exactly
once in every region's projections, every refusal said why with an expected errorType,
stock is never negative and equals the starting stock less what was acknowledged, and
`gateway status` shows every lag and backlog back at 0, no dead letters and no fault.

InsufficientStock is expected on every game day (one product is short on purpose, and
each one is checked against the ledger). PrimaryUnavailable is expected only where the
primary cannot take a write: a lost primary until the failover (and through the lost
region until it is back), a planned failover's fence, a throttled primary whose
retries ran out, and a write whose reply was lost (it landed; retried with its
idempotency key, it is answered). Anything else, InternalFailure, a 5xx or a missing
errorType, fails.

The figures each game day measured are printed (run with ``-s`` to see them).
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.game_day import (
    Load,
    OrderFeed,
    Retried,
    failover,
    lose_then_retry,
    open_shop,
    restore,
    send_keyed,
)
from tests.e2e.ledger import (
    PRIMARY,
    REGIONS,
    REPLICA,
    Attempt,
    Shop,
    ask,
    assert_answered,
    assert_stock_refusals_were_due,
    caught_up,
    ledger_problems,
    outage_figures,
    primary_seen_by,
    settle,
    staff,
    status_problems,
    stock_in,
    stock_left,
)
from tests.e2e.support import (
    Gateway,
    error_type,
    free_base_port,
    start_gateway,
    stop_gateway,
    unique,
    wait_until,
)
from tests.e2e.test_chaos import chaos, gateway_cli, region_status, status, switch_on

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]

# The write path refuses a lost primary within 2 s; the shared machine gets a margin.
REFUSED_WITHIN_S = 3.0
# Through the lost region itself, its own replica of the control record must be read
# too, and hangs until the client gives up: refused within seconds, never held for the
# hang's 30 s.
LOST_REGION_REFUSED_WITHIN_S = 10.0
# A refusal during a planned failover comes while the fence drains, or while a
# region's cached control (100 ms here) still names the old primary.
FENCE_SLACK_S = 1.0
STATUS_TIMEOUT_S = 15.0
# The RTO probe's pace: it runs only until eu-west-1 takes its first write.
PROBE_PACE_S = 0.05
UNAVAILABLE, NO_STOCK = "PrimaryUnavailable", "InsufficientStock"


@pytest.fixture(scope="module")
def game_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A deployment of its own, whose control record moves: a 100 ms control cache."""
    output: Path = tmp_path_factory.mktemp("game-days") / "gateway-dev.log"
    running = start_gateway(
        output,
        free_base_port(2),
        "--regions",
        ",".join(REGIONS),
        env={"GATEWAY_CONTROL_CACHE_MS": "100", "GATEWAY_MIN_VERSION_WAIT_MS": "50"},
    )
    yield running
    exit_code = stop_gateway(running)
    assert exit_code == 0, running.text()
    # The outages log each unreadable control record with its trace, by design; what
    # must never appear is a resolver's internal failure.
    assert "resolver failed" not in running.text(), running.text()


@pytest.fixture
def gateway(game_gateway: Gateway) -> Iterator[Gateway]:
    """The deployment, settled before each game day and put back after it: no fault, no
    dead letter, us-east-1 primary, every region caught up."""
    restore(game_gateway)
    yield game_gateway
    restore(game_gateway)


def close_the_books(
    gateway: Gateway, shop: Shop, attempts: list[Attempt], allowed: set[str], primary: str = PRIMARY
) -> dict[str, Any]:
    """The checks every game day ends with; the figures for its report."""
    outcomes = assert_answered(attempts, allowed)
    assert_stock_refusals_were_due(shop, attempts)
    assert outcomes["acknowledged"] > 0
    caught_up_s = settle(gateway, shop, attempts, primary)
    # What an operator reads: `gateway status --json`, through the command line.
    seen = status(gateway, through_cli=True)
    assert seen["faults"] == []
    for region in seen["regions"]:
        assert region["replication"]["lagMs"] == region["replication"]["backlog"] == 0
        assert region["projection"] == {"lagMs": 0, "backlog": 0}
        assert region["deadLetters"] == 0
    return {"attempts": len(attempts), **outcomes, "caughtUpS": round(caught_up_s, 2)}


def dead_letters(gateway: Gateway) -> dict[str, int] | None:
    """Each region's dead letters, once every region has some."""
    counts = {region["name"]: region["deadLetters"] for region in status(gateway)["regions"]}
    return counts if all(counts.values()) else None


def report(name: str, **figures: object) -> None:
    print(f"\ngame day {name}: {json.dumps(figures, sort_keys=True)}")


def mark() -> float:
    return time.monotonic()


@pytest.mark.parametrize("mode", ["fail", "hang"])
def test_a_lost_primary_is_replaced_by_a_forced_failover_and_nothing_acknowledged_is_lost(
    gateway: Gateway, mode: str
) -> None:
    """
    GIVEN orders placed continuously through both regions
    WHEN us-east-1's DynamoDB fails (or hangs)
    THEN every write is refused with PrimaryUnavailable, within 3 s through eu-west-1
         (within 10 s through us-east-1, whose own DynamoDB is lost), and eu-west-1 keeps
         answering reads;
    WHEN the operator fails over to eu-west-1 without --force
    THEN it is refused (exit 2), saying --force;
    WHEN with --force
    THEN it exits 0 naming the data-loss window, and orders are acknowledged again
         through eu-west-1 (the RTO is measured);
    WHEN the outage is cleared
    THEN us-east-1 follows the new primary (its peers' copies of the control record name
         it before its own does), takes writes for eu-west-1, catches up, and the books
         balance in both regions; a planned failover puts us-east-1 back, and they
         still balance
    """
    shop = open_shop(gateway)
    # The RTO probe: a second client on a shop of its own, writing through eu-west-1
    # alone from the forced failover on, so it does not queue behind an attempt through
    # the lost region as the main load (which alternates) may.
    probe_shop = open_shop(gateway, stocks=(50,), customers=1)
    probe = Load(gateway, probe_shop, 11, (REPLICA,), PROBE_PACE_S)
    with Load(gateway, shop) as load:
        load.wait_for(6, 0.0, acknowledged=True)
        with load.quiet():
            # A forced failover loses what the old primary had not yet replicated: the
            # window it prints. The outage starts when eu-west-1 holds every
            # acknowledged order, so that window is empty and the books must balance.
            wait_until(
                lambda: not ledger_problems(gateway, shop, load.attempts(), (REPLICA,)),
                STATUS_TIMEOUT_S,
                "eu-west-1 to hold every acknowledged order",
            )
            hang = ["--hang"] if mode == "hang" else []
            outage = switch_on(gateway, "outage", "--region", PRIMARY, *hang)
            outage_at = mark()
        load.wait_for(2, outage_at, region=PRIMARY)
        load.wait_for(2, outage_at, region=REPLICA)
        # Nothing is acknowledged now: eu-west-1 answers every read as before the outage.
        replica_reads = ledger_problems(gateway, shop, load.attempts(), (REPLICA,))
        refused = failover(gateway, REPLICA)
        forced_at = mark()
        with probe:
            forced = failover(gateway, REPLICA, "--force")
            forced_took = mark() - forced_at
            first = probe.wait_for(1, forced_at, acknowledged=True)
        load.wait_for(2, forced_at, region=REPLICA, acknowledged=True)
        load.wait_for(2, forced_at + forced_took, region=PRIMARY)
        with load.quiet():
            # Back, us-east-1's own copy of the control record still names itself; its
            # peers' copies keep it from taking writes of its own (test_failover_cli
            # shows it under a load of one order).
            cleared_at = mark()
            assert chaos(gateway, "clear", outage).returncode == 0
            wait_until(
                lambda: primary_seen_by(gateway, PRIMARY) == REPLICA,
                STATUS_TIMEOUT_S,
                "us-east-1 to learn of the failover",
            )
            learned_s = mark() - cleared_at
        recovered_s = caught_up(gateway, PRIMARY) - cleared_at
        load.wait_for(2, cleared_at, region=PRIMARY, acknowledged=True)
        primary_in_old_region = primary_seen_by(gateway, PRIMARY)
    attempts = load.attempts() + probe.attempts()
    during_outage = [a for a in attempts if outage_at <= a.started < forced_at]
    old_region_out = [
        a for a in attempts if forced_at <= a.started < cleared_at and a.region == PRIMARY
    ]

    assert {a.error_type for a in during_outage} == {UNAVAILABLE}
    # Through the lost region itself: refused while it knows no better, then, once its
    # peers' copies of the control record name eu-west-1, written there (the books check
    # that each such order exists once everywhere), or refused for stock like any other.
    assert {a.error_type for a in old_region_out} <= {UNAVAILABLE, NO_STOCK, None}
    slowest = outage_figures(attempts, outage_at, cleared_at)
    assert slowest[REPLICA] < REFUSED_WITHIN_S, slowest
    assert slowest[PRIMARY] < LOST_REGION_REFUSED_WITHIN_S, slowest
    assert replica_reads == []
    assert (refused.returncode, "--force" in refused.stderr) == (2, True), refused.stderr
    assert "Traceback" not in refused.stderr
    assert forced.returncode == 0, forced.stderr
    assert re.search(rf"^{REPLICA} is the primary now \(epoch \d+; was {PRIMARY}\)", forced.stdout)
    window = re.search(r"in the last (\d+ ms|unknown) before it was lost", forced.stdout)
    assert window is not None, forced.stdout
    assert primary_in_old_region == REPLICA
    books = close_the_books(gateway, shop, load.attempts(), {UNAVAILABLE, NO_STOCK}, REPLICA)
    probed = close_the_books(
        gateway, probe_shop, probe.attempts(), {UNAVAILABLE, NO_STOCK}, REPLICA
    )
    rto_s = min(a.finished for a in first) - forced_at
    # Later recovery: a planned failover puts us-east-1 back, and the books still balance.
    back = failover(gateway, PRIMARY)
    assert back.returncode == 0, back.stderr
    settle(gateway, shop, load.attempts())
    settle(gateway, probe_shop, probe.attempts())
    report(
        f"forced failover ({mode})",
        **books,
        probe=probed,
        slowestRefusalS={region: round(took, 2) for region, took in slowest.items()},
        rtoS=round(rto_s, 2),
        usEast1LearnedAfterClearS=round(learned_s, 2),
        usEast1CaughtUpAfterClearS=round(recovered_s, 2),
        failoverCommandS=round(forced_took, 2),
        dataLossWindow=window.group(1),
    )


def test_a_planned_failover_and_back_under_load_loses_nothing(gateway: Gateway) -> None:
    """
    GIVEN orders placed continuously through both regions
    WHEN the operator fails over to eu-west-1, and later back to us-east-1
    THEN each failover exits 0, both regions then name the new primary and acknowledge
         orders for it, the only refusals are PrimaryUnavailable while a fence is in
         force (and InsufficientStock when a product runs out), and the books balance
    """
    shop = open_shop(gateway)
    windows: list[tuple[float, float]] = []
    with Load(gateway, shop) as load:
        load.wait_for(6, 0.0, acknowledged=True)
        for target in (REPLICA, PRIMARY):
            began = mark()
            moved = failover(gateway, target)
            ended = mark()
            windows.append((began, ended))
            assert moved.returncode == 0, moved.stderr
            assert moved.stdout.startswith(f"{target} is the primary now"), moved.stdout
            for region in REGIONS:
                load.wait_for(3, ended, region=region, acknowledged=True)
            assert [primary_seen_by(gateway, region) for region in REGIONS] == [target] * 2
    attempts = load.attempts()

    books = close_the_books(gateway, shop, attempts, {UNAVAILABLE, NO_STOCK})
    fenced = [a for a in attempts if a.error_type == UNAVAILABLE]
    for attempt in fenced:
        assert any(
            attempt.finished >= began and attempt.started <= ended + FENCE_SLACK_S
            for began, ended in windows
        ), attempt
    report(
        "planned failover and back",
        **books,
        failoverCommandS=[round(ended - began, 2) for began, ended in windows],
    )


def test_paused_replication_holds_changes_back_and_loses_none(gateway: Gateway) -> None:
    """
    GIVEN orders placed continuously through both regions
    WHEN replication is paused
    THEN every order is still acknowledged (writes go to the primary), and eu-west-1
         falls behind: a backlog in status, orders missing from its projections;
    WHEN resumed
    THEN eu-west-1 catches up and the books balance
    """
    shop = open_shop(gateway)
    with Load(gateway, shop) as load:
        load.wait_for(4, 0.0, acknowledged=True)
        switch_on(gateway, "replication", "--pause")
        paused_at = mark()
        load.wait_for(4, paused_at, acknowledged=True)
        held = wait_until(
            lambda: region_status(gateway, REPLICA)["replication"]["backlog"],
            STATUS_TIMEOUT_S,
            "a backlog toward eu-west-1",
        )
        behind = ledger_problems(gateway, shop, load.attempts(), (REPLICA,))
        resumed = chaos(gateway, "replication", "--resume")
        resumed_at = mark()
        recovered_s = caught_up(gateway, REPLICA) - resumed_at
        load.wait_for(4, resumed_at, acknowledged=True)
    attempts = load.attempts()

    assert held > 0 and behind, "eu-west-1 should have fallen behind while paused"
    assert resumed.returncode == 0 and resumed.stdout.startswith("replication resumed")
    books = close_the_books(gateway, shop, attempts, {NO_STOCK})
    report(
        "replication paused",
        **books,
        backlogSeen=held,
        euWest1CaughtUpAfterResumeS=round(recovered_s, 2),
    )


def test_lagging_replication_delays_changes_and_loses_none(gateway: Gateway) -> None:
    """
    GIVEN orders placed continuously through both regions
    WHEN replication lags 800 ms
    THEN every order is still acknowledged, status shows the lag in force and
         eu-west-1's replication lag above 0;
    WHEN the lag is cleared
    THEN eu-west-1 catches up and the books balance
    """
    shop = open_shop(gateway)
    with Load(gateway, shop) as load:
        load.wait_for(4, 0.0, acknowledged=True)
        lag = switch_on(gateway, "replication", "--lag-ms", "800")
        lagging_at = mark()
        load.wait_for(6, lagging_at, acknowledged=True)
        in_force = status(gateway)["replication"]["lagMs"]
        seen_lag = wait_until(
            lambda: region_status(gateway, REPLICA)["replication"]["lagMs"],
            STATUS_TIMEOUT_S,
            "eu-west-1 to lag",
        )
        cleared_at = mark()
        assert chaos(gateway, "clear", lag).returncode == 0
        recovered_s = caught_up(gateway, REPLICA) - cleared_at
        load.wait_for(4, cleared_at, acknowledged=True)
    attempts = load.attempts()

    assert in_force == 800
    assert seen_lag > 0
    books = close_the_books(gateway, shop, attempts, {NO_STOCK})
    report(
        "replication lag 800 ms",
        **books,
        replicaLagSeenMs=seen_lag,
        euWest1CaughtUpAfterClearS=round(recovered_s, 2),
    )


def test_a_throttled_primary_refuses_only_with_clear_types_and_loses_nothing(
    gateway: Gateway,
) -> None:
    """
    GIVEN orders placed continuously through both regions
    WHEN 30% of us-east-1's table reads and writes are throttled
    THEN every order is acknowledged or refused with PrimaryUnavailable (the write
         path's retries ran out) or InsufficientStock;
    WHEN cleared, and any parked stream records redriven
    THEN both regions catch up and the books balance
    """
    shop = open_shop(gateway)
    with Load(gateway, shop) as load:
        load.wait_for(4, 0.0, acknowledged=True)
        throttle = switch_on(gateway, "throttle", "--region", PRIMARY, "--rate", "0.3")
        throttled_at = mark()
        load.wait_for(12, throttled_at)
        assert chaos(gateway, "clear", throttle).returncode == 0
        cleared_at = mark()
        load.wait_for(4, cleared_at, acknowledged=True)
    attempts = load.attempts()
    # The throttle reaches us-east-1's projection table too: a stream record whose
    # writes are throttled on every retry is parked, as on AWS. A redrive applies it.
    redriven = gateway_cli(gateway, "dlq", "redrive")
    parked = sum(int(n) for n in re.findall(r": (\d+) applied", redriven.stdout))

    assert redriven.returncode == 0, redriven.stdout + redriven.stderr
    assert "Traceback" not in redriven.stderr
    books = close_the_books(gateway, shop, attempts, {UNAVAILABLE, NO_STOCK})
    throttled = [a for a in attempts if throttled_at <= a.started < cleared_at]
    report(
        "throttle 0.3 on the primary",
        **books,
        duringThrottle=dict(Counter(a.error_type or "acknowledged" for a in throttled)),
        redriven=parked,
    )


def test_a_crashing_stream_handler_parks_its_records_and_a_redrive_applies_them(
    gateway: Gateway,
) -> None:
    """
    GIVEN orders placed continuously through both regions
    WHEN the stream handler crashes on one product's records in each region
    THEN every order is still acknowledged, those records are dead-lettered, and the
         product's stock in those regions falls behind;
    WHEN the crashes are cleared and the dead letters redriven
    THEN the redrive applies them all, and the books balance
    """
    shop = open_shop(gateway)
    # The two best-stocked products: their records keep coming while the load runs.
    best_stocked = sorted(shop.stock, key=lambda product: -shop.stock[product])
    crashing = dict(zip(REGIONS, best_stocked, strict=False))
    with Load(gateway, shop) as load:
        load.wait_for(4, 0.0, acknowledged=True)
        for region, product_id in crashing.items():
            switch_on(gateway, "crash", "--region", region, "--match", f"PRODUCT#{product_id}")
        crashed_at = mark()
        load.wait_for(6, crashed_at, acknowledged=True)
        parked = wait_until(lambda: dead_letters(gateway), STATUS_TIMEOUT_S, "dead letters")
        # The crashing product's view stays where it was: more stock than the ledger has
        # left, since its later changes are parked.
        stale = {
            region: (
                stock_in(gateway, gateway.urls[region], shop)[product],
                stock_left(shop, load.attempts())[product],
            )
            for region, product in crashing.items()
        }
        assert chaos(gateway, "clear", "--all").returncode == 0
        load.wait_for(4, mark(), acknowledged=True)
    attempts = load.attempts()
    redriven = gateway_cli(gateway, "dlq", "redrive")

    assert all(seen is not None and seen > due for seen, due in stale.values()), stale
    assert redriven.returncode == 0, redriven.stdout + redriven.stderr
    applied = re.findall(r"^(\S+): (\d+) applied, 0 still failing$", redriven.stdout, re.M)
    assert [region for region, _ in applied] == list(REGIONS), redriven.stdout
    assert all(int(count) >= 1 for _, count in applied), redriven.stdout
    books = close_the_books(gateway, shop, attempts, {NO_STOCK})
    report("stream handler crash", **books, deadLettersSeen=parked, redriven=dict(applied))


def test_subscribers_reconnect_after_a_disconnect_and_hear_later_orders(gateway: Gateway) -> None:
    """
    GIVEN a staff subscriber to onOrderChanged in each region, and orders placed
          continuously through both regions
    WHEN every subscriber socket is disconnected
    THEN each is closed with 1012, new subscribers connect, and each hears every order
         placed after it subscribed; the projections are unaffected and the books balance
    """
    shop = open_shop(gateway)
    feeds = [OrderFeed(gateway, region) for region in REGIONS]
    try:
        with Load(gateway, shop) as load:
            before = {a.order_id for a in load.wait_for(4, 0.0, acknowledged=True)}
            for feed in feeds:
                wait_until(lambda feed=feed: before <= feed.heard(), 15, f"{feed.region} hears")
            dropped = chaos(gateway, "disconnect")
            codes = [feed.wait_closed() for feed in feeds]
            feeds += [OrderFeed(gateway, region) for region in REGIONS]
            back_at = mark()
            later = {a.order_id for a in load.wait_for(8, back_at, acknowledged=True)}
            for feed in feeds[len(REGIONS) :]:
                wait_until(lambda feed=feed: later <= feed.heard(), 15, f"{feed.region} hears")
        attempts = load.attempts()
    finally:
        for feed in feeds:
            feed.close()

    assert dropped.returncode == 0, dropped.stderr
    assert dropped.stdout.strip() == f"closed 2 subscriber connections in {', '.join(REGIONS)}"
    assert codes == [1012, 1012]
    books = close_the_books(gateway, shop, attempts, {NO_STOCK})
    report("subscriber disconnect", **books, heardAfterReconnect=len(later))


BOOKS = """
query($lamp: ID!, $category: String, $buyer: ID!, $first: ID!, $second: ID!) {
  product(id: $lamp) { id name stock version }
  products(category: $category) { items { id } }
  customer(id: $buyer) { id version orderCount lifetimeValueCents }
  first: order(id: $first) { id status version }
  second: order(id: $second) { id status version }
  ordersByCustomer(customerId: $buyer) { items { id } }
}"""


def test_mutations_whose_replies_are_lost_are_applied_once_and_their_retries_answer_them(
    gateway: Gateway,
) -> None:
    """
    GIVEN a settled deployment
    WHEN each kind of mutation (createProduct, updateProduct, adjustStock in and out,
         registerCustomer, placeOrder twice, cancelOrder, shipOrder) is sent with an
         idempotencyKey, through either region, while us-east-1 loses the reply of its
         next write
    THEN the send that met the fault is refused with PrimaryUnavailable (the caller
         cannot tell it landed); retried with its key through the other region until
         acknowledged, each is answered with what landed, at the version its place in
         the history gives;
    WHEN every key is sent once more
    THEN each answer is the same again;
    AND in both regions the books are exact: the lamp's stock is its start plus exactly
        the acknowledged moves, each version counts each change once, its category holds
        one product, the customer has her two orders (one cancelled, one shipped), and
        status shows nothing dead-lettered, no fault and no lag
    """
    buyer = unique("buyer")
    as_staff, as_buyer = staff(gateway), {"Authorization": gateway.token(buyer, "customers")}
    category = unique("lamps")
    there, back = (PRIMARY, REPLICA), (REPLICA, PRIMARY)
    steps: list[Retried] = []

    def step(
        field: str, fields: dict[str, Any], who: dict[str, str], regions: tuple[str, str]
    ) -> dict[str, Any]:
        steps.append(lose_then_retry(gateway, field, fields, who, regions))
        return steps[-1].result

    lamp = step(
        "createProduct",
        {
            "sku": unique("LAMP"),
            "name": "Lamp",
            "category": category,
            "priceCents": 1500,
            "currency": "EUR",
            "stock": 20,
        },
        as_staff,
        there,
    )
    step(
        "updateProduct",
        {"id": lamp["id"], "expectedVersion": 1, "name": "Brass lamp"},
        as_staff,
        back,
    )
    step("adjustStock", {"id": lamp["id"], "delta": 5}, as_staff, there)
    step("adjustStock", {"id": lamp["id"], "delta": -2}, as_staff, back)
    step("registerCustomer", {"email": f"{buyer}@example.com", "name": "Buyer"}, as_buyer, there)
    lines = [{"productId": lamp["id"], "quantity": 3}]
    first = step("placeOrder", {"customerId": buyer, "lines": lines}, as_buyer, back)
    lines = [{"productId": lamp["id"], "quantity": 1}]
    second = step("placeOrder", {"customerId": buyer, "lines": lines}, as_buyer, there)
    step("cancelOrder", {"id": first["id"], "expectedVersion": 1}, as_buyer, back)
    step("shipOrder", {"id": second["id"], "expectedVersion": 1}, as_staff, there)
    again = [
        send_keyed(gateway, region, one.field, one.fields, one.headers)
        for one, region in zip(steps, [PRIMARY, REPLICA] * len(steps), strict=False)
    ]
    wait_until(lambda: not status_problems(gateway), STATUS_TIMEOUT_S * 4, "a settled deployment")
    books = {
        region: ask(
            gateway,
            gateway.urls[region],
            BOOKS,
            {
                "lamp": lamp["id"],
                "category": category,
                "buyer": buyer,
                "first": first["id"],
                "second": second["id"],
            },
        )
        for region in REGIONS
    }

    assert [error_type(*one.lost) for one in steps] == [UNAVAILABLE] * len(steps)
    assert [(one.field, one.result["version"]) for one in steps] == [
        ("createProduct", 1),
        ("updateProduct", 2),
        ("adjustStock", 3),
        ("adjustStock", 4),
        ("registerCustomer", 1),
        ("placeOrder", 1),
        ("placeOrder", 1),
        ("cancelOrder", 2),
        ("shipOrder", 2),
    ]
    assert [one.result.get("stock") for one in steps[:4]] == [20, 20, 25, 23]
    assert [one.result.get("status") for one in steps[5:]] == [
        "PLACED",
        "PLACED",
        "CANCELLED",
        "SHIPPED",
    ]
    assert [answer for _, answer in again] == [{"data": {one.field: one.result}} for one in steps]
    # 20, +5, -2, 3 and 1 ordered, 3 back from the cancelled order: 7 changes in all.
    for region, seen in books.items():
        assert seen["product"] == {
            "id": lamp["id"],
            "name": "Brass lamp",
            "stock": 20 + 5 - 2 - 3 - 1 + 3,
            "version": 7,
        }, region
        assert seen["products"]["items"] == [{"id": lamp["id"]}], region
        assert seen["customer"] == {
            "id": buyer,
            "version": 1,
            "orderCount": 2,
            "lifetimeValueCents": second["totalCents"],
        }, region
        assert (seen["first"]["status"], seen["first"]["version"]) == ("CANCELLED", 2), region
        assert (seen["second"]["status"], seen["second"]["version"]) == ("SHIPPED", 2), region
        listed = sorted(item["id"] for item in seen["ordersByCustomer"]["items"])
        assert listed == sorted([first["id"], second["id"]]), region
    report(
        "lost replies in the primary",
        refusedThenAcknowledged=len(steps),
        sends=sum(one.sends for one in steps),
        slowestRefusalS=round(max(one.lost_s for one in steps), 2),
    )
