"""uvicorn's h11 protocol, with what a public endpoint needs and uvicorn 0.54 lacks.

* A request read timeout: a request's line, headers and body must all arrive within
  :attr:`BoundedH11Protocol.read_timeout_s` of its first byte (of the connection, for
  the first request). uvicorn bounds only the idle time between requests
  (``timeout_keep_alive``), so a client that sent half a request line, or nothing,
  held its connection for ever. A partial request is answered 408, then closed.
* Lingering close: when a request is refused before its body was read (413), uvicorn
  closes the socket while the client is still sending. The kernel then resets the
  connection, and a client that sends its whole body before it reads (urllib, curl
  without ``Expect``) loses the answer. So the answer is followed by a half-close, and
  whatever else arrives is discarded, unparsed and unkept, until the client closes or
  :attr:`BoundedH11Protocol.linger_s` passes.
* A WebSocket handshake the WebSocket parser cannot read is refused: uvicorn parses the
  upgrade again with websockets, which reads lines of at most 8 KB and at most 128
  headers, and on anything longer sends nothing and holds the socket, unanswered, for
  as long as the client waits. So a request line over that is answered 414, and a
  header line or count over it 431, before the handover; then the socket is closed.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol
from websockets.http11 import MAX_LINE_LENGTH, MAX_NUM_HEADERS

LINGER_S = 2.0
# Apache's RequestReadTimeout allows 20 s for headers; a client on this machine or the
# next needs milliseconds, so 10 s tells a stalled or hostile client from a slow one.
READ_TIMEOUT_S = 10.0
_TIMED_OUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\ncontent-length: 35\r\n\r\nThe request did not arrive in time.\n"
)


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
    """An h11 connection whose requests must arrive in time, and that never resets a
    client still sending a refused body."""

    linger_s = LINGER_S
    read_timeout_s = READ_TIMEOUT_S

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._socket = transport
        self._lingering = False
        self._upgraded = False
        self._reading: asyncio.TimerHandle | None = None
        self._request_bytes = 0
        super().connection_made(_Transport(transport, self))  # type: ignore[arg-type]
        self._start_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_reading()
        super().connection_lost(exc)

    def _start_reading(self) -> None:
        """A request (or the connection) begins: it has ``read_timeout_s`` to arrive."""
        self._stop_reading()
        self._request_bytes = 0
        self._reading = self.loop.call_later(self.read_timeout_s, self._read_timed_out)

    def _stop_reading(self) -> None:
        if self._reading is not None:
            self._reading.cancel()
            self._reading = None

    def _read_timed_out(self) -> None:
        self._reading = None
        socket = self._socket
        if socket.is_closing():
            return
        answering = self.cycle is not None and not self.cycle.response_complete
        if self._request_bytes and not answering:
            # Half a request line or header: h11 cannot answer a request it has not
            # parsed, so the 408 is written as it is.
            socket.write(_TIMED_OUT)
        # While the app waits for the rest of a body, closing tells it the client is
        # gone (ClientDisconnect); it answers nobody.
        socket.close()

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
        if self._reading is None and self.conn.their_state is h11.IDLE:
            self._start_reading()  # the first bytes of the next request on this connection
        self._request_bytes += len(data)
        super().data_received(data)
        if self.conn.their_state not in (h11.IDLE, h11.SEND_BODY):
            self._stop_reading()  # all of it arrived (or the connection is done)

    def eof_received(self) -> None:
        if self._lingering:
            self._socket.close()

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        refusal = _unreadable_handshake(event)
        if refusal is not None:
            self._stop_reading()
            self._socket.write(refusal)
            self._socket.close()
            return
        # The WebSocket protocol takes the socket over, with its own timeouts, and
        # closes it its own way.
        self._upgraded = True
        self._stop_reading()
        super().handle_websocket_upgrade(event)


def _unreadable_handshake(event: h11.Request) -> bytes | None:
    """The answer refusing a handshake the WebSocket parser would not read, or None.

    Its line limit counts the line ending too.
    """
    request_line = len(event.method) + len(event.target) + len(b"  HTTP/1.1\r\n")
    if request_line > MAX_LINE_LENGTH:
        return _refusal(b"414 URI Too Long", b"The request line is too long.\n")
    too_long = any(len(name) + len(value) + 4 > MAX_LINE_LENGTH for name, value in event.headers)
    if too_long or len(event.headers) > MAX_NUM_HEADERS:
        return _refusal(
            b"431 Request Header Fields Too Large", b"The request's headers are too large.\n"
        )
    return None


def _refusal(status: bytes, body: bytes) -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: text/plain; charset=utf-8\r\n"
        b"connection: close\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


def bounded_h11(read_timeout_s: float = READ_TIMEOUT_S) -> type[BoundedH11Protocol]:
    """The protocol class for uvicorn's ``http`` setting, with its own read timeout
    (uvicorn builds one protocol per connection from the class)."""
    return type("BoundedH11Protocol", (BoundedH11Protocol,), {"read_timeout_s": read_timeout_s})
