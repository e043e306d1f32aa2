"""GraphiQL at GET /graphql, in headless Chromium, with no internet: it loads, runs a
query from the page, and shows the answer; every request it makes stays on this server."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import shutil
import subprocess
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.e2e.support import Gateway, unique, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
QUERY = "{ region { name primary } }"
# Chromium's own background traffic would be refused by this machine's closed network.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
)


class DevTools:
    """Just enough of the Chrome DevTools Protocol: send a command, await its answer."""

    def __init__(self, socket: ClientConnection) -> None:
        self._socket = socket
        self._ids = itertools.count(1)
        self.requested: list[str] = []

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        command_id = next(self._ids)
        await self._socket.send(json.dumps({"id": command_id, "method": method, "params": params}))
        while True:
            message = json.loads(await asyncio.wait_for(self._socket.recv(), 20))
            if message.get("method") == "Network.requestWillBeSent":
                self.requested.append(message["params"]["request"]["url"])
            if message.get("id") == command_id:
                return dict(message.get("result", {}))

    async def evaluate(self, expression: str) -> Any:
        answer = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return answer.get("result", {}).get("value")

    async def until(self, expression: str, timeout: float = 30) -> Any:
        """Evaluate until truthy, within ``timeout`` seconds."""
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            value = await self.evaluate(expression)
            if value:
                return value
            await self.call(
                "Runtime.evaluate",
                expression="new Promise(r => setTimeout(r, 100))",
                awaitPromise=True,
            )
        raise AssertionError(f"never true within {timeout} s: {expression}")


@contextlib.contextmanager
def chromium_page() -> Iterator[str]:
    """A headless Chromium; yields its page's DevTools WebSocket URL."""
    assert Path(CHROMIUM).exists(), "`make test` installs Debian's chromium"
    profile = Path(tempfile.mkdtemp(prefix="chromium-"))
    browser = subprocess.Popen(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        wait_until(port_file.exists, 30, "Chromium's DevTools port")
        debug_port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(
            f"http://127.0.0.1:{debug_port}/json/list", timeout=10
        ) as reply:
            page = next(target for target in json.loads(reply.read()) if target["type"] == "page")
        yield str(page["webSocketDebuggerUrl"])
    finally:
        browser.terminate()
        browser.wait(15)
        shutil.rmtree(profile, ignore_errors=True)


def result_containing(text: str) -> str:
    """JavaScript: the result pane's JSON (a CodeMirror editor) once it contains ``text``."""
    return (
        "(() => { const pane = document.querySelector('.result-window .CodeMirror');"
        " const value = pane && pane.CodeMirror ? pane.CodeMirror.getValue() : '';"
        f" return value.includes({json.dumps(text)}) ? value : ''; }})()"
    )


async def open_and_run(tools: DevTools, url: str, query: str) -> None:
    """Open GraphiQL with ``query`` in its editor and press its Run button."""
    await tools.call("Network.enable")
    await tools.call("Page.enable")
    await tools.call("Page.navigate", url=url + "?" + urllib.parse.urlencode({"query": query}))
    await tools.until("!!document.querySelector('.graphiql-execute-button')")
    await tools.evaluate("document.querySelector('.graphiql-execute-button').click()")


def test_graphiql_runs_a_query_offline(gateway: Gateway) -> None:
    """GIVEN GraphiQL at GET /graphql with a query in the URL WHEN the page's Run button is
    clicked THEN the answer shows this region, and every request went to this server."""

    async def scenario(page: str) -> tuple[str, list[str]]:
        async with connect(page, max_size=None) as socket:
            tools = DevTools(socket)
            await open_and_run(tools, gateway.primary, QUERY)
            shown = await tools.until(result_containing("us-east-1"))
            return str(shown), tools.requested

    with chromium_page() as page:
        shown, requested = asyncio.run(scenario(page))

    assert json.loads(shown)["data"]["region"] == {"name": "us-east-1", "primary": "us-east-1"}
    origin = gateway.primary.removesuffix("/graphql")
    outside = [
        address for address in requested if not address.startswith((origin, "data:", "blob:"))
    ]
    assert outside == []


def test_graphiql_runs_a_subscription(gateway: Gateway) -> None:
    """GIVEN GraphiQL in eu-west-1 running a subscription to category C WHEN products in C
    are written through us-east-1 THEN one of them appears in the page's result pane."""
    category = unique("graphiql")
    subscription = f'subscription {{ onProductChanged(category: "{category}") {{ name }} }}'

    async def scenario(page: str) -> str:
        async with connect(page, max_size=None) as socket:
            tools = DevTools(socket)
            await open_and_run(tools, gateway.replica, subscription)
            # The page subscribes asynchronously; write until it has heard one (bounded).
            for attempt in range(20):
                name = f"Kite {attempt}"
                fields = f'sku: "{unique("KITE")}", name: "{name}", category: "{category}", '
                fields += 'priceCents: 900, currency: "EUR", stock: 1'
                await asyncio.to_thread(
                    gateway.query,
                    gateway.primary,
                    f"mutation {{ createProduct(input: {{{fields}}}) {{ id }} }}",
                )
                try:
                    return str(await tools.until(result_containing("Kite"), timeout=1.5))
                except AssertionError:
                    continue
            raise AssertionError("the page heard none of 20 products")

    with chromium_page() as page:
        shown = asyncio.run(scenario(page))

    assert json.loads(shown)["data"]["onProductChanged"]["name"].startswith("Kite ")
