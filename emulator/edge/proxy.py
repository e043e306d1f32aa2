"""The global endpoint: one address for every region, routed by the edge function.

It plays the CloudFront distribution of ``infra/routing.py``: every HTTP request and
WebSocket handshake becomes an origin-request event (:mod:`emulator.edge.cloudfront`),
the edge function from ``infra/edge`` picks the origin, resolving the origin name
through Route 53's stand-in (:mod:`emulator.edge.route53`), and the request goes to that
region's port as the function rewrote it (Host, path, query string with the real-time
``header=``). HTTP is streamed both ways (:mod:`emulator.edge.upstream`); a WebSocket is
relayed message by message (:mod:`emulator.edge.sockets`).

What CloudFront answers itself, this answers the same way: 503 when the function fails,
502 when its answer cannot be forwarded or the origin cannot be reached, 504 when the
origin does not answer in time; the body is a GraphQL error in AppSync's shape, naming
no internals.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Callable, Sequence

import h11
from starlette.types import ASGIApp, Receive, Scope, Send

from emulator.appsync.host_check import LoopbackHostOnly
from emulator.edge.cloudfront import (
    EdgeFunction,
    EdgeFunctionFailed,
    ForwardedRequest,
    InvalidEdgeAnswer,
    error_body,
    forwarded_request,
    origin_request_event,
)
from emulator.edge.route53 import LatencyRecords, RegionalEndpoint, nearest_first
from emulator.edge.sockets import forward_websocket, refuse
from emulator.edge.upstream import OriginTimedOut, OriginUnreachable, exchange
from infra import edge as infra_edge
from infra.edge import origin_request

logger = logging.getLogger("gateway.edge")

CONNECT_TIMEOUT_S = 10.0
_HOP_BY_HOP = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"transfer-encoding"}
)


class GlobalEndpoint:
    """The ASGI app of the global endpoint.

    Parameters
    ----------
    edge
        The origin router, loaded with ``records`` as its name service.
    records
        Route 53's stand-in: where each AppSync host the function picks listens.
    domain_name
        The distribution's name: the Host the function sees, whose ``origin.`` name
        ``records`` answers.
    """

    def __init__(self, edge: EdgeFunction, records: LatencyRecords, domain_name: str) -> None:
        self._edge = edge
        self._records = records
        self.domain_name = domain_name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)

    def _route(self, scope: Scope) -> ForwardedRequest:
        """Run the edge function on this request; where and what to forward."""
        raw_path = scope.get("raw_path") or scope["path"].encode()
        event = origin_request_event(
            method=scope.get("method", "GET"),
            uri=raw_path.decode("latin-1"),
            querystring=scope.get("query_string", b"").decode("latin-1"),
            headers=[
                (name.decode("latin-1"), value.decode("latin-1"))
                for name, value in scope["headers"]
            ],
            client_ip=(scope.get("client") or ("127.0.0.1", 0))[0],
            domain_name=self.domain_name,
            origin_name=self._records.origin_name,
            request_id=uuid.uuid4().hex,
        )
        return forwarded_request(self._edge(event), self._records)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            route = self._route(scope)
        except EdgeFunctionFailed as error:
            logger.warning("the edge function failed: %s", error)
            await _error(send, 503, "LambdaExecutionError", "The edge function failed.")
            return
        except InvalidEdgeAnswer as error:
            logger.warning("the edge function's answer cannot be forwarded: %s", error)
            await _error(
                send, 502, "LambdaValidationError", "The edge function's answer is invalid."
            )
            return
        headers = [
            (name.encode("latin-1"), value.encode("latin-1")) for name, value in route.headers
        ]
        headers += [(b"host", route.host.encode()), (b"connection", b"close")]
        body = _framed_body(scope, receive, headers)
        try:
            answer = await exchange(
                route.address,
                scope["method"],
                route.target,
                headers,
                body,
                connect_timeout_s=CONNECT_TIMEOUT_S,
                read_timeout_s=route.read_timeout_s,
            )
        except OriginTimedOut:
            await _error(send, 504, "OriginReadTimeout", "The region did not answer in time.")
            return
        except (OriginUnreachable, h11.LocalProtocolError):
            await _error(send, 502, "OriginConnectError", "The region could not be reached.")
            return
        kept = [(name, value) for name, value in answer.headers if name.lower() not in _HOP_BY_HOP]
        if any(
            name.lower() == b"connection" and b"close" in value.lower()
            for name, value in answer.headers
        ):
            kept.append((b"connection", b"close"))  # the region ends this connection: so do we
        await send({"type": "http.response.start", "status": answer.status, "headers": kept})
        try:
            async for chunk in answer.body():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except (OriginUnreachable, OriginTimedOut) as error:
            # Half an answer cannot be taken back: the viewer's connection just ends.
            logger.warning("the region stopped answering mid-body: %s", error)
            return
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (await receive())["type"] != "websocket.connect":
            return
        try:
            route = self._route(scope)
        except EdgeFunctionFailed as error:
            logger.warning("the edge function failed on a handshake: %s", error)
            await refuse(scope, send, 503, "LambdaExecutionError", "The edge function failed.")
            return
        except InvalidEdgeAnswer as error:
            logger.warning("the edge function's answer cannot be forwarded: %s", error)
            await refuse(
                scope, send, 502, "LambdaValidationError", "The edge function's answer is invalid."
            )
            return
        await forward_websocket(scope, receive, send, route)


def _framed_body(
    scope: Scope, receive: Receive, headers: list[tuple[bytes, bytes]]
) -> AsyncIterator[bytes] | None:
    """The viewer's body, framed as the viewer framed it (length or chunks), or None."""
    viewer = {name.lower(): value for name, value in scope["headers"]}
    if b"content-length" in viewer:
        headers.append((b"content-length", viewer[b"content-length"]))
    elif b"chunked" in viewer.get(b"transfer-encoding", b"").lower():
        headers.append((b"transfer-encoding", b"chunked"))
    else:
        return None

    async def chunks() -> AsyncIterator[bytes]:
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the viewer went away: the origin sees a short body
            yield message.get("body", b"")
            if not message.get("more_body", False):
                return

    return chunks()


async def _error(send: Send, status: int, error_type: str, message: str) -> None:
    body = error_body(error_type, message)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-amzn-errortype", error_type.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def global_endpoint(
    regions: Sequence[tuple[str, tuple[str, int]]],
    *,
    nearest: str,
    healthy: Callable[[str], bool],
    domain_name: str,
    cache_s: float,
    port: int,
) -> ASGIApp:
    """The global endpoint's app for ``regions`` (each name and where it listens, in the
    deployment's order), listening on ``port``.

    The edge function is loaded from ``infra/edge`` (:data:`infra.edge.CODE`, by its
    handler name); latency routing tries ``nearest`` first; a region is skipped while
    ``healthy`` says no; the function keeps Route 53's answer ``cache_s`` seconds. Only
    requests that name this loopback port get in, as at every region's port.
    """
    where = dict(regions)
    records = LatencyRecords(
        origin_request.ORIGIN_PREFIX + domain_name,
        [RegionalEndpoint(name, where[name]) for name in nearest_first(list(where), nearest)],
        healthy,
    )
    edge = EdgeFunction(infra_edge.CODE, infra_edge.HANDLER, records, cache_s)
    return LoopbackHostOnly(GlobalEndpoint(edge, records, domain_name), port=port)
