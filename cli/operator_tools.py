"""The operator's tools: ``failover``, ``dlq``, ``projections``, ``status``, ``chaos`` and
``smoke``, against a running ``gateway dev`` or a deployed stage.

One place answers for what they share: no deployment to act on is exit 1 with what to
do; a region the deployment lacks, or options that contradict, exit 2; and a refused AWS
call names the call and the reason, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from botocore.exceptions import BotoCoreError, ClientError

from cli import chaos, failover_command, operations, smoke, status
from cli.targets import BadRequest, TargetError
from emulator.statefile import NotRunning

COMMANDS = ("projections", "dlq", "chaos", "status", "failover", "smoke")


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    operations.add_commands(commands)
    chaos.add_commands(commands)
    status.add_command(commands)
    failover_command.add_command(commands)
    smoke.add_command(commands)


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run one of :data:`COMMANDS`; its exit code."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        if args.command == "chaos":
            return chaos.run(args, out, err)
        if args.command == "status":
            return status.run(args, out, err)
        if args.command == "failover":
            return failover_command.run(args, out, err)
        if args.command == "smoke":
            return smoke.run(args, out, err)
        return operations.run(args, out, err)
    except BadRequest as error:
        print(f"gateway: {error}", file=err)
        return 2
    except (NotRunning, TargetError) as error:
        print(f"gateway: {error}", file=err)
        return 1
    except ClientError as error:
        failure = error.response.get("Error", {})
        print(
            f"gateway: {error.operation_name} was refused: {failure.get('Code', '?')}: "
            f"{failure.get('Message', '')}",
            file=err,
        )
        return 1
    except BotoCoreError as error:
        print(f"gateway: an AWS call failed: {error}", file=err)
        return 1
