"""Fan-out: one publish to 1,000 subscribers, the gateway beside Amplify's AppSync simulator.

Both sides get the same thing, in this run, taking turns publish by publish:

* a server: ``gateway dev`` (its eu-west-1 region), then
  ``@aws-amplify/amplify-appsync-simulator`` (``benchmarks/peer``, installed by
  ``make bench`` with ``npm ci``) serving the same publish mutation from a NONE data
  source;
* 1,000 subscribers, each on its own socket, over AppSync's real-time protocol
  (subprotocol ``graphql-ws``, the only one the simulator speaks), each subscribed to
  ``onProductChanged(category: "fanout")``, and known to be registered (``start_ack``);
* :data:`ROUNDS` publishes of the same product payload to each, sent as the stream
  handler sends them (:class:`~projections.publish.AppSyncPublisher`, SigV4); the two
  servers take turns, each going first every other round, so that the machine's load
  falls on both alike (the gateway's idle stream polling runs throughout, for both).

A delay runs from just before the publish request is sent to when this process reads
the subscriber's message, on one event loop across 1,000 sockets, so it includes the
client's own queueing, alike on both sides. Memory is the server process's peak resident
set while subscribed and publishing, above its resident set when idle (the peak is reset
through ``/proc/<pid>/clear_refs`` once the server is up).

Ratio = gateway / simulator, for p50, p99 and memory; lower is better.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import resource
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from benchmarks.devserver import (
    PUBLIC_TOKEN,
    free_base_port,
    start_gateway,
    stop_gateway,
)
from benchmarks.report import Row
from benchmarks.stats import Summary, percentile
from emulator.appsync.auth import LocalCredentials
from projections.publish import AppSyncPublisher

PART = "fanout"
SUBSCRIBERS = 1_000
ROUNDS = 5
CONNECT_BATCH = 100
CATEGORY = "fanout"
PEER = Path(__file__).resolve().parent / "peer"
APPSYNC_REALTIME = Subprotocol("graphql-ws")
SUBSCRIBE = f'subscription {{ onProductChanged(category: "{CATEGORY}") {{ id version }} }}'
ANSWER_TIMEOUT_S = 30.0
DELIVERY_TIMEOUT_S = 60.0
# The peer simulator's own API key (it has no Lambda authorizer); gateway dev takes the
# public client token instead.
PEER_API_KEY = "da2-gatewaylocaldevelopmentkey"
# Each subscriber holds one socket here (2,000 in all); each server holds the other ends.
SPARE_FILES = 200


class Side(NamedTuple):
    """One server's figures: per round, each subscriber's delay (s); and memory (MiB)."""

    delays: list[list[float]]
    lost: int
    idle_mib: float
    peak_mib: float


class Server(NamedTuple):
    """Where a server under test takes subscribers and publishes."""

    pid: int
    realtime_url: str
    host: str
    publish_url: str
    region: str
    auth: dict[str, str]


def raise_open_files(needed: int) -> None:
    """Lift the soft open-files limit towards the hard one, if ``needed`` is above it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def _auth(server: Server) -> dict[str, str]:
    return {"host": server.host, **server.auth}


async def subscribed(server: Server) -> ClientConnection:
    """A connection with one subscription the server acknowledged (``start_ack``)."""
    header = base64.b64encode(json.dumps(_auth(server)).encode()).decode()
    url = f"{server.realtime_url}?header={header}&payload=e30="
    socket = await connect(url, subprotocols=[APPSYNC_REALTIME], proxy=None, ping_interval=None)
    await socket.send(json.dumps({"type": "connection_init"}))
    await _expect(socket, "connection_ack")
    payload = {
        "data": json.dumps({"query": SUBSCRIBE, "variables": {}}),
        "extensions": {"authorization": _auth(server)},
    }
    await socket.send(json.dumps({"id": "1", "type": "start", "payload": payload}))
    await _expect(socket, "start_ack")
    return socket


async def _expect(socket: ClientConnection, kind: str) -> None:
    while True:
        message = json.loads(await asyncio.wait_for(socket.recv(), ANSWER_TIMEOUT_S))
        if message.get("type") == kind:
            return
        if message.get("type") not in ("ka", "connection_ack"):
            raise RuntimeError(f"expected {kind}, got {message}")


async def heard(socket: ClientConnection, version: int) -> float:
    """When this subscriber got the change with ``version``."""
    while True:
        message = json.loads(await socket.recv())
        if message.get("type") != "data":
            continue
        if message["payload"]["data"]["onProductChanged"]["version"] == version:
            return time.perf_counter()


def payload(version: int) -> dict[str, Any]:
    """The product every round publishes, at ``version``."""
    return {
        "id": "fanout-1",
        "sku": "FANOUT-1",
        "name": "Fan-out lamp",
        "description": "",
        "category": CATEGORY,
        "priceCents": 4500,
        "currency": "EUR",
        "stock": 10,
        "version": version,
        "updatedAt": "2026-11-23T00:00:00.000Z",
    }


class Subscribed(NamedTuple):
    """One server under test, its 1,000 subscribers, and its publisher."""

    server: Server
    sockets: list[ClientConnection]
    publisher: AppSyncPublisher
    idle_mib: float


async def _subscribe(server: Server, credentials: LocalCredentials) -> Subscribed:
    idle_mib = rss_mib(server.pid, "VmRSS")
    reset_peak(server.pid)
    sockets: list[ClientConnection] = []
    while len(sockets) < SUBSCRIBERS:
        batch = min(CONNECT_BATCH, SUBSCRIBERS - len(sockets))
        sockets += await asyncio.gather(*(subscribed(server) for _ in range(batch)))
    publisher = AppSyncPublisher(server.publish_url, server.region, credentials.botocore())
    return Subscribed(server, sockets, publisher, idle_mib)


async def _round(side: Subscribed, version: int) -> tuple[list[float], int]:
    """One publish to every subscriber: each one's delay (s), and how many were not told."""
    listeners = [asyncio.create_task(heard(socket, version)) for socket in side.sockets]
    started = time.perf_counter()
    # In a thread, so the listeners take messages while the publish is answered.
    await asyncio.to_thread(side.publisher.product_changed, payload(version))
    done, pending = await asyncio.wait(listeners, timeout=DELIVERY_TIMEOUT_S)
    for task in pending:
        task.cancel()
    return [task.result() - started for task in done if not task.exception()], len(pending)


async def _measure(
    servers: dict[str, Server], credentials: LocalCredentials, rounds: int
) -> dict[str, Side]:
    sides: dict[str, Subscribed] = {}
    try:
        for name, server in servers.items():
            sides[name] = await _subscribe(server, credentials)
        delays: dict[str, list[list[float]]] = {name: [] for name in sides}
        lost = dict.fromkeys(sides, 0)
        for version in range(1, rounds + 1):
            # The sides take turns, each going first every other round, so that a change
            # in the machine's load falls on both.
            order = list(sides) if version % 2 else list(reversed(sides))
            for name in order:
                told, missed = await _round(sides[name], version)
                delays[name].append(told)
                lost[name] += missed
        return {
            name: Side(delays[name], lost[name], side.idle_mib, rss_mib(side.server.pid, "VmHWM"))
            for name, side in sides.items()
        }
    finally:
        for side in sides.values():
            await asyncio.gather(*(s.close() for s in side.sockets), return_exceptions=True)


def rss_mib(pid: int, field: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak since start or reset) of a process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for process {pid}")


def reset_peak(pid: int) -> None:
    """Start the process's peak resident set again from now (Linux: clear_refs 5)."""
    # Where it cannot be reset, the peak includes start-up; the idle figure shows the base.
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")


@contextmanager
def gateway() -> Iterator[Server]:
    """``gateway dev``; subscribers and publishes go to its second region, eu-west-1."""
    port = free_base_port(2)
    with tempfile.TemporaryDirectory() as folder:
        process = start_gateway(port, 0, Path(folder) / "gateway.log", Path(folder) / "state")
        try:
            host = f"127.0.0.1:{port + 1}"
            yield Server(
                process.pid,
                f"ws://{host}/graphql/realtime",
                host,
                f"http://{host}/graphql",
                "eu-west-1",
                {"Authorization": PUBLIC_TOKEN},
            )
        finally:
            stop_gateway(process)


@contextmanager
def simulator(credentials: LocalCredentials) -> Iterator[Server]:
    """Amplify's AppSync simulator, from ``benchmarks/peer`` (``npm ci`` installs it)."""
    if not (PEER / "node_modules" / "@aws-amplify" / "amplify-appsync-simulator").is_dir():
        raise FileNotFoundError(
            f"the peer is not installed: run `npm ci --prefix {PEER}` (make bench does)"
        )
    port = free_base_port(1)
    command = ["node", "simulator.js", str(port), PEER_API_KEY, credentials.access_key_id]
    process = subprocess.Popen(command, cwd=PEER, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert process.stdout is not None
        if process.stdout.readline().strip() != b"ready":
            raise RuntimeError(f"the simulator did not start: {process.stderr}")
        host = f"127.0.0.1:{port}"
        yield Server(
            process.pid,
            f"ws://{host}/graphql/realtime",
            host,
            f"http://{host}/graphql",
            "us-east-1",
            {"x-api-key": PEER_API_KEY},
        )
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def measure(rounds: int = ROUNDS) -> dict[str, Side]:
    """Both servers up at once, their subscribers connected, then publishes in turns."""
    raise_open_files(2 * SUBSCRIBERS + SPARE_FILES)
    credentials = LocalCredentials()
    with gateway() as ours, simulator(credentials) as peer:
        servers = {"gateway": ours, "simulator": peer}
        return asyncio.run(_measure(servers, credentials, rounds))


def rows(figures: dict[str, Side]) -> list[Row]:
    ours, peer = figures["gateway"], figures["simulator"]
    table = []
    for label, p in (("p50", 50.0), ("p99", 99.0)):
        mine = Summary.of([percentile(round_, p) * 1000 for round_ in ours.delays if round_])
        theirs = Summary.of([percentile(round_, p) * 1000 for round_ in peer.delays if round_])
        table.append(
            Row(
                part=PART,
                key=f"delivery {label}, {SUBSCRIBERS:,} subscribers",
                figure=f"{SUBSCRIBERS:,} subscribers on gateway dev (eu-west-1), one publish: "
                f"{label} {mine.text('ms')} over rounds{_lost(ours)}",
                against=f"amplify-appsync-simulator, same payload, NONE data source: "
                f"{label} {theirs.text('ms')}{_lost(peer)}; ratio = gateway / simulator",
                ratio=mine.median / theirs.median,
            )
        )
    ours_mib = max(ours.peak_mib - ours.idle_mib, 0.0)
    peer_mib = max(peer.peak_mib - peer.idle_mib, 0.0)
    table.append(
        Row(
            part=PART,
            key=f"peak memory, {SUBSCRIBERS:,} subscribers",
            figure=f"gateway dev peak RSS {ours.peak_mib:.0f} MiB, {ours_mib:.0f} MiB above idle "
            f"({ours.idle_mib:.0f} MiB: moto and two regions)",
            against=f"amplify-appsync-simulator peak RSS {peer.peak_mib:.0f} MiB, "
            f"{peer_mib:.0f} MiB above idle ({peer.idle_mib:.0f} MiB); ratio = the increases",
            ratio=ours_mib / peer_mib if peer_mib else None,
        )
    )
    return table


def _lost(side: Side) -> str:
    return f", {side.lost} NOT delivered" if side.lost else ""


def run() -> list[Row]:
    return rows(measure())
