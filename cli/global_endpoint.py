"""``gateway dev``'s global endpoint and the health functions that route it.

The global endpoint listens on the port after the last region's and runs the edge
function from ``infra/edge`` (:mod:`emulator.edge`); each region's read canary and
heartbeat writer run on a timer (:mod:`emulator.cloud.schedules`), and the canary's
verdicts decide which regions the endpoint sends new requests to.
"""

from __future__ import annotations

import argparse

import uvicorn

from emulator.appsync.http_protocol import bounded_h11
from emulator.cloud.schedules import HealthSchedule, ScheduledRegion
from emulator.deployment import LocalDeployment, Topology
from emulator.edge.health import HealthChecks
from emulator.edge.proxy import global_endpoint
from infra.config import committed_context
from infra.edge import origin_request
from resolvers.canary import CanarySettings

# EventBridge runs the health functions each minute on AWS (infra/health.py).
HEALTH_INTERVAL_S = 60.0
# The Host the edge function sees when cdk.json names no domain.
LOCAL_DOMAIN = "api.gateway.localhost"


def add_to(dev: argparse.ArgumentParser) -> None:
    """The global endpoint's and the health functions' flags."""
    dev.add_argument(
        "--nearest-region",
        help="the region the global endpoint takes as nearest to you, while it is healthy "
        "(default: the primary)",
    )
    dev.add_argument(
        "--health-interval-s",
        type=float,
        default=HEALTH_INTERVAL_S,
        help="how often each region's read canary and heartbeat run, in seconds "
        f"(default {HEALTH_INTERVAL_S:g}, EventBridge's rate on AWS)",
    )
    dev.add_argument(
        "--edge-cache-s",
        type=float,
        default=origin_request.CACHE_SECONDS,
        help="how long the edge function keeps the region it resolved, in seconds "
        f"(default {origin_request.CACHE_SECONDS:g}, the latency records' TTL)",
    )


def check(
    parser: argparse.ArgumentParser, args: argparse.Namespace, regions: tuple[str, ...]
) -> None:
    if args.nearest_region is None:
        args.nearest_region = regions[0]
    if args.nearest_region not in regions:
        parser.error("--nearest-region must be one of --regions")
    if not 0 < args.health_interval_s <= 3600:
        parser.error("--health-interval-s must be over 0 and at most 3600")
    if not 0 <= args.edge_cache_s <= 3600:
        parser.error("--edge-cache-s must be 0 to 3600")


def url(topology: Topology) -> str:
    """The global endpoint listens on the port after the last region's."""
    return f"http://{topology.host}:{topology.port + len(topology.regions)}/graphql"


def config(args: argparse.Namespace, topology: Topology, health: HealthChecks) -> uvicorn.Config:
    """The global endpoint's server: the edge function in front of every region
    (:mod:`emulator.edge.proxy`), on the port after the last region's, with the server
    settings every region has."""
    port = topology.port + len(topology.regions)
    app = global_endpoint(
        [
            (region, (topology.host, topology.port + index))
            for index, region in enumerate(topology.regions)
        ],
        nearest=args.nearest_region,
        healthy=health.healthy,
        domain_name=_distribution_name(),
        cache_s=args.edge_cache_s,
        port=port,
    )
    return uvicorn.Config(
        app,
        host=args.host,
        port=port,
        log_level="warning",
        lifespan="off",
        http=bounded_h11(args.request_read_timeout_ms / 1000),
        ws="websockets-sansio",
        # The region's own Server and Date headers pass through, as CloudFront's do.
        server_header=False,
        date_header=False,
    )


def _distribution_name() -> str:
    """The client-facing name the edge function sees as Host: the deployment's domain."""
    return str(committed_context().get("gateway:domainName") or LOCAL_DOMAIN)


def schedule(deployment: LocalDeployment, health: HealthChecks) -> HealthSchedule:
    """Each region's read canary and heartbeat writer, feeding ``health``."""
    return HealthSchedule(
        [
            ScheduledRegion(
                region.settings,
                CanarySettings.from_env({"GATEWAY_APPSYNC_URL": region.settings.appsync_url or ""}),
                region.metrics.record,
            )
            for region in deployment.regions
        ],
        health.interval_s,
        health.record,
    )
