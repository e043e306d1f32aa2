"""The local DynamoDB endpoint answers ``gateway dev`` and its operator, nobody else.

moto accepts any credentials, or none: anyone who can reach its port could read every
customer's records, rewrite the control record, or wipe everything through moto's own
``/moto-api/reset``. :func:`guard` wraps the moto server's WSGI app, ahead of
everything else, and lets a request through only when

* its ``Host`` names the server by a loopback name and its own port (see
  :mod:`emulator.appsync.host_check`; a rebound web page names its own host), and
* it is SigV4-signed by the local IAM key pair (the one ``gateway dev`` prints and
  keeps in ``dev.json``, 0600), over the body that arrived (:mod:`emulator.appsync.sigv4`).

The emulator's own clients and the operator's commands sign with that pair; nothing
else is accepted, moto's unsigned API included. Refusals are DynamoDB's own errors, so
an SDK reports them as it would AWS's.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from typing import Any

from emulator.appsync import sigv4
from emulator.appsync.host_check import MISDIRECTED, host_allowed

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

MAX_BODY_BYTES = 16 * 1024 * 1024  # DynamoDB's own request limit
_NAMESPACE = "com.amazon.coral.service#"


def guard(app: Wsgi, access_key_id: str, secret_access_key: str) -> Wsgi:
    """``app``, for requests to this loopback server signed with this key pair alone."""

    def check(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        headers = _headers(environ)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY_BYTES:
            return _refuse(
                start_response,
                "413 Request Entity Too Large",
                "ValidationException",
                f"The request needs a Content-Length of at most {MAX_BODY_BYTES} bytes.",
            )
        # Read even a request about to be refused: a socket closed with unread bytes
        # sends a reset, which can reach the client before the answer does.
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        if not host_allowed(headers.get("host"), environ.get("SERVER_PORT", "")):
            return _refuse(start_response, "403 Forbidden", "AccessDeniedException", MISDIRECTED)
        if "authorization" not in headers:
            return _refuse(
                start_response,
                "400 Bad Request",
                "MissingAuthenticationTokenException",
                "Request is missing Authentication Token",
            )
        scope = sigv4.verify(
            access_key_id,
            secret_access_key,
            headers,
            environ.get("REQUEST_METHOD", "GET"),
            f"http://{headers['host']}{_raw_uri(environ)}",
            body,
        )
        if scope is None:
            return _refuse(
                start_response,
                "400 Bad Request",
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
        return app(environ, start_response)

    return check


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    """The request's headers, lower-cased, as the client sent and signed them."""
    headers = {
        key[len("HTTP_") :].lower().replace("_", "-"): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    for key, name in (("CONTENT_TYPE", "content-type"), ("CONTENT_LENGTH", "content-length")):
        if environ.get(key):
            headers[name] = str(environ[key])
    return headers


def _raw_uri(environ: dict[str, Any]) -> str:
    """The path and query as the client sent them, still encoded: SigV4 signs that form."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return str(raw)
    query = environ.get("QUERY_STRING")
    return str(environ.get("PATH_INFO", "/")) + (f"?{query}" if query else "")


def _refuse(
    start_response: Callable[..., Any], status: str, code: str, message: str
) -> list[bytes]:
    body = json.dumps({"__type": _NAMESPACE + code, "message": message}).encode()
    start_response(
        status,
        [
            ("Content-Type", "application/x-amz-json-1.0"),
            ("Content-Length", str(len(body))),
            ("x-amzn-RequestId", "refused-by-gateway-dev"),
        ],
    )
    return [body]
