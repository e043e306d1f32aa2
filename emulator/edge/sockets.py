"""The global endpoint's WebSockets: the handshake routed, then messages both ways.

The edge function routes a handshake as it routes any request (:mod:`emulator.edge.proxy`
runs it). The handshake then goes to the region it picked, with the viewer's headers and
subprotocols (AppSync's ``header-`` entries among them); the viewer is accepted with the
subprotocol the region chose, or refused with the region's own status and body. From
then on each message is passed on as it comes, and a close on either side closes the
other with the same code and reason.
"""

from __future__ import annotations

import asyncio
import contextlib

from starlette.types import Receive, Scope, Send
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.typing import Subprotocol

from emulator.edge.cloudfront import ForwardedRequest, error_body

CONNECT_TIMEOUT_S = 10.0
# The handshake's own headers: the client library sends its own to the region.
_HANDSHAKE = frozenset(
    {
        "host",
        "upgrade",
        "connection",
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
        "sec-websocket-protocol",
        "content-length",
        "transfer-encoding",
    }
)
# Close codes a peer may send (RFC 6455 7.4).
_SENDABLE = (
    frozenset(range(1000, 1004)) | frozenset(range(1007, 1015)) | frozenset(range(3000, 5000))
)


async def forward_websocket(
    scope: Scope, receive: Receive, send: Send, route: ForwardedRequest
) -> None:
    """Open the handshake ``route`` says at the region, then relay until either closes."""
    offered = [Subprotocol(name) for name in scope.get("subprotocols", [])]
    headers = [(name, value) for name, value in route.headers if name.lower() not in _HANDSHAKE]
    url = f"ws://{route.host}{route.target.decode('latin-1')}"
    try:
        upstream = await connect(
            url,
            subprotocols=offered or None,
            additional_headers=headers,
            user_agent_header=None,
            open_timeout=CONNECT_TIMEOUT_S,
            ping_interval=None,
            max_size=None,
            compression=None,
            proxy=None,
        )
    except InvalidStatus as refused:
        await pass_refusal(scope, send, refused)
        return
    except InvalidURI:
        # A target no WebSocket URI can hold (a fragment): no route takes it, and the
        # region refuses such a handshake just the same.
        await send({"type": "websocket.close", "code": 1008})
        return
    except TimeoutError:
        await refuse(scope, send, 504, "OriginReadTimeout", "The region did not answer in time.")
        return
    except (OSError, InvalidHandshake):
        await refuse(scope, send, 502, "OriginConnectError", "The region could not be reached.")
        return
    async with upstream:
        await send({"type": "websocket.accept", "subprotocol": upstream.subprotocol})
        await _relay(receive, send, upstream)


async def _relay(receive: Receive, send: Send, upstream: ClientConnection) -> None:
    """Pass messages both ways until either side closes; then close the other side with
    the same code and reason."""
    viewer_gone = asyncio.Event()

    async def from_viewer() -> None:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                viewer_gone.set()
                code = message.get("code", 1000)
                reason = message.get("reason") or ""
                await upstream.close(code if code in _SENDABLE else 1000, reason)
                return
            if message["type"] == "websocket.receive":
                text, data = message.get("text"), message.get("bytes")
                with contextlib.suppress(ConnectionClosed):
                    await upstream.send(text if text is not None else (data or b""))

    async def from_region() -> None:
        try:
            async for message in upstream:
                key = "text" if isinstance(message, str) else "bytes"
                await send({"type": "websocket.send", key: message})
        except ConnectionClosed:
            pass
        if viewer_gone.is_set():
            return
        code = upstream.close_code
        if code not in _SENDABLE:
            # 1005: closed without a code; 1006: dropped with no close at all, which the
            # viewer hears as the server failing.
            code = 1000 if code == 1005 else 1011
        reason = upstream.close_reason or ""
        await send({"type": "websocket.close", "code": code, "reason": reason})

    viewer = asyncio.ensure_future(from_viewer())
    region = asyncio.ensure_future(from_region())
    try:
        await asyncio.wait({viewer, region}, return_when=asyncio.FIRST_COMPLETED)
        if region.done() and not viewer.done():
            # The viewer was told the close; its disconnect still arrives, or it is gone.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(viewer), CONNECT_TIMEOUT_S)
        elif viewer.done() and not region.done():
            await region
    finally:
        for task in (viewer, region):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed, OSError):
                await task


async def refuse(scope: Scope, send: Send, status: int, error_type: str, message: str) -> None:
    """Refuse a handshake with ``status`` (a 403 where the server cannot say more)."""
    await _refuse_with(
        scope,
        send,
        status,
        [(b"content-type", b"application/json")],
        error_body(error_type, message),
    )


async def pass_refusal(scope: Scope, send: Send, refused: InvalidStatus) -> None:
    """The region refused the handshake: the viewer gets the same status and body."""
    response = refused.response
    headers = [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in response.headers.raw_items()
        if name.lower() in ("content-type", "x-amzn-errortype")
    ]
    await _refuse_with(scope, send, response.status_code, headers, bytes(response.body or b""))


async def _refuse_with(
    scope: Scope, send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    if "websocket.http.response" not in scope.get("extensions", {}):
        await send({"type": "websocket.close", "code": 1008})
        return
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
    await send({"type": "websocket.http.response.body", "body": body})
