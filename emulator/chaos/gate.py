"""Region outages and throttling, injected where every region's DynamoDB calls meet.

Every region's DynamoDB and DynamoDB Streams client talks to one local moto server
(:mod:`emulator.cloud.server`). :func:`fault_gate` wraps its WSGI app, ahead of the lock that
serializes moto (:func:`emulator.cloud.moto_fixes.serialized`), so a held request never holds
up another region. The target region is the one the client signed for: SigV4's
credential scope, ``Credential=AKID/DATE/REGION/SERVICE/aws4_request``.

* outage, mode ``fail``: HTTP 503 ``ServiceUnavailable``, before moto sees the call.
  botocore takes a 5xx as transient and retries it at once (DynamoDB's non-throttling
  backoff is 25 ms at most on the first retry), so a client with ``max_attempts=2``
  raises within tens of milliseconds: the service reports it read-only at once.
* outage, mode ``hang``: the request is held until the outage is cleared or
  :data:`HANG_CAP_S` passes, so each client meets its own read timeout; it is then
  answered 503 and NEVER applied, as a request to a black-holed endpoint never lands.
* throttle: HTTP 400 ``ProvisionedThroughputExceededException`` for table reads and
  writes (the data-plane actions below) at the chosen rate; streams, control-plane
  calls and other regions are untouched.
* lost reply: a table write (:data:`_WRITES`) goes to moto; when moto applied it (2xx),
  the answer is never sent. The request is held until the client gives up (its read
  timeout closes the connection) or :data:`HANG_CAP_S` passes, then the connection is
  closed with no answer: the client sees a timeout, or a dropped connection, and cannot
  tell that the write landed. A write moto refused is answered as it was, and does
  not count. A server that hands over no socket (``werkzeug.socket``) gets HTTP 500
  ``InternalServerError`` after the cap, which says nothing of the write either.

A request carrying :data:`OPERATOR_HEADER` passes every fault: the emulator's own
status page reads through it, as an operator's console outside the failed region.
"""

from __future__ import annotations

import json
import re
import select
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any

from emulator.chaos.faults import HANG, FaultRegistry

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

HANG_CAP_S = 30.0
OPERATOR_HEADER = "x-gateway-emulator-operator"
_OPERATOR_ENVIRON = "HTTP_" + OPERATOR_HEADER.upper().replace("-", "_")
_MAX_AUTHORIZATION = 8192
# The region: botocore's own rule for a region name, which is a DNS label.
_CREDENTIAL = re.compile(
    r"Credential=[^/\s,]{1,128}/\d{8}/([a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)"
    r"/[a-z0-9-]{1,64}/aws4_request(?:[,\s]|$)"
)
_DYNAMODB_TARGET = "DynamoDB_20120810."
# What a table's capacity limits: its reads and writes, not describing or creating it.
_DATA_PLANE = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    }
)
# What changes a table: the writes whose replies a lost-reply fault takes.
_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})
_NAMESPACE = "com.amazonaws.dynamodb.v20120810#"


def region_of(authorization: str | None) -> str | None:
    """The region a SigV4 ``Authorization`` header was signed for, or None."""
    if not authorization or len(authorization) > _MAX_AUTHORIZATION:
        return None
    if not authorization.startswith("AWS4-HMAC-SHA256 "):
        return None
    found = _CREDENTIAL.search(authorization)
    return found.group(1) if found else None


def fault_gate(app: Wsgi, faults: FaultRegistry, hang_cap_s: float = HANG_CAP_S) -> Wsgi:
    """``app`` behind the region faults in ``faults``."""

    def gate(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        operator = _OPERATOR_ENVIRON in environ
        region = None if operator else region_of(environ.get("HTTP_AUTHORIZATION"))
        if region is None:
            return app(environ, start_response)
        outage = faults.outage(region)
        if outage is not None:
            _drain(environ)
            if outage.spec.mode == HANG:
                faults.hold(outage, hang_cap_s)
            return _answer(
                start_response,
                "503 Service Unavailable",
                "ServiceUnavailable",
                f"{region} is unavailable (injected outage {outage.id}).",
            )
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        action = target.removeprefix(_DYNAMODB_TARGET)
        table_call = action in _DATA_PLANE and target.startswith(_DYNAMODB_TARGET)
        if table_call and faults.throttles(region):
            _drain(environ)
            return _answer(
                start_response,
                "400 Bad Request",
                "ProvisionedThroughputExceededException",
                "The level of configured provisioned throughput for the table was exceeded "
                "(injected throttle).",
            )
        if table_call and action in _WRITES and faults.lost_reply(region) is not None:
            return _losing_the_reply(app, environ, start_response, faults, region, hang_cap_s)
        return app(environ, start_response)

    return gate


def _losing_the_reply(
    app: Wsgi,
    environ: dict[str, Any],
    start_response: Callable[..., Any],
    faults: FaultRegistry,
    region: str,
    hang_cap_s: float,
) -> Iterable[bytes]:
    """Apply the write; if moto took it, keep its answer from the client."""
    started: list[tuple[str, Any]] = []

    def keep(status: str, headers: Any, exc_info: Any = None) -> None:
        started[:] = [(status, headers)]

    answer = list(app(environ, keep))
    status, headers = started[-1]
    lost = faults.lose_reply(region) if status.startswith("2") else None
    if lost is None:
        start_response(status, headers)
        return answer
    client = environ.get("werkzeug.socket")
    if not isinstance(client, socket.socket):
        threading.Event().wait(hang_cap_s)
    else:
        _hang_up_after_the_client(client, hang_cap_s)
    return _answer(
        start_response,
        "500 Internal Server Error",
        "InternalServerError",
        f"The reply was lost (injected fault {lost.id}).",
    )


def _hang_up_after_the_client(client: socket.socket, cap_s: float) -> None:
    """Wait until the client closes the connection or sends anything (it gave up, or
    moved on), at most ``cap_s``; then close it, unanswered."""
    try:
        select.select([client], [], [], cap_s)
        client.shutdown(socket.SHUT_RDWR)
    except (OSError, ValueError):
        pass  # already closed by the client: nothing to hang up


def _drain(environ: dict[str, Any]) -> None:
    """Read the unanswered request's body: a socket closed with unread bytes sends a
    reset, which can reach the client before the answer does."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return
    stream = environ["wsgi.input"]
    while length > 0:
        chunk = stream.read(min(length, 65536))
        if not chunk:
            return
        length -= len(chunk)


def _answer(
    start_response: Callable[..., Any], status: str, code: str, message: str
) -> list[bytes]:
    body = json.dumps({"__type": _NAMESPACE + code, "message": message}).encode()
    start_response(
        status,
        [
            ("Content-Type", "application/x-amz-json-1.0"),
            ("Content-Length", str(len(body))),
            ("x-amzn-RequestId", "injected-fault"),
        ],
    )
    return [body]
