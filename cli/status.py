"""``gateway status``: each region's role, dead letters and progress, on AWS or locally.

Two parts, kept apart because only one of them exists on AWS:

* the deployment, read the same way from a stage and from ``gateway dev``
  (:mod:`cli.targets`): each region's own copy of the control record, its dead-letter
  count, and its projection progress item (when it last projected, how late); on a
  stage, also the consumer's stream lag from CloudWatch (``IteratorAge``);
* what only the emulator knows (``gateway dev``'s admin endpoint): replication and
  projection backlogs, subscribers, each region's health as the global endpoint follows
  it, how old every region's newest heartbeat is in each region, its Lambdas' metrics,
  the injected faults.

``--json`` prints the emulator's status with the deployment's under ``deployment``
(a stage: the deployment's alone).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from cli import cloudwatch, dlq, target_args
from cli.chaos import Admin, Refused, Unreachable, fault_line, print_table
from cli.failover import FailoverError, read_control
from cli.targets import Target
from projections import keys
from projections.table import decode


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    status = commands.add_parser(
        "status",
        help="each region's role, dead letters and lags (and gateway dev's own view: "
        "health, heartbeats, faults)",
    )
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    status.add_argument("--region", help="one region (default: every region)")
    target_args.add_arguments(status)


def run(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Print the status; 0 done, 1 the emulator's part could not be read."""
    target = target_args.open_target(args, args.region)
    deployment = read_deployment(target, target.select(args.region))
    emulator: dict[str, Any] | None = None
    if target.local is not None:
        try:
            emulator = Admin(target.local.urls[0], target.local.operator_token).call(
                "GET", "/status"
            )
        except (Refused, Unreachable) as error:
            print(f"gateway: {error}", file=err)
            return 1
    if args.json:
        print(json.dumps({**(emulator or {}), "deployment": deployment}, indent=2), file=out)
        return 0
    _print_deployment(deployment, out)
    if emulator is not None:
        _print_emulator(emulator, out)
    return 0


def read_deployment(
    target: Target, regions: list[str], now: datetime | None = None
) -> dict[str, Any]:
    """What each of ``regions`` says of itself, read as an operator reads it on AWS."""
    now = now or datetime.now(UTC)
    entries = [_region(target, region, now) for region in regions]
    copies = [region["control"] for region in entries if region.get("control")]
    latest = max(copies, key=lambda control: control["epoch"], default=None)
    return {
        "target": target.description,
        "primary": latest["primary"] if latest else None,
        "mode": latest["mode"] if latest else None,
        "epoch": latest["epoch"] if latest else None,
        "regions": entries,
    }


def _region(target: Target, region: str, now: datetime) -> dict[str, Any]:
    if region in target.unreadable:
        return {"name": region, "error": target.unreadable[region]}
    resources = target.resources[region]
    client = target.dynamodb(region)
    entry: dict[str, Any] = {"name": region, "control": None, "deadLetters": None}
    try:
        control = read_control(client, resources.write_table, target.primary)
        entry["control"] = {
            "primary": control.primary_region,
            "mode": control.mode,
            "epoch": control.epoch,
        }
    except (BotoCoreError, ClientError, FailoverError) as error:
        entry["controlError"] = _why(error)
    try:
        entry["deadLetters"] = dlq.store_of(target, region).count()
    except (BotoCoreError, ClientError) as error:
        entry["deadLettersError"] = _why(error)
    entry["projection"] = _progress(client, resources.projection_table, now)
    if not target.is_local and resources.stream_consumer:
        client = target.client("cloudwatch", region)
        entry["streamLagMs"] = cloudwatch.iterator_age_ms(client, resources.stream_consumer)
    return entry


def _progress(client: Any, table: str, now: datetime) -> dict[str, Any] | None:
    """The region's progress item: when its consumer last projected, and how late."""
    try:
        answer = client.get_item(
            TableName=table, Key={name: {"S": v} for name, v in keys.progress_key().items()}
        )
    except (BotoCoreError, ClientError) as error:
        return {"error": _why(error)}
    item = answer.get("Item")
    if item is None:
        return None
    progress = decode(item)
    projected = str(progress.get("projectedAt", ""))
    try:
        age_s = max(0, round((now - datetime.fromisoformat(projected)).total_seconds()))
    except ValueError:
        age_s = None
    return {
        "lastEventAt": progress.get("lastEventAt"),
        "projectedAt": projected,
        "lagMs": progress.get("lagMs"),
        "ageS": age_s,
    }


def _why(error: Exception) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "ClientError"))
    if isinstance(error, FailoverError):
        return str(error)
    return type(error).__name__


def _print_deployment(deployment: dict[str, Any], out: TextIO) -> None:
    primary = deployment["primary"] or "unknown"
    epoch = deployment["epoch"] if deployment["epoch"] is not None else "?"
    print(
        f"{deployment['target']}: primary {primary}, {deployment['mode'] or '?'}, "
        f"epoch {epoch} (the highest epoch of the copies read)",
        file=out,
    )
    stage = any("streamLagMs" in region for region in deployment["regions"])
    header = ["region", "role", "mode", "epoch", "dead letters", "last projected"]
    rows: list[Sequence[str]] = [header + (["stream lag"] if stage else [])]
    for region in deployment["regions"]:
        rows.append(_row(region, stage))
    print_table(rows, out)


def _row(region: dict[str, Any], stage: bool) -> list[str]:
    name = region["name"]
    if "error" in region:
        return [name, "?", "?", "?", "?", f"stack unreadable: {region['error']}"] + (
            ["?"] if stage else []
        )
    control = region["control"]
    if control is None:
        role, mode, epoch = "?", f"unreachable ({region.get('controlError')})", "?"
    else:
        role = "primary" if control["primary"] == name else "replica"
        mode, epoch = control["mode"], str(control["epoch"])
    letters = region["deadLetters"]
    letters_text = str(letters) if letters is not None else f"? ({region.get('deadLettersError')})"
    row = [name, role, mode, epoch, letters_text, _projected(region["projection"])]
    if stage:
        lag = region.get("streamLagMs")
        row.append("no data" if lag is None else f"{lag} ms")
    return row


def _projected(progress: dict[str, Any] | None) -> str:
    if progress is None:
        return "nothing yet"
    if "error" in progress:
        return f"unreadable ({progress['error']})"
    age = "?" if progress["ageS"] is None else f"{progress['ageS']} s ago"
    return f"{age}, {progress['lagMs']} ms after the write"


def _print_emulator(status: dict[str, Any], out: TextIO) -> None:
    print("\nemulator only (gateway dev's own view):", file=out)
    header = ("region", "replication", "projection", "subscribers", "health")
    rows: list[Sequence[str]] = [header]
    for region in status["regions"]:
        replication, projection = region["replication"], region["projection"]
        rows.append(
            (
                region["name"],
                f"{replication['lagMs']} ms, {replication['backlog']} waiting",
                f"{projection['lagMs']} ms, {projection['backlog']} waiting",
                str(region["subscribers"]),
                _health(region.get("health")),
            )
        )
    print_table(rows, out)
    _print_heartbeats(status["regions"], out)
    _print_metrics(status["regions"], out)
    settings = status["replication"]
    state = "paused" if settings["paused"] else "running"
    lag = f"lag {settings['lagMs']} ms (configured {settings['configuredLagMs']} ms)"
    print(f"\nreplication: {state}, {lag}", file=out)
    faults = status["faults"]
    print("faults:" if faults else "faults: none", file=out)
    for fault in faults:
        print(f"  {fault_line(fault)}", file=out)


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
    print_table(table, out)


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
        print_table(table, out)


def _lag(lag: dict[str, Any]) -> str:
    if not lag["count"]:
        return "no records"
    return f"{lag['p50Ms']:g}/{lag['p99Ms']:g}/{lag['maxMs']:g} ms ({lag['count']} records)"


def _count(value: int | None) -> str:
    return "?" if value is None else str(value)
