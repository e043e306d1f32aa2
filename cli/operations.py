"""Operator commands against a running ``gateway dev``: rebuild, and the dead letters."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from emulator.cloud.deadletters import DeadLetters
from emulator.statefile import RunningDev, find
from projections.observability import Observability
from projections.rebuild import rebuild
from projections.stream import SERVICE as PROJECTIONS_SERVICE
from projections.stream import build_projector
from projections.table import ProjectionTable


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    projections = commands.add_parser("projections", help="operate on a region's projections")
    projection_commands = projections.add_subparsers(dest="action", required=True)
    rebuilding = projection_commands.add_parser(
        "rebuild", help="rebuild projections from the write table's events"
    )
    _common(rebuilding)
    dlq = commands.add_parser("dlq", help="stream records that failed every retry")
    dlq_commands = dlq.add_subparsers(dest="action", required=True)
    _common(dlq_commands.add_parser("list", help="list the dead letters"))
    _common(dlq_commands.add_parser("redrive", help="apply the dead letters again"))


def run(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    running = find(Path(args.state_dir))
    running.credentials.install()
    regions = running.regions if args.region is None else [args.region]
    unknown = [region for region in regions if region not in running.regions]
    if unknown:
        known = ", ".join(running.regions)
        print(f"gateway: unknown region {unknown[0]}; running: {known}", file=err)
        return 2
    if args.command == "projections":
        return _rebuild(running, regions, out, err)
    if args.action == "list":
        return _list(running, regions, out)
    return _redrive(running, regions, out, err)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--region", help="one region (default: every region)")
    parser.add_argument("--state-dir", default=".gateway", help="gateway dev's state directory")


def _rebuild(running: RunningDev, regions: list[str], out: TextIO, err: TextIO) -> int:
    for region in regions:
        settings = running.settings(region)
        table = ProjectionTable(settings.dynamodb(region), settings.projection_table)
        bar = _ProgressBar(region, err) if err.isatty() else None
        applied = rebuild(settings.dynamodb(region), settings.write_table, table, bar)
        if bar is not None:
            bar.finish()
        print(f"{region}: rebuilt from {applied} events", file=out)
    return 0


def _list(running: RunningDev, regions: list[str], out: TextIO) -> int:
    for region in regions:
        settings = running.settings(region)
        letters = DeadLetters(settings.dynamodb(region), region).list()
        print(f"{region}: {len(letters)} dead letters", file=out)
        for letter in letters:
            print(f"  {letter.summary}", file=out)
    return 0


def _redrive(running: RunningDev, regions: list[str], out: TextIO, err: TextIO) -> int:
    failing_anywhere = 0
    for region in regions:
        settings = running.settings(region)
        # The answer is on stdout; the handler's line for each record goes to stderr. Its
        # metrics are dropped: they belong to the running gateway dev, not to this command.
        observability = Observability(
            PROJECTIONS_SERVICE, region=region, emf_sink=_dropped, log_stream=err
        )
        projector = build_projector(settings, running.credentials.botocore(), observability)
        applied, failing = DeadLetters(settings.dynamodb(region), region).redrive(projector.handle)
        print(f"{region}: {applied} applied, {failing} still failing", file=out)
        failing_anywhere += failing
    return 1 if failing_anywhere else 0


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
