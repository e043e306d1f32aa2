"""Only requests addressed to this server by a loopback name and its own port.

``gateway dev`` listens on loopback, which a web page cannot reach by its own origin, but
can through DNS rebinding: the page's hostname is re-pointed at 127.0.0.1, and the
browser then sends it requests as same-origin, free to read the answers (GraphiQL's
page embeds the API key). Such a request still says the page's hostname in ``Host``.
So every endpoint (:func:`loopback_only` on each region's app, and the moto server's
guard, :mod:`emulator.cloud.guard`) answers only ``127.0.0.1:PORT``, ``localhost:PORT``
and ``[::1]:PORT``, for the port it is bound to, and refuses anything else with 403.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
MISDIRECTED = (
    "This is a local gateway dev: it answers only requests for 127.0.0.1, localhost or "
    "[::1] with its own port, as a browser sends for the URL gateway dev printed."
)


def host_allowed(host: str | None, port: int | str) -> bool:
    """Whether a ``Host`` header names this loopback server on ``port``."""
    if not host:
        return False
    allowed = {f"{name}:{port}" for name in LOOPBACK_NAMES}
    if str(port) == "80":  # a browser leaves the default port out
        allowed.update(LOOPBACK_NAMES)
    return host.strip().lower() in allowed


def loopback_only(url: str | None) -> Middleware:
    """The middleware for the server that ``url`` (its printed URL) names."""
    port = urlsplit(url or "").port
    if port is None:
        raise ValueError(f"{url} names no port; gateway dev always binds one")
    return Middleware(LoopbackHostOnly, port=port)


class LoopbackHostOnly:
    """ASGI middleware: refuses HTTP and WebSocket requests for any other ``Host``."""

    def __init__(self, app: ASGIApp, port: int) -> None:
        self._app = app
        self._port = port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and not host_allowed(_host(scope), self._port):
            if scope["type"] == "websocket":
                # Closing before accepting makes the server answer the upgrade with 403.
                await send({"type": "websocket.close", "code": 1008})
                return
            body = json.dumps({"error": MISDIRECTED}).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 403,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self._app(scope, receive, send)


def _host(scope: Scope) -> str | None:
    hosts = [value for key, value in scope.get("headers", []) if key.lower() == b"host"]
    # Two Host headers are a smuggling attempt, not a request for either.
    return hosts[0].decode("latin-1") if len(hosts) == 1 else None
