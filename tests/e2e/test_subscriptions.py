"""Every region's subscribers hear of every change, whichever region took the write."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from gql import Client, gql
from gql.transport.websockets import WebsocketsTransport

from tests.e2e.support import Gateway, post, unique

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

SUBSCRIBE = "subscription($c: String) { onProductChanged(category: $c) { id name stock version } }"
CREATE = """
mutation($input: CreateProductInput!) { createProduct(input: $input) { id name stock version } }"""
ADJUST = """
mutation($input: AdjustStockInput!) { adjustStock(input: $input) { id name stock version } }"""
DELIVERY_TIMEOUT_S = 15.0
QUIET_MARGIN_S = 1.0
REGISTER_TIMEOUT_S = 5.0


async def bounded_pause(seconds: float) -> None:
    """Give the event loop ``seconds`` while polling a condition (never to synchronise)."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.Event().wait(), seconds)


@dataclass
class Subscriber:
    """One WebSocket connection with one ``onProductChanged`` subscription on it."""

    name: str
    transport: WebsocketsTransport
    session: Any
    messages: asyncio.Queue[tuple[float, dict[str, Any]]] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None

    async def subscribe(self, category: str) -> None:
        """Subscribe, then know the server registered it before returning.

        The server handles a connection's messages in order, so once it answers a
        ping sent after the subscribe message, the subscription is registered.
        """
        request = gql(SUBSCRIBE)
        request.variable_values = {"c": category}

        async def pump() -> None:
            async for data in self.session.subscribe(request):
                self.messages.put_nowait((time.perf_counter(), data["onProductChanged"]))

        self.task = asyncio.create_task(pump())
        deadline = time.monotonic() + REGISTER_TIMEOUT_S
        while not self.transport.listeners:
            assert not self.task.done(), self.task.exception()
            assert time.monotonic() < deadline, f"{self.name}: subscribe was never sent"
            await bounded_pause(0.01)
        self.transport.pong_received.clear()
        await self.transport.send_ping()
        await asyncio.wait_for(self.transport.pong_received.wait(), REGISTER_TIMEOUT_S)

    async def next(self, timeout: float) -> tuple[float, dict[str, Any]]:
        """The next message and when it came; a failed subscription fails the test."""
        assert self.task is not None
        getter = asyncio.ensure_future(self.messages.get())
        done, _ = await asyncio.wait(
            {getter, self.task}, timeout=timeout, return_when="FIRST_COMPLETED"
        )
        if getter in done:
            return getter.result()
        getter.cancel()
        if self.task in done:
            raise AssertionError(f"{self.name}: subscription ended: {self.task.exception()!r}")
        raise TimeoutError(f"{self.name}: no message within {timeout} s")

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task


def timed_post(
    url: str, query: str, variables: dict[str, Any], headers: dict[str, str]
) -> tuple[float, Any]:
    """A mutation's data, and the moment its HTTP response arrived."""
    status, body = post(url, query, variables, headers)
    arrived = time.perf_counter()
    assert status == 200 and not body.get("errors"), (status, body)
    return arrived, body["data"]


async def connect(stack: contextlib.AsyncExitStack, gateway: Gateway, region: str) -> Subscriber:
    transport = WebsocketsTransport(
        url=gateway.ws_url(region),
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        init_payload=gateway.public(),
    )
    session = await stack.enter_async_context(Client(transport=transport))
    return Subscriber(region, transport, session)


async def fan_out(gateway: Gateway) -> dict[str, list[float]]:
    """Run the scenario; return each region's latencies, mutation response to message."""
    category, elsewhere = unique("lamps"), unique("rugs")
    latencies: dict[str, list[float]] = {"us-east-1": [], "eu-west-1": []}
    async with contextlib.AsyncExitStack() as stack:
        listeners = [await connect(stack, gateway, region) for region in latencies]
        bystander = await connect(stack, gateway, "eu-west-1")
        bystander.name = "bystander (other category)"
        try:
            for subscriber in listeners:
                await subscriber.subscribe(category)
            await bystander.subscribe(elsewhere)

            product: dict[str, Any] = {"sku": unique("LMP"), "name": "Desk lamp"}
            product |= {"category": category}
            product |= {"priceCents": 3900, "currency": "USD", "stock": 4}
            answered, data = await asyncio.to_thread(
                timed_post, gateway.replica, CREATE, {"input": product}, gateway.staff()
            )
            created = data["createProduct"]
            assert created["version"] == 1
            for subscriber in listeners:
                arrived, message = await subscriber.next(DELIVERY_TIMEOUT_S)
                latencies[subscriber.name].append(arrived - answered)
                assert message == {
                    "id": created["id"],
                    "name": "Desk lamp",
                    "stock": 4,
                    "version": 1,
                }, subscriber.name

            slowest = max(times[-1] for times in latencies.values())
            with pytest.raises(TimeoutError):
                await bystander.next(max(slowest, 0.0) + QUIET_MARGIN_S)

            adjust = {"input": {"id": created["id"], "delta": -3}}
            answered, data = await asyncio.to_thread(
                timed_post, gateway.primary, ADJUST, adjust, gateway.staff()
            )
            assert data["adjustStock"]["version"] == 2
            for subscriber in listeners:
                arrived, message = await subscriber.next(DELIVERY_TIMEOUT_S)
                latencies[subscriber.name].append(arrived - answered)
                assert message == {
                    "id": created["id"],
                    "name": "Desk lamp",
                    "stock": 1,
                    "version": 2,
                }, subscriber.name
            assert bystander.messages.empty()
        finally:
            for subscriber in [*listeners, bystander]:
                await subscriber.close()
    return latencies


def test_each_region_hears_changes_written_through_any_region(gateway: Gateway) -> None:
    """
    GIVEN a subscriber to category C in us-east-1 and in eu-west-1, and one to another
          category in eu-west-1
    WHEN a product in C is created through eu-west-1, then its stock adjusted through us-east-1
    THEN both C subscribers get the product at version 1, then at version 2 with the new
         stock, and the other-category subscriber gets nothing
    """
    latencies = asyncio.run(fan_out(gateway))

    for region, (create, adjust) in latencies.items():
        print(
            f"\nmutation response -> {region} subscriber: "
            f"createProduct {create * 1000:.1f} ms, adjustStock {adjust * 1000:.1f} ms"
        )
