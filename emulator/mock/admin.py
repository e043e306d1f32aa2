"""The mock endpoint, under ``/_emulator/mock`` on every region's port.

* ``GET /_emulator/mock/``: whether mock mode is on, its mode and seed, and the
  subscriptions an event can be emitted for.
* ``POST /_emulator/mock/emit`` with ``{"subscription": "onProductChanged",
  "fields": {"category": "lighting"}, "region": "eu-west-1"}`` (``fields`` and
  ``region`` optional): pushes a generated event to subscribers
  (:func:`emulator.mock.stand_in.emit`).

Bad input is a 400 that says what to fix; without ``--mock`` a POST is a 409. Like the
rest of the admin endpoint it answers the local operator alone (the operator token, see
:mod:`emulator.operator`), and a POST must say ``Content-Type: application/json``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulator.mock.data import MockData
from emulator.mock.stand_in import UnknownSubscription, emit
from emulator.operator import OperatorOnly

if TYPE_CHECKING:
    from emulator.region import RegionRuntime

MAX_BODY_BYTES = 16 * 1024


class _BadRequest(Exception):
    """The request cannot be done as sent; the message says why."""


def build_mock_admin(
    regions: Sequence[RegionRuntime], data: MockData | None, mode: str | None, operator_token: str
) -> Starlette:
    """The mock endpoint of one deployment, for the holder of ``operator_token`` alone;
    ``data`` is None without ``--mock``."""
    serials = itertools.count(1)

    async def describe(request: Request) -> Response:
        root = regions[0].executor.schema.subscription_type
        return JSONResponse(
            {
                "mode": mode,
                "seed": data.seed if data else None,
                "subscriptions": sorted(root.fields) if root else [],
            }
        )

    async def emit_event(request: Request) -> Response:
        if data is None:
            message = "gateway dev is not in mock mode: start it with --mock or --mock all"
            return JSONResponse({"error": message}, 409)
        try:
            subscription, fields, chosen = _emit_request(await _json_body(request), regions)
            answer = await emit(chosen, data, subscription, fields, next(serials))
        except (_BadRequest, UnknownSubscription) as error:
            return JSONResponse({"error": str(error)}, 400)
        return JSONResponse(answer)

    return Starlette(
        middleware=[Middleware(OperatorOnly, token=operator_token)],
        routes=[
            Route("/", describe, methods=["GET"]),
            Route("/emit", emit_event, methods=["POST"]),
        ],
    )


def _emit_request(
    body: object, regions: Sequence[RegionRuntime]
) -> tuple[str, dict[str, Any], list[RegionRuntime]]:
    if not isinstance(body, dict):
        raise _BadRequest('send a JSON object such as {"subscription": "onProductChanged"}')
    subscription = body.get("subscription")
    if not isinstance(subscription, str) or not subscription:
        raise _BadRequest('"subscription" must name a Subscription field, e.g. onProductChanged')
    fields = body.get("fields", {})
    if not isinstance(fields, dict):
        raise _BadRequest('"fields" must be an object of field names to values')
    region = body.get("region")
    chosen = [r for r in regions if region is None or r.name == region]
    if not chosen:
        names = ", ".join(r.name for r in regions)
        raise _BadRequest(f'"region" must be one of {names}, not {region!r}')
    return subscription, fields, chosen


async def _json_body(request: Request) -> object:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise _BadRequest("send JSON, with Content-Type: application/json")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise _BadRequest(f"the body is over {MAX_BODY_BYTES} bytes")
    try:
        parsed = json.loads(body)
        json.dumps(parsed, ensure_ascii=False).encode()  # "\ud800" parses, but is not text
    except (ValueError, RecursionError, UnicodeEncodeError):
        raise _BadRequest("the body is not valid JSON text") from None
    return parsed
