"""The local operator's proof: a token made afresh for each ``gateway dev`` run.

It is kept in ``dev.json`` in the state directory (0600, :mod:`emulator.statefile`), so
whoever may read the state directory is the operator, and nobody else is: not another
local user, not a web page the operator's browser opens.

* The ``gateway`` commands send it as ``Authorization: Bearer <token>``
  (:func:`operator_headers`).
* A browser gets in once through the status URL ``gateway dev`` prints,
  ``/_emulator/status?token=<token>``: the answer is a redirect to the same page
  without the token, setting an ``HttpOnly``, ``SameSite=Strict`` cookie for
  ``/_emulator`` on that origin, which the page's own polling then carries.

:class:`OperatorOnly` wraps the admin apps (:mod:`emulator.admin`,
:mod:`emulator.mock.admin`): a request without the token gets 401, one with a wrong
token 403, before the app sees it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qsl, urlencode

from starlette.types import ASGIApp, Receive, Scope, Send

LOGIN_PARAMETER = "token"
COOKIE_PATH = "/_emulator"


def new_token() -> str:
    """A token no one can guess: 256 bits from the OS."""
    return secrets.token_urlsafe(32)


def operator_headers(token: str) -> dict[str, str]:
    """What an operator's command sends to prove itself."""
    return {"authorization": f"Bearer {token}"}


def login_url(status_url: str, token: str) -> str:
    """The status page's URL that signs a browser in (printed once by ``gateway dev``)."""
    return f"{status_url}?{urlencode({LOGIN_PARAMETER: token})}"


def cookie_name(token: str) -> str:
    """This run's cookie name: a browser keeps cookies by host, not by port, so two
    ``gateway dev`` runs on one machine each need a name of their own."""
    return "gateway-operator-" + hashlib.sha256(token.encode()).hexdigest()[:12]


class OperatorOnly:
    """ASGI middleware: the wrapped app answers only requests that carry ``token``."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self._app = app
        self._token = token.encode()
        self._cookie = cookie_name(token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        headers = {
            key.decode("latin-1").lower(): value.decode("latin-1")
            for key, value in scope.get("headers", [])
        }
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        offered = query.get(LOGIN_PARAMETER)
        if offered is not None and scope["method"] == "GET":
            await self._login(scope, send, offered, query)
            return
        presented = _bearer(headers.get("authorization", "")) or _cookie(
            headers.get("cookie", ""), self._cookie
        )
        if presented is None:
            await _refuse(
                send,
                401,
                "this is gateway dev's operator endpoint: send the operator token from "
                "the state directory's dev.json as 'Authorization: Bearer <token>' (the "
                "gateway commands do), or open the status URL gateway dev printed",
            )
            return
        if not self._matches(presented):
            await _refuse(send, 403, "the operator token is not this gateway dev's")
            return
        await self._app(scope, receive, send)

    async def _login(self, scope: Scope, send: Send, offered: str, query: dict[str, str]) -> None:
        if not self._matches(offered):
            await _refuse(send, 403, "the operator token is not this gateway dev's")
            return
        rest = {name: value for name, value in query.items() if name != LOGIN_PARAMETER}
        # The full path (Starlette keeps it whole in a mounted app), without the Host:
        # a relative redirect stays on the origin that asked.
        location = scope["path"] + (f"?{urlencode(rest)}" if rest else "")
        cookie = (
            f"{self._cookie}={self._token.decode()}; Path={COOKIE_PATH}; HttpOnly; SameSite=Strict"
        )
        await send(
            {
                "type": "http.response.start",
                "status": 303,
                "headers": [
                    (b"location", location.encode()),
                    (b"set-cookie", cookie.encode()),
                    (b"cache-control", b"no-store"),
                    (b"content-length", b"0"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b""})

    def _matches(self, presented: str) -> bool:
        return hmac.compare_digest(presented.encode("latin-1", "replace"), self._token)


def _bearer(authorization: str) -> str | None:
    scheme, _, value = authorization.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def _cookie(header: str, name: str) -> str | None:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None else None


async def _refuse(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="gateway dev operator"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
