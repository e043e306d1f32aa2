"""The subscriber sockets of one region: who holds how many, and which are subscribers.

A socket counts against its client address from the moment it opens, and against its
key (API key, user, IAM key) once ``connection_init`` is acknowledged; only then is it
a subscriber. Over either cap it is refused with LimitExceeded, whose message the
session sends as its close reason (at most 123 bytes, as WebSocket close reasons are).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Protocol

from domain.errors import LimitExceeded
from emulator.appsync.limits import Limits


class Connection(Protocol):
    """A subscriber's open socket, as far as the region needs to end it."""

    async def drop(self, code: int, reason: str) -> None:
        """Close the socket from the server's side."""


class SubscriberSockets:
    """Counts of one region's open subscriber sockets, by address and by key."""

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._addresses: dict[Connection, str] = {}
        self._credentials: dict[Connection, str] = {}
        self._by_address: Counter[str] = Counter()
        self._by_credential: Counter[str] = Counter()

    @property
    def subscribers(self) -> int:
        """Acknowledged sockets: those that may subscribe."""
        return len(self._credentials)

    def opened(self, connection: Connection, address: str) -> None:
        """A socket opened from ``address``.

        Raises
        ------
        LimitExceeded
            The address already holds as many sockets as it may.
        """
        cap = self._limits.max_sockets_per_address
        if self._by_address[address] >= cap:
            raise LimitExceeded(f"Too many sockets: {cap} open sockets per address.")
        self._by_address[address] += 1
        self._addresses[connection] = address

    def acknowledged(self, connection: Connection, credential: str) -> None:
        """The socket's ``connection_init`` was accepted for ``credential``: it is now a
        subscriber.

        Raises
        ------
        LimitExceeded
            The key already holds as many acknowledged sockets as it may.
        """
        cap = self._limits.max_sockets_per_credential
        if self._by_credential[credential] >= cap:
            raise LimitExceeded(f"Too many sockets: {cap} open sockets per key.")
        self._by_credential[credential] += 1
        self._credentials[connection] = credential

    def closed(self, connection: Connection) -> None:
        """The socket is gone: it counts no more."""
        address = self._addresses.pop(connection, None)
        if address is not None:
            self._by_address[address] -= 1
            if not self._by_address[address]:
                del self._by_address[address]
        credential = self._credentials.pop(connection, None)
        if credential is not None:
            self._by_credential[credential] -= 1
            if not self._by_credential[credential]:
                del self._by_credential[credential]

    async def drop_all(self, code: int, reason: str) -> int:
        """Close every subscriber socket (a ``disconnect`` fault); the clients must
        reconnect and subscribe again. Returns how many were closed."""
        connections = list(self._credentials)
        await asyncio.gather(
            *(connection.drop(code, reason) for connection in connections),
            return_exceptions=True,
        )
        return len(connections)
