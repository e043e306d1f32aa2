"""The emulator's own admin endpoint, under ``/_emulator`` on every region's port.

* ``GET /_emulator/status``: each region's role, replication and projection lag, dead
  letters and subscribers, its health as the global endpoint sees it (its read
  canary's verdicts), how old the newest heartbeat of every region it has applied is,
  and its Lambdas' metrics over the last 10 minutes
  (:mod:`emulator.telemetry`); the replication settings; the active faults. JSON,
  unless the request accepts ``text/html`` (a browser): then a page that charts each
  region's lags by polling the JSON, with nothing fetched from elsewhere.
  ``?history=1`` adds each region's lag samples, one a second, oldest first.
* ``GET /_emulator/faults``: the active faults.
* ``POST /_emulator/faults``: switch one on (a JSON object, see :mod:`emulator.chaos.faults`);
  ``{"kind": "disconnect"}`` closes subscriber sockets at once instead.
* ``DELETE /_emulator/faults/{id}`` and ``DELETE /_emulator/faults``: switch off.

Bad input is a 400 that says what to fix, never a 500. Only the local operator gets
in: every request must carry this run's operator token (:mod:`emulator.operator`; the
``gateway`` commands send it, and a browser signs in through the status URL ``gateway
dev`` prints), and name a loopback host (:mod:`emulator.appsync.host_check`). A POST must also
say ``Content-Type: application/json``, so a web page cannot send one without the
browser asking the emulator first (it answers no CORS).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from domain import records
from domain.control import MalformedControl, parse
from emulator.chaos.faults import DISCONNECT, BadFault, FaultSpec
from emulator.chaos.gate import OPERATOR_HEADER
from emulator.cloud.deadletters import DeadLetters
from emulator.operator import OperatorOnly
from emulator.telemetry import LagSampler
from projections import heartbeat
from projections.table import ProjectionTable

if TYPE_CHECKING:
    from emulator.deployment import LocalDeployment
    from emulator.edge.health import HealthChecks

MAX_BODY_BYTES = 16 * 1024
# 1012, Service Restart: a close no client takes as normal, so each one reconnects.
DISCONNECT_CODE = 1012
DISCONNECT_REASON = "Disconnected by an injected fault; reconnect."


def build_admin(
    deployment: LocalDeployment, operator_token: str, health: HealthChecks | None = None
) -> Starlette:
    """The admin app of one deployment, for the holder of ``operator_token`` alone;
    every region's app mounts the same one. ``health``: the global endpoint's health
    checks, shown in the status.

    It starts the deployment's lag sampler: a daemon thread, gone with the process.
    """
    status = StatusReader(deployment, health)
    faults = deployment.faults
    LagSampler(lambda: sample_lags(deployment)).start()

    async def get_status(request: Request) -> Response:
        vary = {"vary": "Accept"}
        if "text/html" in request.headers.get("accept", ""):
            return HTMLResponse(_status_page(), headers=vary)
        history = request.query_params.get("history") == "1"
        return JSONResponse(await run_in_threadpool(status.read, history), headers=vary)

    async def list_faults(request: Request) -> Response:
        return JSONResponse({"faults": [fault.to_json() for fault in faults.active()]})

    async def add_fault(request: Request) -> Response:
        try:
            spec = FaultSpec.from_json(await _json_body(request), deployment.topology.regions)
        except BadFault as error:
            return _bad(str(error))
        if spec.kind == DISCONNECT:
            regions = [
                region
                for region in deployment.regions
                if spec.region is None or region.name == spec.region
            ]
            closed = 0
            for region in regions:
                closed += await region.subscriptions.drop_all(DISCONNECT_CODE, DISCONNECT_REASON)
            names = [region.name for region in regions]
            return JSONResponse({"kind": DISCONNECT, "regions": names, "closed": closed})
        return JSONResponse(faults.add(spec).to_json(), 201)

    async def clear_fault(request: Request) -> Response:
        fault_id = request.path_params["fault_id"]
        cleared = faults.clear(fault_id)
        if cleared is None:
            return JSONResponse({"error": f"no active fault {fault_id!r}"}, 404)
        return JSONResponse({"cleared": [cleared.to_json()]})

    async def clear_all(request: Request) -> Response:
        return JSONResponse({"cleared": [fault.to_json() for fault in faults.clear_all()]})

    return Starlette(
        middleware=[Middleware(OperatorOnly, token=operator_token)],
        routes=[
            Route("/status", get_status, methods=["GET"]),
            Route("/faults", list_faults, methods=["GET"]),
            Route("/faults", add_fault, methods=["POST"]),
            Route("/faults", clear_all, methods=["DELETE"]),
            Route("/faults/{fault_id}", clear_fault, methods=["DELETE"]),
        ],
    )


class StatusReader:
    """What ``gateway status`` shows, read from the running deployment.

    The control record and the dead letters are read through the faults (the operator
    looks from outside a failed region); everything else is in memory.
    """

    def __init__(self, deployment: LocalDeployment, health: HealthChecks | None = None) -> None:
        self._deployment = deployment
        self._health = health
        self._clients = {
            settings.region: _operator_client(settings.dynamodb(settings.region))
            for settings in deployment.settings
        }

    def read(self, history: bool = False) -> dict[str, Any]:
        """The status; with ``history``, each region's lag samples too (for the chart)."""
        deployment = self._deployment
        replication = deployment.replicator.lag()
        by_source = deployment.replicator.lag_by_source()
        checks = self._health.status() if self._health is not None else {}
        names = list(deployment.topology.regions)
        regions = []
        for index, region in enumerate(deployment.regions):
            client = self._clients[region.name]
            projections = ProjectionTable(client, region.settings.projection_table)
            try:
                primary, mode = self._control(client, region.settings.write_table)
                dead_letters: int | None = len(DeadLetters(client, region.name).list())
                beats: dict[str, int | None] = heartbeat.ages(projections, names)
            except (BotoCoreError, ClientError):  # the local cloud is stopping
                primary, mode, dead_letters = deployment.topology.regions[0], None, None
                beats = dict.fromkeys(names)
            projection_lag, projection_backlog = region.poller.lag()
            lag = replication.get(region.name)
            extra = {"history": region.metrics.history()} if history else {}
            regions.append(
                {
                    "name": region.name,
                    "url": deployment.topology.url(index),
                    "role": "primary" if primary == region.name else "replica",
                    "primary": primary,
                    "mode": mode,
                    "replication": {
                        "lagMs": lag.lag_ms if lag else 0,
                        "backlog": lag.backlog if lag else 0,
                        "from": {
                            source: {"lagMs": behind.lag_ms, "backlog": behind.backlog}
                            for source, behind in by_source.get(region.name, {}).items()
                        },
                    },
                    "projection": {"lagMs": projection_lag, "backlog": projection_backlog},
                    "deadLetters": dead_letters,
                    "subscribers": region.subscriptions.connections,
                    "health": checks.get(region.name),
                    "heartbeats": {source: {"ageMs": age} for source, age in beats.items()},
                    "metrics": region.metrics.summary(),
                    **extra,
                }
            )
        return {
            "regions": regions,
            "replication": {
                "paused": deployment.replicator.paused,
                "lagMs": deployment.replicator.effective_lag_ms(),
                "configuredLagMs": deployment.replicator.lag_ms,
            },
            "faults": [fault.to_json() for fault in deployment.faults.active()],
        }

    def _control(self, client: Any, table: str) -> tuple[str, str | None]:
        """``(primary, mode)`` as this region's own replica of the control record says."""
        default = (self._deployment.topology.regions[0], records.MODE_ACTIVE)
        key = {name: {"S": value} for name, value in records.control_key().items()}
        item = client.get_item(TableName=table, Key=key).get("Item")
        if item is None:
            return default
        try:
            control = parse(item)
        except MalformedControl:
            return default
        return control.primary_region, control.mode


def sample_lags(deployment: LocalDeployment) -> None:
    """One second of each region's lag chart (see :mod:`emulator.telemetry`)."""
    replication = deployment.replicator.lag()
    for region in deployment.regions:
        waiting = replication.get(region.name)
        region.metrics.sample(region.poller.lag()[0], waiting.lag_ms if waiting else 0)


def _status_page() -> str:
    return resources.files("emulator").joinpath("static/status.html").read_text()


def _operator_client(client: Any) -> Any:
    """``client``, marked so that the injected faults let its calls through."""

    def mark(request: Any, **_: Any) -> None:
        request.headers[OPERATOR_HEADER] = "1"

    client.meta.events.register("before-sign.dynamodb.*", mark)
    return client


async def _json_body(request: Request) -> object:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise BadFault("send the fault as JSON, with Content-Type: application/json")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise BadFault(f"the body is over {MAX_BODY_BYTES} bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise BadFault(f"the body is over {MAX_BODY_BYTES} bytes")
    try:
        parsed = json.loads(body)
        # "\ud800" parses, but no UTF-8 answer could echo it back.
        json.dumps(parsed, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise BadFault("the body holds a lone UTF-16 surrogate, which is not text") from None
    except (ValueError, RecursionError):
        raise BadFault("the body is not valid JSON") from None
    return parsed


def _bad(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, 400)
