"""``gateway mock emit FIELD``: a generated event for the subscribers of a ``gateway dev
--mock`` (see :mod:`emulator.mock.admin`).

``--set name=value`` fixes a field of the event (a JSON value, or else a string), so a
screen can be driven into the state it needs: ``--set stock=0`` or ``--set status=SHIPPED``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from cli.chaos import Admin, Refused, Unreachable
from emulator.statefile import DEFAULT_STATE_DIR, find


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    mock = commands.add_parser("mock", help="drive a gateway dev running with --mock")
    actions = mock.add_subparsers(dest="action", required=True)
    emit = actions.add_parser("emit", help="push a generated event to a subscription")
    emit.add_argument("subscription", metavar="FIELD", help="e.g. onProductChanged")
    emit.add_argument(
        "--set",
        dest="fields",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="fix a field of the event; repeat for more",
    )
    emit.add_argument("--region", help="one region's subscribers (default: every region)")
    emit.add_argument("--state-dir", default=DEFAULT_STATE_DIR, help="gateway dev's state dir")


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Emit one event; 0 done, 1 no gateway dev to talk to, 2 refused (the reason said).

    Raises
    ------
    emulator.statefile.NotRunning
        No ``gateway dev`` announced itself in ``--state-dir``.
    """
    out, err = out or sys.stdout, err or sys.stderr
    try:
        fields = dict(_field(text) for text in args.fields)
    except ValueError as error:
        print(f"gateway mock emit: {error}", file=err)
        return 2
    body: dict[str, Any] = {"subscription": args.subscription, "fields": fields}
    if args.region:
        body["region"] = args.region
    running = find(Path(args.state_dir))
    admin = Admin(running.urls[0], running.operator_token)
    try:
        answer = admin.call("POST", "/mock/emit", body)
    except Refused as error:
        print(f"gateway mock emit: {error}", file=err)
        return 2
    except Unreachable as error:
        print(f"gateway mock emit: {error}", file=err)
        return 1
    told = answer["delivered"]
    print(f"{answer['subscription']}: told {told} subscriber{'' if told == 1 else 's'}", file=out)
    for event in answer["events"]:
        print(json.dumps(event, ensure_ascii=False), file=out)
    return 0


def _field(text: str) -> tuple[str, Any]:
    name, equals, raw = text.partition("=")
    if not equals or not name.strip():
        raise ValueError(f"--set takes NAME=VALUE, not {text!r}")
    try:
        return name.strip(), json.loads(raw)
    except ValueError:
        return name.strip(), raw
