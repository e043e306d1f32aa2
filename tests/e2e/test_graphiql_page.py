"""GraphiQL at GET /graphql, in headless Chromium, with no internet: it loads, runs a
query from the page, and shows the answer; every request it makes stays on this server."""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
import subprocess
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.e2e.support import Gateway, wait_until

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


def test_graphiql_runs_a_query_offline(gateway: Gateway) -> None:
    """GIVEN GraphiQL at GET /graphql with a query in the URL WHEN the page's Run button is
    clicked THEN the answer shows this region, and every request went to this server."""
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
        url = gateway.primary + "?" + urllib.parse.urlencode({"query": QUERY})

        async def scenario() -> tuple[str, list[str]]:
            async with connect(page["webSocketDebuggerUrl"], max_size=None) as socket:
                tools = DevTools(socket)
                await tools.call("Network.enable")
                await tools.call("Page.enable")
                await tools.call("Page.navigate", url=url)
                await tools.until("!!document.querySelector('.graphiql-execute-button')")
                await tools.evaluate("document.querySelector('.graphiql-execute-button').click()")
                # The result pane is a CodeMirror editor; its value is the JSON shown.
                shown = await tools.until(
                    "(() => { const pane = document.querySelector('.result-window .CodeMirror');"
                    " const text = pane && pane.CodeMirror ? pane.CodeMirror.getValue() : '';"
                    " return text.includes('us-east-1') ? text : ''; })()"
                )
                return str(shown), tools.requested

        shown, requested = asyncio.run(scenario())
    finally:
        browser.terminate()
        browser.wait(15)
        shutil.rmtree(profile, ignore_errors=True)

    assert json.loads(shown)["data"]["region"] == {"name": "us-east-1", "primary": "us-east-1"}
    origin = gateway.primary.removesuffix("/graphql")
    outside = [
        address for address in requested if not address.startswith((origin, "data:", "blob:"))
    ]
    assert outside == []
