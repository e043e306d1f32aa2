"""Read-your-writes waits are bounded per request and hold no thread: a flood of
``minVersion`` reads at one region leaves the other answering, and every subscriber
hears every change."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.support import (
    Gateway,
    free_base_port,
    gateway_cli,
    post,
    start_gateway,
    stop_gateway,
    unique,
    wait_until,
)
from tests.e2e.test_subscriptions import CREATE, Subscriber, connect

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

ATTACKERS = 40
# The failure this guards against took tens of seconds; a normal answer takes
# milliseconds. A few seconds tells the two apart on a loaded two-core machine.
NORMAL_ANSWER_S = 5.0
DELIVERY_TIMEOUT_S = 20.0
STATUS_TIMEOUT_S = 20.0


def attack_query() -> str:
    """About 485 bytes: 8 aliased reads of products nobody wrote, each asking for a
    version nobody has, so each waits its whole budget before reading the primary."""
    fields = " ".join(
        f'p{index}: product(id: "ghost-{index}", minVersion: 9) {{ id name }}' for index in range(8)
    )
    return "query Flood { " + fields + " }"


class Flood:
    """``ATTACKERS`` threads posting the attack query in a loop, until stopped."""

    def __init__(self, url: str, token: str) -> None:
        self._body = json.dumps({"query": attack_query()}).encode()
        self._url = url
        self._headers = {"content-type": "application/json", "Authorization": token}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.sent = 0
        self._threads = [
            threading.Thread(target=self._attack, daemon=True) for _ in range(ATTACKERS)
        ]

    def _attack(self) -> None:
        while not self._stop.is_set():
            request = urllib.request.Request(self._url, self._body, self._headers, method="POST")
            with self._lock:
                self.sent += 1
            # An attacker does not wait for long; it gives up and sends again.
            with (
                contextlib.suppress(urllib.error.URLError, TimeoutError, ConnectionError),
                urllib.request.urlopen(request, timeout=10) as response,
            ):
                response.read()

    def __enter__(self) -> Flood:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(15)


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Gateway]:
    """A gateway of its own: the flood would slow every other test's."""
    running = start_gateway(tmp_path / "gateway-dev.log", free_base_port(2))
    yield running
    assert stop_gateway(running) == 0


def answers_within(url: str, token: str, timeout: float) -> dict[str, Any]:
    """A plain query's answer, or a failure if it takes longer than ``timeout``."""
    request = urllib.request.Request(
        url,
        json.dumps({"query": "{ region { name } }"}).encode(),
        {"content-type": "application/json", "Authorization": token},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return dict(json.loads(response.read()))


async def flooded(gateway: Gateway) -> None:
    category = unique("flood")
    async with contextlib.AsyncExitStack() as stack:
        listeners: list[Subscriber] = [
            await connect(stack, gateway, region) for region in ("us-east-1", "eu-west-1")
        ]
        for listener in listeners:
            await listener.subscribe(category)
        with Flood(gateway.primary, gateway.public_token) as flood:
            await asyncio.to_thread(
                wait_until, lambda: flood.sent >= 2 * ATTACKERS, 30, "the flood to be under way"
            )

            answer = await asyncio.to_thread(
                answers_within, gateway.replica, gateway.public_token, NORMAL_ANSWER_S
            )
            assert answer == {"data": {"region": {"name": "eu-west-1"}}}

            product = {"sku": unique("FLOOD"), "name": "Sandbag", "category": category}
            product |= {"description": "", "priceCents": 900, "currency": "EUR", "stock": 3}
            status, body = await asyncio.to_thread(
                post, gateway.replica, CREATE, {"input": product}, gateway.staff()
            )
            assert status == 200 and not body.get("errors"), body
            created = body["data"]["createProduct"]
            for listener in listeners:
                _, heard = await listener.next(DELIVERY_TIMEOUT_S)
                assert heard == created, listener.name
        for listener in listeners:
            await listener.close()


def test_a_flood_of_waiting_reads_leaves_the_other_region_answering_and_every_event_heard(
    gateway: Gateway,
) -> None:
    """
    GIVEN subscribers in both regions, and 40 clients with the public client token flooding
          us-east-1 with 485-byte queries of 8 aliased product(minVersion:) reads that
          can never be satisfied (each waits its whole budget)
    WHEN, during the flood, a plain query goes to eu-west-1 and a staff member creates a
         product through eu-west-1
    THEN eu-west-1 answers within a few seconds (not tens), both regions' subscribers
         hear the new product, and no change was dead-lettered
    """
    asyncio.run(flooded(gateway))

    def parked() -> list[int] | None:
        result = gateway_cli(gateway, "status", "--json")
        if result.returncode != 0:
            return None
        return [region["deadLetters"] for region in json.loads(result.stdout)["regions"]]

    assert wait_until(parked, STATUS_TIMEOUT_S, "gateway status") == [0, 0]
