"""``gateway chaos`` and ``gateway status``: faults and health of a running ``gateway dev``.

Both talk to the admin endpoint (:mod:`emulator.admin`) of the ``gateway dev`` that
announced itself in ``--state-dir``, which validates every fault; a refusal is exit 2,
with the endpoint's reason.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote, urlsplit

from emulator.operator import operator_headers
from emulator.statefile import DEFAULT_STATE_DIR, find

TIMEOUT_S = 15.0


class Refused(Exception):
    """The admin endpoint refused the request; the message is its reason."""


class Unreachable(Exception):
    """The running ``gateway dev`` did not answer."""


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    chaos = commands.add_parser("chaos", help="inject faults into a running gateway dev")
    actions = chaos.add_subparsers(dest="action", required=True)
    outage = _action(actions, "outage", "a region's DynamoDB calls fail (503), or hang")
    outage.add_argument("--region", required=True)
    outage.add_argument("--hang", action="store_true", help="hold each call instead (30 s max)")
    throttle = _action(actions, "throttle", "a share of a region's table calls are throttled")
    throttle.add_argument("--region", required=True)
    throttle.add_argument("--rate", type=float, required=True, help="share, above 0, at most 1")
    replication = _action(actions, "replication", "pause replication, or delay it")
    how = replication.add_mutually_exclusive_group(required=True)
    how.add_argument("--pause", action="store_true", help="copy nothing until --resume")
    how.add_argument("--resume", action="store_true", help="copy everything that waits")
    how.add_argument("--lag-ms", type=int, help="delay every change by this many ms")
    crash = _action(actions, "crash", "the stream handler crashes on matching records")
    crash.add_argument("--region", required=True)
    crash.add_argument("--match", required=True, help="part of a record's pk (ORDER#<id>), or *")
    crash.add_argument("--times", type=int, help="crash this many invocations, then stop")
    lost = _action(actions, "lost-reply", "a region applies each write, then its reply is lost")
    lost.add_argument("--region", required=True)
    lost.add_argument("--times", type=int, help="lose this many replies, then stop")
    disconnect = _action(actions, "disconnect", "close every subscriber socket now")
    disconnect.add_argument("--region", help="one region (default: every region)")
    _action(actions, "list", "list the active faults")
    clear = _action(actions, "clear", "switch faults off")
    clear.add_argument("fault_id", nargs="?", metavar="ID", help="the fault to switch off")
    clear.add_argument("--all", action="store_true", help="switch every fault off")
    status = commands.add_parser(
        "status", help="roles, lags, dead letters, health, heartbeats and faults"
    )
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    status.add_argument("--state-dir", default=DEFAULT_STATE_DIR, help=_STATE_DIR_HELP)


def run(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Run ``chaos`` or ``status``; 0 done, 1 no gateway dev to talk to, 2 refused.

    Raises
    ------
    emulator.statefile.NotRunning
        No ``gateway dev`` announced itself in ``--state-dir``.
    """
    if args.command == "chaos" and args.action == "clear" and bool(args.fault_id) == args.all:
        print("gateway: name one fault ID to clear, or --all", file=err)
        return 2
    running = find(Path(args.state_dir))
    admin = Admin(running.urls[0], running.operator_token)
    try:
        if args.command == "status":
            return _status(admin, args.json, out)
        return _chaos(admin, args, out)
    except Refused as error:
        print(f"gateway: {error}", file=err)
        return 2
    except Unreachable as error:
        print(f"gateway: {error}", file=err)
        return 1


_STATE_DIR_HELP = "gateway dev's state directory (default .gateway)"


def _action(
    actions: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help_text: str
) -> argparse.ArgumentParser:
    parser = actions.add_parser(name, help=help_text)
    parser.add_argument("--state-dir", default=DEFAULT_STATE_DIR, help=_STATE_DIR_HELP)
    return parser


def _chaos(admin: Admin, args: argparse.Namespace, out: TextIO) -> int:
    action = args.action
    if action == "list":
        faults = admin.call("GET", "/faults")["faults"]
        print("\n".join(_fault_line(fault) for fault in faults) or "no active faults", file=out)
        return 0
    if action == "clear":
        path = "/faults" if args.all else f"/faults/{quote(args.fault_id, safe='')}"
        cleared = admin.call("DELETE", path)["cleared"]
        names = ", ".join(fault["id"] for fault in cleared)
        print(f"cleared {names}" if cleared else "no active faults", file=out)
        return 0
    if action == "replication" and args.resume:
        faults = admin.call("GET", "/faults")["faults"]
        pauses = [fault["id"] for fault in faults if fault["kind"] == "replication-pause"]
        for fault_id in pauses:
            admin.call("DELETE", f"/faults/{quote(fault_id, safe='')}")
        resumed = f"replication resumed (cleared {', '.join(pauses)})"
        print(resumed if pauses else "replication was not paused", file=out)
        return 0
    answer = admin.call("POST", "/faults", _spec(args))
    if action == "disconnect":
        regions = ", ".join(answer["regions"])
        print(f"closed {answer['closed']} subscriber connections in {regions}", file=out)
        return 0
    print(f"{_fault_line(answer)}\n  switch it off: gateway chaos clear {answer['id']}", file=out)
    return 0


def _spec(args: argparse.Namespace) -> dict[str, Any]:
    """The fault the command line asks for, as the admin endpoint takes it."""
    action = args.action
    if action == "outage":
        return {"kind": "outage", "region": args.region, "mode": "hang" if args.hang else "fail"}
    if action == "throttle":
        return {"kind": "throttle", "region": args.region, "rate": args.rate}
    if action == "replication":
        if args.pause:
            return {"kind": "replication-pause"}
        return {"kind": "replication-lag", "lagMs": args.lag_ms}
    if action == "crash":
        spec = {"kind": "crash", "region": args.region, "match": args.match}
        return spec if args.times is None else {**spec, "times": args.times}
    if action == "lost-reply":
        spec = {"kind": "lost-reply", "region": args.region}
        return spec if args.times is None else {**spec, "times": args.times}
    return {"kind": "disconnect", **({"region": args.region} if args.region else {})}


def _fault_line(fault: dict[str, Any]) -> str:
    """One fault, as a person reads it."""
    kind, region = fault["kind"], fault.get("region")
    if kind == "outage":
        effect = (
            f"{region}: DynamoDB calls hang (30 s max each)"
            if fault.get("mode") == "hang"
            else f"{region}: DynamoDB calls fail (HTTP 503)"
        )
    elif kind == "throttle":
        effect = f"{region}: {fault['rate'] * 100:g}% of table reads and writes throttled"
    elif kind == "replication-pause":
        effect = "replication paused: changes wait, none is lost"
    elif kind == "replication-lag":
        effect = f"replication lag {fault['lagMs']} ms"
    elif kind == "lost-reply":
        times = f"{fault['times']} more times" if "times" in fault else "until cleared"
        effect = f"{region}: writes are applied, then their replies lost (a timeout), {times}"
    else:
        times = f"{fault['times']} more times" if "times" in fault else "until cleared"
        effect = f"{region}: stream handler crashes on pk matching {fault['match']!r}, {times}"
    return f"{fault['id']:<22} {effect}  (since {fault['startedAt']})"


def _status(admin: Admin, as_json: bool, out: TextIO) -> int:
    status = admin.call("GET", "/status")
    if as_json:
        print(json.dumps(status, indent=2), file=out)
        return 0
    header = (
        "region",
        "role",
        "mode",
        "replication",
        "projection",
        "dead letters",
        "subs",
        "health",
    )
    rows = [header]
    for region in status["regions"]:
        replication, projection = region["replication"], region["projection"]
        rows.append(
            (
                region["name"],
                region["role"],
                region["mode"] or "?",
                f"{replication['lagMs']} ms, {replication['backlog']} waiting",
                f"{projection['lagMs']} ms, {projection['backlog']} waiting",
                _count(region["deadLetters"]),
                str(region["subscribers"]),
                _health(region.get("health")),
            )
        )
    _print_table(rows, out)
    _print_heartbeats(status["regions"], out)
    _print_metrics(status["regions"], out)
    settings = status["replication"]
    state = "paused" if settings["paused"] else "running"
    lag = f"lag {settings['lagMs']} ms (configured {settings['configuredLagMs']} ms)"
    print(f"\nreplication: {state}, {lag}", file=out)
    faults = status["faults"]
    print("faults:" if faults else "faults: none", file=out)
    for fault in faults:
        print(f"  {_fault_line(fault)}", file=out)
    return 0


def _health(check: dict[str, Any] | None) -> str:
    """The region's health check as the global endpoint follows it: its canary's say."""
    if check is None:
        return "?"
    last = check.get("lastVerdict")
    why = "" if last is None or last["healthy"] else f" ({last['reason']})"
    return ("healthy" if check["healthy"] else "UNHEALTHY") + why


def _print_heartbeats(regions: list[dict[str, Any]], out: TextIO) -> None:
    """How old the newest heartbeat of each region is in each region's projections: a
    number that keeps growing means replication or the stream has stalled."""
    sources = list(regions[0]["heartbeats"]) if regions and "heartbeats" in regions[0] else []
    if not sources:
        return
    table: list[Sequence[str]] = [("heartbeat age", *(f"from {source}" for source in sources))]
    for region in regions:
        ages = region["heartbeats"]
        table.append((region["name"], *(_age(ages.get(source)) for source in sources)))
    print(file=out)
    _print_table(table, out)


def _age(seen: dict[str, Any] | None) -> str:
    age = None if seen is None else seen.get("ageMs")
    return "none yet" if age is None else f"{age / 1000:.1f} s"


def _print_metrics(regions: list[dict[str, Any]], out: TextIO) -> None:
    """Each region's Lambda metrics over the window, under their CloudWatch names."""
    window = f"last {regions[0]['metrics']['windowS'] // 60} min" if regions else ""
    lag_header = ("ProjectionLag p50/p99/max", "ReplicationLag p50/p99/max", "DLQ depth")
    lags: list[Sequence[str]] = [(f"metrics, {window}", *lag_header)]
    calls: list[Sequence[str]] = [
        (f"resolvers, {window}", "field", "calls", "errors", "p50 ms", "p99 ms")
    ]
    for region in regions:
        metrics, name = region["metrics"], region["name"]
        lags.append(
            (
                name,
                _lag(metrics["ProjectionLag"]),
                _lag(metrics["ReplicationLag"]),
                _count(region["deadLetters"]),
            )
        )
        errors = metrics["ResolverErrors"]
        for field, latency in metrics["ResolverLatency"].items():
            counts = (str(latency["count"]), str(errors.get(field, 0)))
            calls.append((name, field, *counts, f"{latency['p50Ms']:g}", f"{latency['p99Ms']:g}"))
            name = ""
        if name:
            calls.append((name, "none yet", "", "", "", ""))
    for table in (lags, calls):
        print(file=out)
        _print_table(table, out)


def _lag(lag: dict[str, Any]) -> str:
    if not lag["count"]:
        return "no records"
    return f"{lag['p50Ms']:g}/{lag['p99Ms']:g}/{lag['maxMs']:g} ms ({lag['count']} records)"


def _count(value: int | None) -> str:
    return "?" if value is None else str(value)


def _print_table(rows: Sequence[Sequence[str]], out: TextIO) -> None:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print("  ".join(cells).rstrip(), file=out)


class Admin:
    """The admin endpoint of one running ``gateway dev``, called as its operator."""

    def __init__(self, graphql_url: str, operator_token: str) -> None:
        parts = urlsplit(graphql_url)
        self._base = f"{parts.scheme}://{parts.netloc}/_emulator"
        self._proof = operator_headers(operator_token)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self._base + path,
            data=data,
            method=method,
            headers={
                **self._proof,
                **({"content-type": "application/json"} if data is not None else {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            if 400 <= error.code < 500:
                raise Refused(_reason(error)) from None
            raise Unreachable(f"gateway dev answered HTTP {error.code} at {self._base}") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            raise Unreachable(f"cannot reach gateway dev at {self._base}: {error}") from None


def _reason(error: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(error.read())["error"])
    except (ValueError, KeyError, TypeError):
        return f"refused with HTTP {error.code}"
