"""Unit tests run with network sockets disabled: anything that reaches out fails.

Local socket pairs stay allowed, because every asyncio event loop needs one to start.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

_NETWORK = (socket.AF_INET, socket.AF_INET6)


class SocketDisabled(RuntimeError):
    """A unit test tried to open a network socket."""


class _LocalOnlySocket(socket.socket):
    def __init__(self, family: int = -1, *args: Any, **kwargs: Any) -> None:
        if family in _NETWORK or family == -1:
            raise SocketDisabled("unit tests may not open network sockets; use a fake")
        super().__init__(family, *args, **kwargs)


def _refuse(*args: Any, **kwargs: Any) -> None:
    raise SocketDisabled("unit tests may not open network sockets; use a fake")


@pytest.fixture(autouse=True)
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(socket, "socket", _LocalOnlySocket)
    monkeypatch.setattr(socket, "create_connection", _refuse)
    yield
