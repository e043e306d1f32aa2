"""``gateway projections rebuild`` and ``gateway dlq list|redrive``, against a running
``gateway dev`` (``--state-dir``) or a deployed stage (``--stage``): the same code, only
the target's clients differ (:mod:`cli.targets`).

On a stage, the operator's credentials act: a rebuild needs to scan the write table and
write the projection table; a redrive also reads the stream, receives and deletes the
queue's messages, and signs the publish mutations (``appsync:GraphQL`` on them), so
subscribers hear what it applies.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TextIO

from cli import dlq, target_args
from cli.targets import Target
from projections.observability import Observability
from projections.publish import AppSyncPublisher, Publisher
from projections.rebuild import plan, rebuild
from projections.stream import SERVICE as PROJECTIONS_SERVICE
from projections.stream import StreamProjector
from projections.table import ProjectionTable

# Who tells a region's subscribers what a redrive applied; tests pass a recorder.
Publishers = Callable[[Target, str], Publisher]


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    projections = commands.add_parser("projections", help="operate on a region's projections")
    projection_commands = projections.add_subparsers(dest="action", required=True)
    rebuilding = projection_commands.add_parser(
        "rebuild", help="rebuild projections from the write table's events"
    )
    _common(rebuilding)
    rebuilding.add_argument(
        "--dry-run",
        action="store_true",
        help="count what it would delete and apply; change nothing",
    )
    rebuilding.add_argument(
        "--yes", action="store_true", help="go on without asking (a stage asks for it)"
    )
    dlq_parser = commands.add_parser("dlq", help="stream batches that failed every retry")
    dlq_commands = dlq_parser.add_subparsers(dest="action", required=True)
    _common(dlq_commands.add_parser("list", help="list the dead letters"))
    _common(dlq_commands.add_parser("redrive", help="apply the dead letters again"))


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--region", help="one region (default: every region)")
    target_args.add_arguments(parser)


def run(
    args: argparse.Namespace,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    publishers: Publishers | None = None,
) -> int:
    """Run the command; 0 done, 1 a dead letter still fails, 2 refused.

    Raises
    ------
    emulator.statefile.NotRunning, cli.targets.TargetError
        There is no deployment to act on (:func:`cli.target_args.open_target`).
    """
    target = target_args.open_target(args, args.region)
    regions = target.select(args.region)
    if args.command == "projections":
        return _rebuild(target, regions, args, out, err)
    if args.action == "list":
        for region in regions:
            dlq.list_letters(dlq.Region(target, region), out)
        return 0
    publisher = publishers or _appsync
    failing_anywhere = 0
    for region in regions:
        projector = StreamProjector(
            ProjectionTable(target.dynamodb(region), target.resources[region].projection_table),
            publisher(target, region),
            # The answer is on stdout; the handler's line for each record goes to stderr.
            # Its metrics are dropped: they belong to the running consumer, not to this.
            Observability(PROJECTIONS_SERVICE, region=region, emf_sink=_dropped, log_stream=err),
        )
        applied, failing = dlq.redrive(dlq.Region(target, region), projector.handle, err)
        print(f"{region}: {applied} applied, {failing} still failing", file=out)
        failing_anywhere += failing
    return 1 if failing_anywhere else 0


def _appsync(target: Target, region: str) -> Publisher:
    """The region's API, signed with the target's credentials, as the consumer publishes."""
    return AppSyncPublisher(target.resources[region].graphql_url, region, target.credentials())


def _rebuild(
    target: Target, regions: list[str], args: argparse.Namespace, out: TextIO, err: TextIO
) -> int:
    names = ", ".join(regions)
    if not args.dry_run and not target.is_local and not args.yes:
        print(
            f"gateway: a rebuild empties the views of {names} first, so reads there miss "
            "data until it ends; send readers to another region, then add --yes (or "
            "--dry-run to count what it would do)",
            file=err,
        )
        return 2
    for region in regions:
        resources = target.resources[region]
        client = target.dynamodb(region)
        table = ProjectionTable(client, resources.projection_table)
        if args.dry_run:
            counted = plan(client, resources.write_table, table)
            print(
                f"{region}: would delete {counted.views} views of {resources.projection_table} "
                f"and apply {counted.events} events from {resources.write_table}; nothing "
                f"changed (a rebuild leaves reads in {region} missing data until it ends)",
                file=out,
            )
            continue
        print(
            f"warning: rebuilding {region}: until it ends, reads there miss the views not "
            "yet rebuilt",
            file=err,
        )
        bar = _ProgressBar(region, err) if err.isatty() else None
        applied = rebuild(client, resources.write_table, table, bar)
        if bar is not None:
            bar.finish()
        print(f"{region}: rebuilt from {applied} events", file=out)
    return 0


def _dropped(blob: object) -> None:
    """An EMF sink that keeps nothing."""


class _ProgressBar:
    """A one-line bar on a terminal; redrawn in place."""

    WIDTH = 30

    def __init__(self, label: str, stream: TextIO) -> None:
        self._label = label
        self._stream = stream

    def __call__(self, done: int, total: int) -> None:
        filled = self.WIDTH * done // max(total, 1)
        bar = "#" * filled + "." * (self.WIDTH - filled)
        self._stream.write(f"\rrebuilding {self._label}: [{bar}] {done}/{total} events")
        self._stream.flush()

    def finish(self) -> None:
        self._stream.write("\n")
        self._stream.flush()
