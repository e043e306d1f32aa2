"""The ledger of a game day: what the load was told, against what every region holds.

Every attempt the load made is an :class:`Attempt`; the ledger proves that each
acknowledged order exists exactly once in every region's projections, that the stock
is the starting stock less what was acknowledged, and that each refusal was due.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.e2e.support import Gateway, assert_clean_error, post, wait_until
from tests.e2e.test_chaos import region_status, status

PRIMARY, REPLICA = "us-east-1", "eu-west-1"
REGIONS = (PRIMARY, REPLICA)
ORDER_FIELDS = "id customerId status version lines { productId quantity }"
LISTING = """
query($c: ID!, $after: String) {
  ordersByCustomer(customerId: $c, first: 100, after: $after) { items { id } nextToken } }"""
REGION = "{ region { name primary mode } }"
CATCH_UP_TIMEOUT_S = 60.0
PARTS = ("replication", "projection")
FRESH_MS = 500
ALIASES_PER_REQUEST = 25
_STAFF: dict[str, dict[str, str]] = {}


def staff(gateway: Gateway) -> dict[str, str]:
    """One staff token per gateway: minting one per request (an RSA signature and a key
    read) would cost more than most of the requests here."""
    key = str(gateway.state_dir)
    return _STAFF.get(key) or _STAFF.setdefault(key, gateway.staff())


def ask(gateway: Gateway, url: str, query: str, variables: dict[str, Any] | None = None) -> Any:
    """``Gateway.query``, with :func:`staff`'s token."""
    code, body = post(url, query, variables, staff(gateway))
    assert code == 200 and not body.get("errors"), (code, body)
    return body["data"]


@dataclass(frozen=True)
class Shop:
    """Products (id -> stock at the start) and customers, written before the load."""

    stock: dict[str, int]
    customers: tuple[str, ...]


@dataclass(frozen=True)
class Attempt:
    """One placeOrder sent by the load, and what came back."""

    number: int
    key: str
    region: str
    customer_id: str
    product_id: str
    quantity: int
    started: float  # time.monotonic()
    finished: float
    http_status: int  # 0: no answer at all
    body: dict[str, Any]

    @property
    def took_s(self) -> float:
        return self.finished - self.started

    @property
    def order(self) -> dict[str, Any] | None:
        data = self.body.get("data") or {}
        placed = data.get("placeOrder")
        return placed if isinstance(placed, dict) and not self.body.get("errors") else None

    @property
    def order_id(self) -> str | None:
        return None if self.order is None else str(self.order["id"])

    @property
    def error_type(self) -> str | None:
        errors = self.body.get("errors") or []
        return str(errors[0].get("errorType")) if len(errors) == 1 else None


def assert_answered(attempts: list[Attempt], allowed: set[str]) -> Counter[str]:
    """Every attempt was acknowledged at version 1, or refused with one clean error of an
    allowed type; never a 5xx. Returns the count of each outcome."""
    outcomes: Counter[str] = Counter()
    for attempt in attempts:
        assert 0 < attempt.http_status < 500, attempt
        if attempt.order is not None:
            assert attempt.order["version"] == 1, attempt
            outcomes["acknowledged"] += 1
            continue
        errors = attempt.body.get("errors") or []
        assert len(errors) == 1, attempt
        assert_clean_error(errors[0])
        assert attempt.error_type in allowed, attempt
        outcomes[str(attempt.error_type)] += 1
    orders = [attempt.order_id for attempt in attempts if attempt.order is not None]
    assert len(set(orders)) == len(orders), "two acknowledgements named one order"
    return outcomes


def assert_stock_refusals_were_due(shop: Shop, attempts: list[Attempt]) -> None:
    """Each InsufficientStock came when the product really had fewer units than asked.

    The load is one sequential client, so what the primary held before an attempt is
    the starting stock less everything acknowledged before it.
    """
    left = dict(shop.stock)
    for attempt in sorted(attempts, key=lambda attempt: attempt.number):
        if attempt.order is not None:
            left[attempt.product_id] -= attempt.quantity
            assert left[attempt.product_id] >= 0, attempt
        elif attempt.error_type == "InsufficientStock":
            assert left[attempt.product_id] < attempt.quantity, attempt


def stock_left(shop: Shop, attempts: list[Attempt]) -> dict[str, int]:
    """Each product's stock by the ledger: the start, less every acknowledged order."""
    left = dict(shop.stock)
    for attempt in attempts:
        if attempt.order is not None:
            left[attempt.product_id] -= attempt.quantity
    return left


def ledger_problems(
    gateway: Gateway, shop: Shop, attempts: list[Attempt], regions: tuple[str, ...] = REGIONS
) -> list[str]:
    """What each region's projections get wrong against the acknowledged orders: a
    missing or changed order, a listing without an order or with one twice or
    unexpected, a customer's count, and any stock that is not the starting stock less
    what was acknowledged (or is negative). Empty when all is right."""
    acknowledged = [attempt for attempt in attempts if attempt.order is not None]
    expected_stock = stock_left(shop, attempts)
    problems: list[str] = []
    for region in regions:
        url = gateway.urls[region]
        found = orders_in(gateway, url, [str(attempt.order_id) for attempt in acknowledged])
        for attempt in acknowledged:
            order_id = attempt.order_id
            expected = {
                "id": order_id,
                "customerId": attempt.customer_id,
                "status": "PLACED",
                "version": 1,
                "lines": [{"productId": attempt.product_id, "quantity": attempt.quantity}],
            }
            if found.get(order_id) != expected:
                problems.append(f"{region}: order {order_id} is {found.get(order_id)}")
        for customer in shop.customers:
            mine = Counter(
                attempt.order_id for attempt in acknowledged if attempt.customer_id == customer
            )
            listed = Counter(listing(gateway, url, customer))
            if listed != mine:
                problems.append(
                    f"{region}: customer {customer} lists {sorted(listed.items())} "
                    f"instead of {sorted(mine)}"
                )
            count = order_count(gateway, url, customer)
            if count != sum(mine.values()):
                problems.append(f"{region}: customer {customer} orderCount {count}")
        stock = stock_in(gateway, url, shop)
        if stock != expected_stock or any(units < 0 for units in stock.values()):
            problems.append(f"{region}: stock {stock} instead of {expected_stock}")
    return problems


def status_problems(gateway: Gateway, primary: str = PRIMARY) -> list[str]:
    """What `gateway status` shows that is not a settled deployment: lag or backlog in
    replication or projection, dead letters, a fault, or another primary."""
    seen = status(gateway)
    problems = [f"fault {fault['id']} is on" for fault in seen["faults"]]
    if seen["replication"]["paused"]:
        problems.append("replication is paused")
    for region in seen["regions"]:
        name = region["name"]
        for part in ("replication", "projection"):
            lag = region[part]
            if lag["lagMs"] or lag["backlog"]:
                problems.append(f"{name}: {part} lag {lag['lagMs']} ms, {lag['backlog']} waiting")
        if region["deadLetters"] != 0:
            problems.append(f"{name}: {region['deadLetters']} dead letters")
        if (region["primary"], region["mode"]) != (primary, "ACTIVE"):
            problems.append(f"{name}: primary {region['primary']} ({region['mode']})")
    return problems


def settle(gateway: Gateway, shop: Shop, attempts: list[Attempt], primary: str = PRIMARY) -> float:
    """Wait until `gateway status` shows a settled deployment and every region's
    projections agree with the ledger; how long until status was settled, in seconds
    (polled quickly: the ledger takes a few requests per region)."""
    started = time.monotonic()
    last: list[str] = []

    def settled(problems: Callable[[], list[str]]) -> bool:
        last[:] = problems()
        return not last

    try:
        wait_until(
            lambda: settled(lambda: status_problems(gateway, primary)),
            CATCH_UP_TIMEOUT_S,
            "every lag and backlog to return to 0",
        )
        caught_up_s = time.monotonic() - started
        wait_until(
            lambda: settled(
                lambda: status_problems(gateway, primary) + ledger_problems(gateway, shop, attempts)
            ),
            CATCH_UP_TIMEOUT_S,
            "every region's projections to hold every acknowledged order",
        )
    except AssertionError as timed_out:
        raise AssertionError(f"{timed_out}:\n  " + "\n  ".join(last[:30])) from None
    return caught_up_s


def caught_up(gateway: Gateway, region: str) -> float:
    """Wait until nothing older than :data:`FRESH_MS` waits to be replicated into
    ``region`` or projected there; when that was (``time.monotonic()``). Under a load
    something is nearly always in flight, so "caught up" means only fresh changes wait."""

    def drained() -> bool:
        seen = region_status(gateway, region)
        return all(seen[part]["lagMs"] < FRESH_MS for part in PARTS)

    wait_until(drained, CATCH_UP_TIMEOUT_S, f"{region} to catch up")
    return time.monotonic()


def orders_in(gateway: Gateway, url: str, order_ids: list[str]) -> dict[str, Any]:
    """Each order as the region's projections hold it (None when missing)."""
    found: dict[str, Any] = {}
    for start in range(0, len(order_ids), ALIASES_PER_REQUEST):
        chunk = order_ids[start : start + ALIASES_PER_REQUEST]
        found.update(aliased(gateway, url, "order", ORDER_FIELDS, chunk))
    return found


def aliased(gateway: Gateway, url: str, field: str, selection: str, ids: list[str]) -> Any:
    """``field(id)`` for each id, in one request (one alias per id); by id."""
    names = [f"n{index}" for index in range(len(ids))]
    arguments = ", ".join(f"${name}: ID!" for name in names)
    fields = " ".join(f"{name}: {field}(id: ${name}) {{ {selection} }}" for name in names)
    variables = dict(zip(names, ids, strict=True))
    data = ask(gateway, url, f"query({arguments}) {{ {fields} }}", variables)
    return {variables[name]: data[name] for name in names}


def listing(gateway: Gateway, url: str, customer_id: str) -> list[str]:
    """Every order id ``ordersByCustomer`` lists, over all its pages."""
    ids: list[str] = []
    after = None
    while True:
        page = ask(gateway, url, LISTING, {"c": customer_id, "after": after})["ordersByCustomer"]
        ids += [item["id"] for item in page["items"]]
        after = page["nextToken"]
        if not after:
            return ids


def order_count(gateway: Gateway, url: str, customer_id: str) -> int | None:
    query = "query($id: ID!) { customer(id: $id) { orderCount } }"
    customer = ask(gateway, url, query, {"id": customer_id})["customer"]
    return None if customer is None else int(customer["orderCount"])


def stock_in(gateway: Gateway, url: str, shop: Shop) -> dict[str, int | None]:
    """Each product's stock as the region's projections hold it (None when missing)."""
    found = aliased(gateway, url, "product", "stock", sorted(shop.stock))
    return {key: None if value is None else int(value["stock"]) for key, value in found.items()}


def primary_seen_by(gateway: Gateway, region: str) -> str:
    return str(ask(gateway, gateway.urls[region], REGION)["region"]["primary"])


def outage_figures(attempts: list[Attempt], start: float, end: float) -> dict[str, float]:
    """The slowest answer through each region among attempts made within [start, end)."""
    return {
        region: max(
            (
                attempt.took_s
                for attempt in attempts
                if attempt.region == region and start <= attempt.started < end
            ),
            default=0.0,
        )
        for region in REGIONS
    }
