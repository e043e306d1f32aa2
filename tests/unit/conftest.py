"""Unit tests run with sockets disabled: anything that reaches for the network fails."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest


class SocketDisabled(RuntimeError):
    """A unit test tried to open a socket."""


def _refuse(*args: Any, **kwargs: Any) -> None:
    raise SocketDisabled("unit tests may not open sockets; use a fake")


@pytest.fixture(autouse=True)
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(socket, "socket", _refuse)
    monkeypatch.setattr(socket, "create_connection", _refuse)
    yield
