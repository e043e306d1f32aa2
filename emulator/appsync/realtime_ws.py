"""AppSync's real-time protocol (subprotocol ``graphql-ws``), as AWS documents it in
"Building a real-time WebSocket client in AWS AppSync".

* Connection auth comes from the ``header=`` query parameter (base64 JSON, with
  ``payload=e30=``), a ``header-<base64url JSON>`` subprotocol entry (never echoed), or
  plain upgrade headers: ``{"host", "Authorization": <client token or JWT>}``, or an
  IAM signature.
* ``connection_init`` -> ``connection_ack{connectionTimeoutMs}``, then ``ka`` at intervals.
  A socket that has not said ``connection_init`` within the connection timeout
  (AppSync's 300 s, ``--connection-init-timeout-ms``) is closed with 4408; until it is
  acknowledged it is no subscriber. A socket over its key's or address's cap gets a
  LimitExceeded ``connection_error`` and close code 1008.
* ``start{id, payload{data, extensions.authorization}}`` -> ``start_ack``, then ``data``;
  ``stop`` -> ``complete``. A ``start`` before the ack is ignored; a reused id gets
  DuplicatedOperationError. Every subscription-scoped error carries its id.
* A message over 240 KB is not sent: the subscriber gets an error instead.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
from typing import Any

from graphql import GraphQLError

from domain.errors import GatewayError, LimitExceeded
from emulator.appsync.executor import format_error
from emulator.appsync.lambda_auth import Operation
from emulator.appsync.socket_session import SocketSession

PROTOCOL = "graphql-ws"
HEADER_PROTOCOL_PREFIX = "header-"
CONNECTION_TIMEOUT_MS = 300_000
# Amplify JS alerts when no ka came for 65 s; every 30 s leaves a late one unnoticed.
KEEPALIVE_S = 30.0
MAX_MESSAGE_BYTES = 240 * 1024
_UNAUTHORIZED = {
    "errorType": "UnauthorizedException",
    "errorCode": 401,
    "message": "You are not authorized to make this call.",
}


class BadHeaders(ValueError):
    """The connection's encoded auth headers are not base64 JSON."""


class AppSyncRealtimeSession(SocketSession):
    protocol = PROTOCOL
    keepalive_s = KEEPALIVE_S

    async def _serve(self) -> None:
        await self._socket.accept(subprotocol=PROTOCOL)
        try:
            connect_headers = self._connect_headers()
        except BadHeaders as error:
            await self._connection_error("BadRequestException", str(error))
            return
        keepalive: asyncio.Task[None] | None = None
        limits = self._region.subscriptions.limits
        init_by = self._init_deadline(limits.connection_init_timeout_s)
        try:
            while True:
                try:
                    message = await (
                        self._receive_json()
                        if self._caller is not None
                        else self._receive_before(init_by)
                    )
                except TimeoutError:
                    await self._init_timed_out()
                    return
                kind = message.get("type") if isinstance(message, dict) else None
                if not isinstance(message, dict):
                    await self._error(None, "MalformedMessage", "Messages must be JSON objects.")
                elif kind == "connection_init":
                    if self._caller is not None:
                        continue  # AppSync acknowledges once
                    caller = await self._region.authenticate(
                        connect_headers, _signed("/graphql/connect", "{}", connect_headers)
                    )
                    if caller is None:
                        await self._send(
                            {"type": "connection_error", "payload": {"errors": [_UNAUTHORIZED]}}
                        )
                        await self._socket.close(1000)
                        return
                    if not await self._acknowledge(caller):
                        return
                    await self._send(
                        {
                            "type": "connection_ack",
                            "payload": {"connectionTimeoutMs": CONNECTION_TIMEOUT_MS},
                        }
                    )
                    keepalive = asyncio.create_task(self._keep_alive())
                elif kind == "start":
                    if self._caller is not None:  # before the ack, a start is ignored
                        await self._start(message)
                elif kind == "connection_terminate":
                    # Apollo-style clients (gql, Amplify) say goodbye before closing.
                    await self._socket.close(1000)
                    return
                elif kind == "stop":
                    operation_id = message.get("id")
                    if isinstance(operation_id, str) and self._forget(operation_id):
                        await self._send({"type": "complete", "id": operation_id})
                else:
                    await self._error(
                        message.get("id") if isinstance(message.get("id"), str) else None,
                        "UnsupportedOperation",
                        f"{kind!r} is not a message type of this protocol.",
                    )
        finally:
            if keepalive is not None:
                keepalive.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await keepalive

    async def _start(self, message: dict[str, Any]) -> None:
        operation_id = message.get("id")
        payload = message.get("payload")
        if not isinstance(operation_id, str) or not operation_id:
            await self._error(None, "MalformedMessage", "start needs a string id.")
            return
        if operation_id in self._subscriptions:
            await self._error(
                operation_id,
                "DuplicatedOperationError",
                f"Duplicated operation with id {operation_id}",
            )
            return
        request = _start_request(payload)
        if isinstance(request, str):
            await self._error(operation_id, "MalformedMessage", request)
            return
        query, variables, operation_name, authorization = request
        caller = self._caller
        if authorization is not None:
            signed = _signed("/graphql", payload["data"], authorization)  # type: ignore[index]
            operation = Operation(query, variables, operation_name)
            caller = await self._region.authenticate(authorization, signed, operation)
            if caller is None:
                await self._send(
                    {"type": "error", "id": operation_id, "payload": {"errors": [_UNAUTHORIZED]}}
                )
                return
        assert caller is not None

        async def deliver(data: dict[str, Any]) -> None:
            outgoing = {"type": "data", "id": operation_id, "payload": {"data": data}}
            if len(json.dumps(outgoing).encode()) > MAX_MESSAGE_BYTES:
                await self._error(
                    operation_id,
                    "LimitExceeded",
                    f"The message for this subscription is over {MAX_MESSAGE_BYTES // 1024} KB "
                    "and was not sent; select fewer fields.",
                )
                return
            await self._send(outgoing)

        try:
            self._region.subscriptions.limits.check_subscriptions(len(self._subscriptions))
            # The subscription's own resolver runs now, on the region's threads.
            self._subscriptions[operation_id] = await self._region.subscriptions.subscribe(
                query,
                variables,
                operation_name,
                caller,
                deliver,
            )
        except GraphQLError as error:
            await self._send_errors(operation_id, [format_error(error)])
            return
        except GatewayError as error:
            wrapped = GraphQLError(error.message, original_error=error)
            await self._send_errors(operation_id, [format_error(wrapped)])
            return
        await self._send({"type": "start_ack", "id": operation_id})

    def _connect_headers(self) -> dict[str, str]:
        headers = self._upgrade_headers()
        encoded = self._socket.query_params.get("header")
        if encoded:
            headers.update(_decode_headers(encoded))
        for offered in self._socket.scope.get("subprotocols", []):
            if offered.startswith(HEADER_PROTOCOL_PREFIX):
                headers.update(_decode_headers(offered[len(HEADER_PROTOCOL_PREFIX) :]))
        return headers

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(self.keepalive_s)
            await self._send({"type": "ka"})

    async def _refuse(self, error: LimitExceeded) -> None:
        # AppSync's clients read a refused connection from connection_error.
        limit = {"errorType": "LimitExceeded", "message": error.message}
        await self._send({"type": "connection_error", "payload": {"errors": [limit]}})
        await super()._refuse(error)

    async def _connection_error(self, error_type: str, message: str) -> None:
        error = {"errorType": error_type, "message": message}
        await self._send({"type": "connection_error", "payload": {"errors": [error]}})
        await self._socket.close(1000)

    async def _error(self, operation_id: str | None, error_type: str, message: str) -> None:
        await self._send_errors(operation_id, [{"errorType": error_type, "message": message}])

    async def _send_errors(self, operation_id: str | None, errors: list[dict[str, Any]]) -> None:
        outgoing: dict[str, Any] = {"type": "error", "payload": {"errors": errors}}
        if operation_id is not None:
            outgoing["id"] = operation_id
        await self._send(outgoing)


def _signed(path: str, body: str, headers: dict[str, str]) -> tuple[str, str, bytes]:
    """The request an IAM client signed: AppSync's real-time clients sign a POST to
    ``/graphql/connect`` with ``{}`` to connect, and to ``/graphql`` with each start's
    ``payload.data``, on the API's host."""
    return "POST", f"https://{headers.get('host', '')}{path}", body.encode()


def _decode_headers(encoded: str) -> dict[str, str]:
    """Headers from base64 (standard or URL-safe, padded or not) JSON."""
    # Clients (gql among them) put standard base64 in the query string unescaped, so
    # its "+" arrives as a space.
    encoded = encoded.replace(" ", "+")
    try:
        padded = encoded + "=" * (-len(encoded) % 4)
        decoded = json.loads(base64.b64decode(padded.replace("-", "+").replace("_", "/")))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        raise BadHeaders("The connection's headers are not base64-encoded JSON.") from None
    if not isinstance(decoded, dict):
        raise BadHeaders("The connection's headers must be a JSON object.")
    return {str(key).lower(): str(value) for key, value in decoded.items()}


def _start_request(
    payload: object,
) -> tuple[str, dict[str, Any] | None, str | None, dict[str, str] | None] | str:
    """``(query, variables, operationName, authorization headers)``, or what is wrong."""
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), str):
        return "start needs payload.data, a JSON string of the GraphQL request."
    try:
        request = json.loads(payload["data"])
    except (ValueError, RecursionError):
        return "payload.data is not JSON."
    if not isinstance(request, dict) or not isinstance(request.get("query"), str):
        return "payload.data needs a query string."
    variables = request.get("variables")
    operation_name = request.get("operationName")
    if variables is not None and not isinstance(variables, dict):
        return "variables must be a JSON object."
    if operation_name is not None and not isinstance(operation_name, str):
        return "operationName must be a string."
    extensions = payload.get("extensions")
    authorization = extensions.get("authorization") if isinstance(extensions, dict) else None
    if authorization is not None and not isinstance(authorization, dict):
        return "extensions.authorization must be an object of headers."
    headers = (
        None
        if authorization is None
        else {str(key).lower(): str(value) for key, value in authorization.items()}
    )
    return request["query"], variables, operation_name, headers
