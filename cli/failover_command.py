"""``gateway failover --to REGION [--force]`` against a running ``gateway dev`` or a
deployed stage: :func:`cli.failover.failover`'s steps with the target's clients.

The loss window of a forced failover is what the deployment measures: the running
``gateway dev``'s replication lag, or on a stage CloudWatch's ``ReplicationLatency`` of
the global table from the old primary to the new one (unknown when it has no figure).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import TextIO

from cli import cloudwatch, target_args
from cli.failover import FailoverError, failover
from cli.targets import Target


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "failover", help="move the primary to another region (fence, drain, promote)"
    )
    parser.add_argument("--to", required=True, metavar="REGION", help="the new primary")
    parser.add_argument(
        "--force",
        action="store_true",
        help="promote even if the old primary cannot be reached; what it had not yet "
        "replicated may be lost",
    )
    target_args.add_arguments(parser)


def run(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """``gateway failover`` against a running ``gateway dev`` or a deployed stage.

    A stage is looked up from ``--to``'s region first: the region to promote is the one
    that must answer, whichever else is lost.
    """
    target = target_args.open_target(args, args.to, start_there=True)
    return fail_over(target, args.to, args.force, out, err)


def fail_over(
    target: Target,
    to_region: str,
    force: bool,
    out: TextIO,
    err: TextIO,
    pause: Callable[[float], None] = time.sleep,
) -> int:
    """Fail ``target`` over to ``to_region`` and say what happened; the exit code."""
    clients = {region: target.dynamodb(region) for region in target.regions}
    lag = _emulator_lag(target) if target.is_local else _replication_latency(target)
    try:
        report = failover(
            clients,
            target.write_table,
            target.primary,
            to_region,
            force=force,
            replication_lag_ms=lag,
            pause=pause,
        )
    except FailoverError as error:
        print(f"gateway failover: {error}", file=err)
        return 2
    print(
        f"{report.new_primary} is the primary now (epoch {report.epoch}; was "
        f"{report.old_primary}); took {report.took_ms} ms",
        file=out,
    )
    if report.forced:
        window = (
            "unknown"
            if report.data_loss_window_ms is None
            else (f"{report.data_loss_window_ms} ms")
        )
        print(
            f"forced: writes {report.old_primary} took in the last {window} before it was "
            "lost may be missing, and arrive late if it returns",
            file=out,
        )
    return 0


def _emulator_lag(target: Target) -> Callable[[str, str], int | None]:
    """How far a region trails, as the running ``gateway dev`` measures it."""
    from cli.chaos import Admin, Unreachable

    assert target.local is not None
    admin = Admin(target.local.urls[0], target.local.operator_token)

    def lag_ms(_old: str, new: str) -> int | None:
        try:
            status = admin.call("GET", "/status")
        except Unreachable:
            return None
        observed = {region["name"]: region["replication"]["lagMs"] for region in status["regions"]}
        return max(int(status["replication"]["lagMs"]), int(observed.get(new, 0)))

    return lag_ms


def _replication_latency(target: Target) -> Callable[[str, str], int | None]:
    """How far a region trails, as CloudWatch last saw the global table's replication."""

    def lag_ms(old: str, new: str) -> int | None:
        return cloudwatch.replication_latency_ms(
            target.client("cloudwatch", old), target.write_table, new
        )

    return lag_ms
