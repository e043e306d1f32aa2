"""What every subscription protocol's session shares: its socket, its subscriptions,
one writer at a time, and cleaning up when the client goes."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any, Protocol

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketDisconnected

from domain.errors import LimitExceeded
from emulator.appsync.auth import Caller
from emulator.appsync.lambda_auth import Operation
from emulator.appsync.subscriptions import Subscription, Subscriptions


class Region(Protocol):
    """What a session needs of its region."""

    subscriptions: Subscriptions

    async def authenticate(
        self,
        headers: dict[str, str],
        request: tuple[str, str, bytes] | None = None,
        operation: Operation | None = None,
    ) -> Caller | None: ...


class SocketSession:
    """One subscriber socket; a protocol's session says :attr:`protocol`, serves it in
    :meth:`_serve`, and calls :meth:`_acknowledge` once ``connection_init`` passed."""

    protocol = ""

    def __init__(self, websocket: WebSocket, region: Region) -> None:
        self._socket = websocket
        self._region = region
        self._caller: Caller | None = None
        self._subscriptions: dict[str, Subscription] = {}
        self._send_lock = asyncio.Lock()

    async def run(self) -> None:
        """Serve the connection until the client leaves; then drop its subscriptions."""
        sockets = self._region.subscriptions.sockets
        try:
            sockets.opened(self, self._address())
        except LimitExceeded as error:
            await self._socket.accept(subprotocol=self.protocol)
            await self._refuse(error)
            return
        try:
            await self._serve()
        except (WebSocketDisconnect, WebSocketDisconnected):
            # The second: a send found the client gone, so the next receive cannot run.
            pass
        finally:
            sockets.closed(self)
            for subscription in self._subscriptions.values():
                self._region.subscriptions.unsubscribe(subscription)
            self._subscriptions.clear()

    async def _acknowledge(self, caller: Caller) -> bool:
        """Make the socket a subscriber of ``caller``'s, or refuse it (and say why) when
        the caller's key holds as many as it may; False once refused."""
        try:
            self._region.subscriptions.sockets.acknowledged(self, caller.credential)
        except LimitExceeded as error:
            await self._refuse(error)
            return False
        self._caller = caller
        return True

    async def _refuse(self, error: LimitExceeded) -> None:
        """Close the socket over a limit: 1008 (policy violation), the limit as reason."""
        with contextlib.suppress(RuntimeError, WebSocketDisconnect, WebSocketDisconnected):
            await self._socket.close(1008, error.message)

    async def _receive_before(self, deadline: float) -> Any:
        """The next message, if it comes before ``deadline`` (the loop's clock).

        Raises
        ------
        TimeoutError
            Nothing came in time.
        """
        left = deadline - asyncio.get_running_loop().time()
        return await asyncio.wait_for(self._receive_json(), max(left, 0))

    async def _init_timed_out(self) -> None:
        """Close a socket that did not say ``connection_init`` in time (graphql-ws's code)."""
        with contextlib.suppress(RuntimeError, WebSocketDisconnect, WebSocketDisconnected):
            await self._socket.close(4408, "Connection initialisation timeout")

    def _init_deadline(self, timeout_s: float) -> float:
        return asyncio.get_running_loop().time() + timeout_s

    def _address(self) -> str:
        client = self._socket.scope.get("client")
        return str(client[0]) if client else "unknown"

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
