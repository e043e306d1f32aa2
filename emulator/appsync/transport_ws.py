"""The graphql-transport-ws protocol, on the same paths as AppSync's real-time protocol.

Auth headers come from the upgrade request or, flat, from ``connection_init``'s payload
(``{"Authorization": <client token or JWT>}``).
Close codes follow the protocol: 4400 bad message, 4401 subscribe before ack, 4403
refused credentials, 4408 no init in time (10 s, or the connection init timeout if
shorter), 4409 a reused id, 4429 a second init; and 1008 for a socket over its key's or
address's cap.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError

from domain.errors import GatewayError
from emulator.appsync.executor import format_error
from emulator.appsync.socket_session import SocketSession

PROTOCOL = "graphql-transport-ws"
INIT_TIMEOUT_S = 10.0


class TransportWsSession(SocketSession):
    protocol = PROTOCOL

    async def _serve(self) -> None:
        await self._socket.accept(subprotocol=PROTOCOL)
        limits = self._region.subscriptions.limits
        init_by = self._init_deadline(min(INIT_TIMEOUT_S, limits.connection_init_timeout_s))
        try:
            first = await self._receive_before(init_by)
        except TimeoutError:
            await self._init_timed_out()
            return
        if not isinstance(first, dict):
            await self._socket.close(4400, "Messages must be JSON objects")
            return
        if first.get("type") != "connection_init":
            await self._socket.close(4401, "Unauthorized")
            return
        if not await self._init(first):
            return
        while True:
            message = await self._receive()
            if message is None:
                return
            kind = message.get("type")
            if kind == "ping":
                await self._send({"type": "pong"})
            elif kind == "pong":
                continue
            elif kind == "connection_init":
                await self._socket.close(4429, "Too many initialisation requests")
                return
            elif kind == "subscribe":
                if not await self._subscribe(message):
                    return
            elif kind == "complete":
                self._complete(str(message.get("id")))
            else:
                await self._socket.close(4400, f"Unknown message type {kind!r}")
                return

    async def _init(self, message: dict[str, Any]) -> bool:
        payload = message.get("payload") or {}
        headers = self._upgrade_headers()
        if isinstance(payload, dict):
            headers.update({str(k).lower(): str(v) for k, v in payload.items() if v is not None})
        caller = await self._region.authenticate(headers)
        if caller is None:
            await self._socket.close(4403, "Forbidden")
            return False
        if not await self._acknowledge(caller):
            return False
        await self._send({"type": "connection_ack"})
        return True

    async def _subscribe(self, message: dict[str, Any]) -> bool:
        operation_id = message.get("id")
        payload = message.get("payload")
        if not isinstance(operation_id, str) or not isinstance(payload, dict):
            await self._socket.close(4400, "subscribe needs an id and a payload")
            return False
        if operation_id in self._subscriptions:
            await self._socket.close(4409, f"Subscriber for {operation_id} already exists")
            return False
        query, variables = payload.get("query"), payload.get("variables")
        operation_name = payload.get("operationName")
        if not isinstance(query, str) or not isinstance(variables, dict | None):
            await self._socket.close(4400, "subscribe payload needs a query string")
            return False
        assert self._caller is not None

        async def deliver(data: dict[str, Any]) -> None:
            await self._send({"id": operation_id, "type": "next", "payload": {"data": data}})

        try:
            self._region.subscriptions.limits.check_subscriptions(len(self._subscriptions))
            # The subscription's own resolver runs now, on the region's threads.
            self._subscriptions[operation_id] = await self._region.subscriptions.subscribe(
                query,
                variables,
                operation_name,
                self._caller,
                deliver,
            )
        except GraphQLError as error:
            await self._send(
                {"id": operation_id, "type": "error", "payload": [format_error(error)]}
            )
        except GatewayError as error:
            wrapped = GraphQLError(error.message, original_error=error)
            await self._send(
                {"id": operation_id, "type": "error", "payload": [format_error(wrapped)]}
            )
        return True

    def _complete(self, operation_id: str) -> None:
        self._forget(operation_id)

    async def _receive(self) -> dict[str, Any] | None:
        """The next message, or None after closing the socket over a malformed one."""
        message = await self._receive_json()
        if not isinstance(message, dict):
            await self._socket.close(4400, "Messages must be JSON objects")
            return None
        return message
