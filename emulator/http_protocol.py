"""uvicorn's h11 protocol, with what a public endpoint needs and uvicorn 0.54 lacks.

* Lingering close: when a request is refused before its body was read (413), uvicorn
  closes the socket while the client is still sending. The kernel then resets the
  connection, and a client that sends its whole body before it reads (urllib, curl
  without ``Expect``) loses the answer. So the answer is followed by a half-close, and
  whatever else arrives is discarded, unparsed and unkept, until the client closes or
  :attr:`BoundedH11Protocol.linger_s` passes.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

LINGER_S = 2.0


class _Transport:
    """The socket's transport as uvicorn sees it: every call goes through, except that
    :meth:`close` asks the protocol first."""

    def __init__(self, transport: asyncio.Transport, protocol: BoundedH11Protocol) -> None:
        self._transport = transport
        self._protocol = protocol

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)

    def close(self) -> None:
        self._protocol.close_after_answer()


class BoundedH11Protocol(H11Protocol):
    """An h11 connection that never resets a client still sending a refused body."""

    linger_s = LINGER_S

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._socket = transport
        self._lingering = False
        self._upgraded = False
        super().connection_made(_Transport(transport, self))  # type: ignore[arg-type]

    def close_after_answer(self) -> None:
        """Close now, or, while the client is still sending the body of a request that
        was answered without it, half-close and discard the rest for a while."""
        socket = self._socket
        still_sending = self.conn.their_state is h11.SEND_BODY
        if self._upgraded or self._lingering or socket.is_closing() or not still_sending:
            socket.close()
            return
        if not socket.can_write_eof():  # pragma: no cover - TLS transports cannot
            socket.close()
            return
        self._lingering = True
        socket.write_eof()
        socket.resume_reading()
        self.loop.call_later(self.linger_s, socket.close)

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return  # the rest of a refused body: the answer has gone
        super().data_received(data)

    def eof_received(self) -> None:
        if self._lingering:
            self._socket.close()

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        # The WebSocket protocol takes the socket over, and closes it its own way.
        self._upgraded = True
        super().handle_websocket_upgrade(event)
