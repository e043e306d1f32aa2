"""What every subscription protocol's session shares: its socket, its subscriptions,
one writer at a time, and cleaning up when the client goes."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any, Protocol

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketDisconnected

from emulator.auth import Caller
from emulator.subscriptions import Subscription, Subscriptions


class Region(Protocol):
    """What a session needs of its region."""

    subscriptions: Subscriptions

    def authenticate(
        self, headers: dict[str, str], request: tuple[str, str, bytes] | None = None
    ) -> Caller | None: ...


class SocketSession:
    def __init__(self, websocket: WebSocket, region: Region) -> None:
        self._socket = websocket
        self._region = region
        self._caller: Caller | None = None
        self._subscriptions: dict[str, Subscription] = {}
        self._send_lock = asyncio.Lock()

    async def run(self) -> None:
        """Serve the connection until the client leaves; then drop its subscriptions."""
        self._region.subscriptions.connected(self)
        try:
            await self._serve()
        except (WebSocketDisconnect, WebSocketDisconnected):
            # The second: a send found the client gone, so the next receive cannot run.
            pass
        finally:
            self._region.subscriptions.disconnected(self)
            for subscription in self._subscriptions.values():
                self._region.subscriptions.unsubscribe(subscription)
            self._subscriptions.clear()

    async def drop(self, code: int, reason: str) -> None:
        """Close the socket from the server's side; the pending receive then ends the
        session as if the client had left."""
        async with self._send_lock:
            with contextlib.suppress(RuntimeError, WebSocketDisconnect, WebSocketDisconnected):
                await self._socket.close(code, reason)

    async def _serve(self) -> None:
        raise NotImplementedError

    def _upgrade_headers(self) -> dict[str, str]:
        return {key.lower(): value for key, value in self._socket.headers.items()}

    def _forget(self, operation_id: str) -> bool:
        subscription = self._subscriptions.pop(operation_id, None)
        if subscription is None:
            return False
        self._region.subscriptions.unsubscribe(subscription)
        return True

    async def _receive_json(self) -> Any:
        """The next message parsed; None for a frame that is not JSON text (a binary
        frame, or text nested too deep to parse)."""
        message = await self._socket.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
        text = message.get("text")
        if text is None:
            return None
        try:
            return json.loads(text)
        except (ValueError, RecursionError):
            return None

    async def _send(self, message: dict[str, Any]) -> None:
        async with self._send_lock:
            with contextlib.suppress(RuntimeError, WebSocketDisconnect, WebSocketDisconnected):
                await self._socket.send_text(json.dumps(message))
