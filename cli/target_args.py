"""Which deployment a command acts on: ``--state-dir`` (a running ``gateway dev``) or
``--stage NAME [--profile P]`` (a deployed one), the same options for every command."""

from __future__ import annotations

import argparse
from pathlib import Path

import boto3
from botocore.exceptions import ProfileNotFound

from cli.stage_stacks import stage_target
from cli.targets import BadRequest, Target, TargetError, local_target
from emulator.statefile import DEFAULT_STATE_DIR, find


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--state-dir`` (a running ``gateway dev``) or ``--stage`` (a deployed one)."""
    parser.add_argument(
        "--state-dir",
        default=None,
        help=f"the running gateway dev's state directory (default {DEFAULT_STATE_DIR})",
    )
    parser.add_argument(
        "--stage", help="a deployed stage instead: its stacks' outputs say where everything is"
    )
    parser.add_argument("--profile", help="the AWS profile to use with --stage")


def open_target(
    args: argparse.Namespace, region: str | None = None, *, start_there: bool = False
) -> Target:
    """The deployment the command line names.

    A stage's stacks are looked up in the profile's region first, then in ``region``
    (the one the command names), or the other way round with ``start_there`` (a
    failover starts from the region it promotes: the other may be the one that is
    lost); the first stack found names the other regions.

    Raises
    ------
    emulator.statefile.NotRunning
        No ``--stage``, and no ``gateway dev`` runs with ``--state-dir``.
    TargetError
        The stage cannot be found or read, or the options contradict each other.
    """
    if args.stage is None:
        if args.profile is not None:
            raise BadRequest("--profile goes with --stage: a local gateway dev needs none")
        state_dir = Path(args.state_dir or DEFAULT_STATE_DIR)
        return local_target(find(state_dir), state_dir)
    if args.state_dir is not None:
        raise BadRequest("name either --stage or --state-dir, not both")
    try:
        session = boto3.Session(profile_name=args.profile)
    except ProfileNotFound as error:
        raise TargetError(str(error)) from None
    starts = [session.region_name, region]
    return stage_target(session, args.stage, starts[::-1] if start_there else starts)
