"""What the fake WebSockets of the session tests share."""

from __future__ import annotations

from typing import Any

from starlette.websockets import WebSocketDisconnect


class AsgiReceive:
    """Starlette's ``WebSocket.receive`` on top of a fake's scripted ``receive_text``:
    text frames, binary frames (a ``bytes`` step) and the disconnect."""

    async def receive_text(self) -> str:
        raise NotImplementedError

    async def receive(self) -> dict[str, Any]:
        try:
            frame: str | bytes = await self.receive_text()
        except WebSocketDisconnect as gone:
            return {"type": "websocket.disconnect", "code": gone.code}
        kind = "bytes" if isinstance(frame, bytes) else "text"
        return {"type": "websocket.receive", kind: frame}
