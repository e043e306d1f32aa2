"""One HTTP/1.1 exchange with an origin, streamed both ways: CloudFront's side of it.

The request body is sent as it arrives while the answer is awaited, so an origin that
answers before reading the whole body (a 413) is heard at once, as a client talking to
it directly would hear it. Each exchange has its own connection, closed after it: the
origins are loopback servers, and a pool would only hold sockets the regions count.
h11, which uvicorn already brings, does the parsing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import h11

CHUNK_BYTES = 64 * 1024


class OriginUnreachable(Exception):
    """The origin refused or dropped the connection, or did not speak HTTP: a 502."""


class OriginTimedOut(Exception):
    """The origin did not answer within the read timeout: a 504."""


@dataclass
class OriginResponse:
    """The origin's answer: status and headers now, the body as it arrives."""

    status: int
    headers: list[tuple[bytes, bytes]]
    _connection: _Connection = field(repr=False)

    async def body(self) -> AsyncIterator[bytes]:
        """The body's chunks; the connection closes after the last one, or on error."""
        try:
            while True:
                event = await self._connection.next_event()
                if isinstance(event, h11.Data):
                    yield bytes(event.data)
                elif isinstance(event, h11.EndOfMessage):
                    return
        finally:
            await self.close()

    async def close(self) -> None:
        await self._connection.close()


async def exchange(
    address: tuple[str, int],
    method: str,
    target: bytes,
    headers: list[tuple[bytes, bytes]],
    body: AsyncIterator[bytes] | None,
    *,
    connect_timeout_s: float,
    read_timeout_s: float,
) -> OriginResponse:
    """Send one request to ``address`` and return the answer once its head arrived.

    ``headers`` must frame ``body`` (``content-length`` or ``transfer-encoding``) when
    there is one; ``host`` names the origin. The body is sent while the answer is read.

    Raises
    ------
    OriginUnreachable
        No connection, or the origin closed it or broke HTTP before answering.
    OriginTimedOut
        No answer (or nothing more of it) within ``read_timeout_s``.
    """
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(*address), connect_timeout_s
        )
    except TimeoutError:
        raise OriginUnreachable("the origin did not accept a connection in time") from None
    except OSError as error:
        raise OriginUnreachable(f"the origin refused the connection ({error.strerror})") from None
    connection = _Connection(reader, writer, read_timeout_s)
    try:
        request = h11.Request(method=method.encode(), target=target, headers=headers)
        await connection.send(request)
        if body is not None:
            connection.start_sending(body)
        else:
            await connection.send(h11.EndOfMessage())
        while True:
            event = await connection.next_event()
            if isinstance(event, h11.Response):
                return OriginResponse(event.status_code, list(event.headers), connection)
            # An InformationalResponse (100 Continue) is not the answer: read on.
    except BaseException:
        await connection.close()
        raise


class _Connection:
    """One client connection: an h11 state machine over an asyncio stream."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, read_timeout_s: float
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._read_timeout_s = read_timeout_s
        self._h11 = h11.Connection(h11.CLIENT)
        self._sending: asyncio.Task[None] | None = None

    async def send(self, event: h11.Event) -> None:
        data = self._h11.send(event)
        if data:
            self._writer.write(data)
            await self._writer.drain()

    def start_sending(self, body: AsyncIterator[bytes]) -> None:
        """Send ``body`` in the background, so the answer can be read meanwhile."""

        async def pump() -> None:
            try:
                async for chunk in body:
                    if chunk:
                        await self.send(h11.Data(data=chunk))
                await self.send(h11.EndOfMessage())
            except (OSError, h11.LocalProtocolError):
                # The origin stopped reading (it answered already, or went away); what
                # it answered, if anything, is read on the other side.
                return

        self._sending = asyncio.ensure_future(pump())

    async def next_event(self) -> h11.Event:
        while True:
            try:
                event = self._h11.next_event()
            except h11.RemoteProtocolError as error:
                raise OriginUnreachable(f"the origin broke HTTP ({error})") from None
            if event is h11.NEED_DATA:
                try:
                    data = await asyncio.wait_for(
                        self._reader.read(CHUNK_BYTES), self._read_timeout_s
                    )
                except TimeoutError:
                    raise OriginTimedOut("the origin did not answer in time") from None
                except OSError as error:
                    raise OriginUnreachable("the origin dropped the connection") from error
                self._h11.receive_data(data)
                continue
            if isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                raise OriginUnreachable("the origin closed the connection before answering")
            assert isinstance(event, h11.Event)
            return event

    async def close(self) -> None:
        if self._sending is not None and not self._sending.done():
            self._sending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sending
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()
