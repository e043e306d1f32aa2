"""The ``gateway`` command: ``gateway dev`` runs a multi-region deployment locally."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import re
import signal
import sys
from collections.abc import Callable, Generator, Sequence
from pathlib import Path

import uvicorn

from cli import global_endpoint, limit_flags, mock_commands, operator_tools, schema_commands
from emulator.admin import build_admin
from emulator.appsync.auth import (
    DEFAULT_ACCESS_KEY_ID,
    DEFAULT_PUBLIC_TOKEN,
    DEFAULT_SECRET_ACCESS_KEY,
    LocalCredentials,
)
from emulator.appsync.http import build_app
from emulator.appsync.http_protocol import bounded_h11
from emulator.cloud.journal import Journal, JournalCorrupt, JournalInUse
from emulator.cloud.jwt_issuer import DEFAULT_TTL_S, LocalIssuer
from emulator.deployment import LocalDeployment, Restored, Topology
from emulator.edge.health import HealthChecks
from emulator.mock import stand_in as mock
from emulator.mock.admin import build_mock_admin
from emulator.operator import login_url, new_token
from emulator.private_files import private_dir
from emulator.seed import seed
from emulator.statefile import DEFAULT_STATE_DIR, NotRunning, RunningDev, announce, withdraw
from infra.config import CLIENT_TOKEN_PATTERN

DEFAULT_REGIONS = "us-east-1,eu-west-1"


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "dev":
        return _dev(parser, args)
    if args.command == "token":
        return _token(parser, args)
    if args.command == "schema":
        return schema_commands.run(args)
    if args.command == "mock":
        try:
            return mock_commands.run(args)
        except NotRunning as error:
            print(f"gateway: {error}", file=sys.stderr)
            return 1
    if args.command in operator_tools.COMMANDS:
        return operator_tools.run(args)
    parser.print_help()
    return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway", description="Run and inspect the gateway.")
    commands = parser.add_subparsers(dest="command")
    dev = commands.add_parser("dev", help="run a multi-region deployment on this machine")
    dev.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    dev.add_argument(
        "--port", type=int, default=4000, help="first region's port; region i uses port+i"
    )
    dev.add_argument(
        "--regions", default=DEFAULT_REGIONS, help="comma-separated; the first is the primary"
    )
    dev.add_argument(
        "--replication-lag-ms", type=int, default=0, help="delay before replicas see a write"
    )
    dev.add_argument(
        "--public-token",
        "--api-key",  # its old name, from when anonymous reads took an API key
        dest="public_token",
        default=DEFAULT_PUBLIC_TOKEN,
        help="the public client token anonymous clients send as Authorization, in every "
        "region: 32 to 128 letters and digits",
    )
    dev.add_argument("--seed", action="store_true", help="create a few sample products at start")
    limit_flags.add_to(dev)
    global_endpoint.add_to(dev)
    dev.add_argument("--iam-access-key-id", default=DEFAULT_ACCESS_KEY_ID)
    dev.add_argument("--iam-secret-access-key", default=DEFAULT_SECRET_ACCESS_KEY)
    dev.add_argument(
        "--state-dir",
        default=DEFAULT_STATE_DIR,
        help="where the tables, signing key and stream positions are kept across restarts, "
        "and where the other gateway commands find this one (default .gateway)",
    )
    dev.add_argument(
        "--fresh",
        action="store_true",
        help="start with empty tables, forgetting what --state-dir kept (the signing key stays)",
    )
    dev.add_argument(
        "--mock",
        nargs="?",
        const=mock.MISSING,
        choices=mock.MODES,
        help="answer with generated data where no resolver exists yet, or for every field "
        "with --mock all; `gateway mock emit FIELD` pushes a subscription event",
    )
    dev.add_argument(
        "--mock-seed", type=int, default=0, help="the same seed, the same mock data (0)"
    )
    token = commands.add_parser(
        "token", help="print a JWT that gateway dev accepts, as a Cognito ID token"
    )
    token.add_argument("--sub", required=True, help="the user's id (a customer's id)")
    token.add_argument("--groups", default="", help="comma-separated, e.g. customers or staff")
    token.add_argument("--ttl", type=int, default=DEFAULT_TTL_S, help="seconds until it expires")
    token.add_argument("--state-dir", default=DEFAULT_STATE_DIR, help="where the signing key is")
    operator_tools.add_commands(commands)
    schema_commands.add_command(commands)
    mock_commands.add_command(commands)
    return parser


def _token(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if not args.sub.strip():
        parser.error("--sub must not be empty")
    if args.ttl <= 0:
        parser.error("--ttl must be greater than 0")
    groups = [group.strip() for group in args.groups.split(",") if group.strip()]
    issuer = LocalIssuer.in_state_dir(Path(args.state_dir))
    print(issuer.mint(args.sub, groups, args.ttl))
    return 0


def _dev(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    regions = tuple(region.strip() for region in args.regions.split(",") if region.strip())
    if not regions or len(set(regions)) != len(regions):
        parser.error("--regions needs one or more distinct region names")
    if not 0 < args.port <= 65535 - len(regions):
        parser.error("--port must leave room for one port per region and the global endpoint")
    if args.replication_lag_ms < 0:
        parser.error("--replication-lag-ms must not be negative")
    limits = limit_flags.limits(parser, args)
    global_endpoint.check(parser, args, regions)
    if not re.search(CLIENT_TOKEN_PATTERN, args.public_token):
        parser.error(
            "--public-token must be 32 to 128 letters and digits, the pattern the deployed "
            "authorizer accepts (API keys are gone: see the README)"
        )
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("--host must be a loopback address: the emulator has no real auth")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    topology = Topology(regions, args.host, args.port, args.replication_lag_ms)
    state_dir = private_dir(Path(args.state_dir))  # secrets and every record: 0700
    credentials = LocalCredentials(
        args.public_token, args.iam_access_key_id, args.iam_secret_access_key
    )
    issuer = LocalIssuer.in_state_dir(state_dir)
    journal = Journal.in_state_dir(state_dir, fresh=args.fresh)
    try:
        deployment = LocalDeployment(topology, credentials, limits, issuer, journal=journal)
    except (JournalCorrupt, JournalInUse) as error:
        print(f"gateway dev: {error}", file=sys.stderr, flush=True)
        return 2
    except ValueError as error:  # a GATEWAY_* variable that cannot work, named in it
        parser.error(str(error))
    if deployment.restored is not None:
        _announce_restored(journal, deployment.restored)
    try:
        if args.seed:
            seeded = seed(deployment.settings[0])
            print(f"gateway dev: seeded {seeded} sample products", flush=True)
        operator_token = new_token()
        health = HealthChecks(regions, args.health_interval_s)
        admin = build_admin(deployment, operator_token, health)
        mocked = mock.install(deployment.regions, args.mock, args.mock_seed) if args.mock else None
        mock_admin = build_mock_admin(deployment.regions, mocked, args.mock, operator_token)
        if args.mock:
            print(f"gateway dev: mock mode ({args.mock}), seed {args.mock_seed}", flush=True)
        servers = [
            _QuietServer(
                uvicorn.Config(
                    build_app(region, admin, mock_admin),
                    host=args.host,
                    port=args.port + index,
                    log_level="warning",
                    lifespan="off",
                    http=bounded_h11(args.request_read_timeout_ms / 1000),
                    ws="websockets-sansio",
                )
            )
            for index, region in enumerate(deployment.regions)
        ]
        servers.append(_QuietServer(global_endpoint.config(args, topology, health)))
        schedule = global_endpoint.schedule(deployment, health)
        running = RunningDev(
            endpoint_url=deployment.cloud.endpoint_url,
            regions=list(regions),
            urls=[topology.url(index) for index in range(len(regions))],
            credentials=credentials,
            operator_token=operator_token,
            global_url=global_endpoint.url(topology),
        )

        def on_ready() -> None:
            # The stream handlers publish through the regions: start them once they listen.
            deployment.start()
            schedule.start()
            announce(state_dir, running)

        def on_stopping() -> None:
            schedule.stop()
            deployment.stop_streams()

        asyncio.run(_serve(servers, topology, running, on_ready=on_ready, on_stopping=on_stopping))
    finally:
        withdraw(state_dir)
        deployment.stop()
    print("gateway dev: stopped", flush=True)
    return 0


async def _serve(
    servers: list[_QuietServer],
    topology: Topology,
    running: RunningDev,
    on_ready: Callable[[], object],
    on_stopping: Callable[[], object],
) -> None:
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for server in servers:
            server.should_exit = True

    async def drain_then_stop() -> None:
        # The stream handlers publish through these servers: stop them first.
        await asyncio.to_thread(on_stopping)
        stop()

    stopping: list[asyncio.Task[None]] = []

    def on_signal() -> None:
        if not stopping:  # a second Ctrl-C while draining changes nothing
            stopping.append(loop.create_task(drain_then_stop()))

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal)
    tasks = [asyncio.create_task(server.serve()) for server in servers]
    while not all(server.started for server in servers):
        if any(task.done() for task in tasks):
            stop()
            break
        await asyncio.sleep(0.01)
    else:
        on_ready()
        _announce(topology, running)
    await asyncio.gather(*tasks)
    if not all(server.started for server in servers):
        raise SystemExit("gateway dev: a region could not listen; is the port in use?")


def _announce(topology: Topology, running: RunningDev) -> None:
    credentials = running.credentials
    # The one place the operator token is shown: the URL signs a browser in to the
    # status page (emulator.operator); the gateway commands read it from dev.json.
    status = login_url(
        f"{topology.url(0).removesuffix('/graphql')}/_emulator/status", running.operator_token
    )
    lines = ["gateway dev: ready"]
    for index, region in enumerate(topology.regions):
        role = "primary" if index == 0 else "replica"
        lines.append(f"  {region:<14} {role:<8} {topology.url(index)}")
    lines.append(f"  {'global':<14} {'routed':<8} {running.global_url}")
    lines += [
        f"  public token:           {credentials.public_token}  (Authorization, every region)",
        f"  IAM access key id:      {credentials.access_key_id}",
        f"  IAM secret access key:  {credentials.secret_access_key}",
        f"  replication lag:        {topology.replication_lag_ms} ms",
        f"  status and faults:      {status}",
        "  Ctrl-C stops everything.",
    ]
    print("\n".join(lines), flush=True)


def _announce_restored(journal: Journal, restored: Restored) -> None:
    kept = "compacted" if restored.compacted else "not compacted: the streams could not catch up"
    print(
        f"gateway dev: restored {restored.changes} changes from {journal.path} in "
        f"{restored.seconds:.1f} s ({kept}, {journal.size() / 1e6:.1f} MB)",
        flush=True,
    )


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves signals to ``gateway dev``, which owns several."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


if __name__ == "__main__":
    sys.exit(main())
