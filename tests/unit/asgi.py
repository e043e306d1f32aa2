"""Drive an ASGI app with one request, in-process: what it sent back, and whether the
app behind a middleware was reached."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from starlette.types import Receive, Scope, Send


@dataclass
class Reached:
    """An app that answers 200 "reached" and remembers each scope it was given."""

    scopes: list[Scope] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scopes.append(scope)
        if scope["type"] == "websocket":
            await send({"type": "websocket.accept"})
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"reached"})


@dataclass
class Answer:
    status: int | None
    headers: dict[str, str]
    body: bytes
    messages: list[dict[str, Any]]


def call(
    app: Any,
    path: str = "/",
    *,
    method: str = "GET",
    headers: list[tuple[str, str]] | None = None,
    query: str = "",
    kind: str = "http",
) -> Answer:
    scope: dict[str, Any] = {
        "type": kind,
        "method": method,
        "path": path,
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers or []],
        "scheme": "http" if kind == "http" else "ws",
        "server": ("127.0.0.1", 4000),
        "http_version": "1.1",
    }
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    asyncio.run(app(scope, receive, send))
    start = next((m for m in messages if m["type"] == "http.response.start"), None)
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    answer_headers = {k.decode().lower(): v.decode() for k, v in (start or {}).get("headers", [])}
    return Answer(start["status"] if start else None, answer_headers, body, messages)
