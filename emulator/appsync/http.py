"""A region's endpoints: ``POST /graphql``, a query page on ``GET``, and WebSockets."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Awaitable
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket

from emulator.appsync.host_check import loopback_only
from emulator.appsync.lambda_auth import Operation
from emulator.appsync.realtime_ws import PROTOCOL as APPSYNC_REALTIME
from emulator.appsync.realtime_ws import AppSyncRealtimeSession
from emulator.appsync.transport_ws import PROTOCOL as TRANSPORT_WS
from emulator.appsync.transport_ws import TransportWsSession
from emulator.region import RegionRuntime

T = TypeVar("T")
MAX_BODY_BYTES = 1024 * 1024
WEB_MODULES = Path(__file__).resolve().parents[1] / "web" / "node_modules"
# The only files served: a fixed list, so no request path reaches the file system.
GRAPHIQL_ASSETS = {
    "graphiql.min.js": "graphiql/graphiql.min.js",
    "graphiql.min.css": "graphiql/graphiql.min.css",
    "react.production.min.js": "react/umd/react.production.min.js",
    "react-dom.production.min.js": "react-dom/umd/react-dom.production.min.js",
    "graphql-ws.min.js": "graphql-ws/umd/graphql-ws.min.js",
}


def graphiql_installed() -> bool:
    return all((WEB_MODULES / relative).is_file() for relative in GRAPHIQL_ASSETS.values())


_UNAUTHORIZED = "You are not authorized to make this call."
ERROR_TYPE_HEADER = "x-amzn-ErrorType"
REQUEST_ID_HEADER = "x-amzn-RequestId"


def build_app(
    region: RegionRuntime, admin: Starlette | None = None, mock: Starlette | None = None
) -> Starlette:
    """The ASGI app serving one region; ``admin`` (emulator.admin) under /_emulator, and
    ``mock`` (emulator.mock.admin) under /_emulator/mock."""

    async def graphql_post(request: Request) -> Response:
        response = await graphql_answer(request)
        # AppSync names every response; support cases and logs are found by it.
        response.headers[REQUEST_ID_HEADER] = str(uuid.uuid4())
        return response

    async def graphql_answer(request: Request) -> Response:
        body = await _bounded_body(request, MAX_BODY_BYTES)
        if isinstance(body, Response):
            return body
        headers = {key.lower(): value for key, value in request.headers.items()}
        request_json = _parse_request(body)
        # A Lambda authorizer is told what is asked; a body that is no request tells it
        # nothing, and is refused as malformed once the caller is known.
        operation = None if isinstance(request_json, str) else Operation(*request_json)
        caller = await region.authenticate(
            headers, (request.method, str(request.url), body), operation
        )
        if caller is None:
            return _failure(401, "UnauthorizedException", _UNAUTHORIZED)
        if isinstance(request_json, str):
            return _failure(400, "MalformedHttpRequestException", request_json)
        query, variables, operation_name = request_json
        outcome = await _unless_gone(
            request, region.execute(query, variables, operation_name, caller)
        )
        if outcome is None:
            return _client_gone()
        for mutation, payload in outcome.published:
            await region.subscriptions.publish(mutation, payload)
        return _graphql_response(outcome.response, outcome.status)

    async def graphql_page(request: Request) -> Response:
        # GraphiQL when its assets are installed (make does it); else the plain page.
        name = "graphiql.html" if graphiql_installed() else "console.html"
        page = resources.files("emulator").joinpath(f"static/{name}").read_text()
        page = page.replace("__REGION__", region.name)
        page = page.replace("__PUBLIC_TOKEN__", region.credentials.public_token)
        return HTMLResponse(page)

    async def graphiql_asset(request: Request) -> Response:
        relative = GRAPHIQL_ASSETS.get(request.path_params["name"])
        if relative is None or not (WEB_MODULES / relative).is_file():
            return Response("not found", 404)
        media = "text/css" if relative.endswith(".css") else "text/javascript"
        return FileResponse(WEB_MODULES / relative, media_type=media)

    async def graphql_socket(websocket: WebSocket) -> None:
        offered = websocket.scope.get("subprotocols", [])
        if APPSYNC_REALTIME in offered:
            await AppSyncRealtimeSession(websocket, region).run()
        elif TRANSPORT_WS in offered:
            await TransportWsSession(websocket, region).run()
        else:
            await websocket.close(4406, "Subprotocol not acceptable: use graphql-ws")

    return Starlette(
        middleware=[loopback_only(region.settings.appsync_url)],  # DNS rebinding: host_check
        routes=[
            Route("/graphql", graphql_post, methods=["POST"]),
            Route("/graphql", graphql_page, methods=["GET"]),
            Route("/graphiql-assets/{name}", graphiql_asset, methods=["GET"]),
            WebSocketRoute("/graphql", graphql_socket),
            WebSocketRoute("/graphql/realtime", graphql_socket),
            *([Mount("/_emulator/mock", app=mock)] if mock is not None else []),
            *([Mount("/_emulator", app=admin)] if admin is not None else []),
        ],
    )


async def _bounded_body(request: Request, limit: int) -> bytes | Response:
    """The request's body, or the answer that refuses it, decided before the caller is
    authenticated: a declared length over ``limit`` is refused before a byte is read,
    and a body with no length (chunked) is read only until it passes ``limit``. The
    refusal closes the connection, so the rest of the body is never taken in."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not (declared.isascii() and declared.isdigit()):
            return _failure(400, "MalformedHttpRequestException", "Bad Content-Length.")
        if int(declared) > limit:
            return _too_large(limit)
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                return _too_large(limit)
    except ClientDisconnect:
        # Gone before its body arrived (or cut off as too slow): nobody to answer.
        return _client_gone()
    return bytes(body)


async def _unless_gone(request: Request, work: Awaitable[T]) -> T | None:
    """``work``'s result; or None as soon as the client disconnects, ``work`` then being
    cancelled: invocations under way are cancelled (a blocking call in a thread ends
    on its own), and no further one starts."""
    running = asyncio.ensure_future(work)

    async def disconnected() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    watching = asyncio.ensure_future(disconnected())
    try:
        await asyncio.wait({running, watching}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (watching, running):
            task.cancel()  # nothing, for the one that is done
        with contextlib.suppress(asyncio.CancelledError):
            await watching
    try:
        return await running
    except asyncio.CancelledError:
        if watching.cancelled():
            raise  # not by us: the server is stopping
        return None  # the client went away


def _client_gone() -> Response:
    """The answer to a client that has gone: never read, and the connection closes."""
    return Response(status_code=400, headers={"connection": "close"})


def _too_large(limit: int) -> Response:
    response = _failure(413, "LimitExceeded", f"The request body is over {limit} bytes.")
    response.headers["connection"] = "close"
    return response


def _parse_request(body: bytes) -> tuple[str, dict[str, Any] | None, str | None] | str:
    """``(query, variables, operationName)``, or why the body is not a GraphQL request."""
    try:
        request = json.loads(body)
        # JSON can spell half a surrogate pair as an escape ("\ud800"). No UTF-8 text
        # holds one, so neither the answer nor a DynamoDB item could: refused here, it
        # never turns into a 500 when an error echoes it, or a failed write.
        json.dumps(request, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return "The request body holds a lone UTF-16 surrogate, which is not Unicode text."
    except (ValueError, RecursionError):
        return "Unable to parse the request body as JSON."
    if not isinstance(request, dict):
        return "The request body must be a JSON object."
    query = request.get("query")
    variables = request.get("variables")
    operation_name = request.get("operationName")
    if not isinstance(query, str) or not query.strip():
        return "The request needs a non-empty 'query' string."
    if variables is not None and not isinstance(variables, dict):
        return "'variables' must be a JSON object."
    if operation_name is not None and not isinstance(operation_name, str):
        return "'operationName' must be a string."
    return query, variables, operation_name


def _failure(status: int, error_type: str, message: str) -> JSONResponse:
    error: dict[str, Any] = {
        "path": None,
        "locations": [],
        "errorType": error_type,
        "errorInfo": None,
    }
    return _graphql_response({"data": None, "errors": [{**error, "message": message}]}, status)


def _graphql_response(body: dict[str, Any], status: int) -> JSONResponse:
    """``body`` as JSON; a refusal also names its error type in ``x-amzn-ErrorType``,
    as AppSync does, which is where Amplify JS reads the error's name from."""
    response = JSONResponse(body, status)
    errors = body.get("errors") or [{}]
    error_type = errors[0].get("errorType")
    if status >= 400 and isinstance(error_type, str):
        response.headers[ERROR_TYPE_HEADER] = error_type
    return response
