"""A small GraphQL client for the operator's checks: one POST, or one subscription over
AppSync's real-time protocol, against AppSync, a public domain or ``gateway dev``.

The subscription speaks what AWS documents for its own clients ("Building a real-time
WebSocket client"): the auth headers, with the API's ``host``, go base64-encoded in
``header=`` (with ``payload=e30=``), then ``connection_init`` -> ``connection_ack``,
``start`` (the same headers in ``extensions.authorization``) -> ``start_ack``, then
``data`` messages between keep-alives (``ka``).
"""

from __future__ import annotations

import base64
import contextlib
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

from websockets.exceptions import WebSocketException
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

TIMEOUT_S = 10.0
_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


class GraphQLFailed(Exception):
    """The call did not answer as asked; the message says how, for people."""


class Unreachable(GraphQLFailed):
    """Nothing answered at the address."""


def post(url: str, query: str, variables: dict[str, Any], headers: dict[str, str]) -> Any:
    """The ``data`` of one request that must succeed.

    Raises
    ------
    Unreachable
        No connection could be made.
    GraphQLFailed
        An HTTP error, or an answer with errors: the first one's type and message.
    """
    body = json.dumps({"query": query, "variables": variables}).encode()
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"content-type": "application/json", **headers}
    )
    try:
        with _opener(url).open(request, timeout=TIMEOUT_S) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as error:
        raise GraphQLFailed(f"HTTP {error.code} from {url}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        reason = getattr(error, "reason", error)
        raise Unreachable(f"no answer from {url} ({reason})") from None
    except ValueError:
        raise GraphQLFailed(f"{url} answered with something that is not JSON") from None
    errors = answer.get("errors") if isinstance(answer, dict) else None
    if errors:
        first = errors[0]
        raise GraphQLFailed(f"{first.get('errorType', 'error')}: {first.get('message')}")
    return answer.get("data") if isinstance(answer, dict) else None


def _opener(url: str) -> urllib.request.OpenerDirector:
    """Straight to a loopback address, whatever proxy the environment names."""
    if urlsplit(url).hostname in _LOOPBACK:
        return urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener()


class Subscription:
    """One subscription over AppSync's real-time protocol; open once the server said
    ``start_ack``, so whatever happens after is heard."""

    def __init__(
        self,
        realtime_url: str,
        http_url: str,
        headers: dict[str, str],
        query: str,
        variables: dict[str, Any],
    ) -> None:
        auth = {"host": urlsplit(http_url).netloc, **headers}
        encoded = base64.b64encode(json.dumps(auth).encode()).decode()
        url = f"{realtime_url}?header={quote(encoded)}&payload=e30="
        loopback = urlsplit(realtime_url).hostname in _LOOPBACK
        try:
            self._socket: ClientConnection = connect(
                url,
                subprotocols=[Subprotocol("graphql-ws")],
                open_timeout=TIMEOUT_S,
                proxy=None if loopback else True,
            )
        except (OSError, WebSocketException, TimeoutError) as error:
            raise Unreachable(f"no subscription socket at {realtime_url} ({error})") from None
        try:
            self._send({"type": "connection_init"})
            self._expect("connection_ack")
            data = json.dumps({"query": query, "variables": variables})
            payload = {"data": data, "extensions": {"authorization": auth}}
            self._send({"id": "1", "type": "start", "payload": payload})
            self._expect("start_ack")
        except BaseException:
            self.close()
            raise

    def wait_for(self, wanted: Callable[[Any], bool], timeout_s: float) -> Any:
        """The first ``data`` payload ``wanted`` accepts.

        Raises
        ------
        GraphQLFailed
            An error came instead, the socket closed, or nothing came in time.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            message = self._receive(deadline, timeout_s)
            if message.get("type") == "data":
                data = (message.get("payload") or {}).get("data")
                if wanted(data):
                    return data

    def close(self) -> None:
        with contextlib.suppress(OSError, WebSocketException):
            self._send({"id": "1", "type": "stop"})
        self._socket.close()

    def _expect(self, kind: str) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            message = self._receive(deadline, TIMEOUT_S)
            if message.get("type") == kind:
                return message

    def _receive(self, deadline: float, allowed_s: float) -> dict[str, Any]:
        """The next message but keep-alives; an error message fails."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise GraphQLFailed(f"nothing came within {allowed_s:g} s")
            try:
                message = json.loads(self._socket.recv(timeout=left))
            except TimeoutError:
                continue
            except (OSError, WebSocketException) as error:
                raise GraphQLFailed(f"the subscription socket closed ({error})") from None
            except ValueError:
                raise GraphQLFailed("the server sent something that is not JSON") from None
            kind = message.get("type") if isinstance(message, dict) else None
            if kind == "ka":
                continue
            if kind in ("error", "connection_error"):
                errors = (message.get("payload") or {}).get("errors") or [{}]
                first = errors[0]
                raise GraphQLFailed(f"{first.get('errorType', kind)}: {first.get('message')}")
            return dict(message)

    def _send(self, message: dict[str, Any]) -> None:
        self._socket.send(json.dumps(message))
