"""``gateway schema``: the breaking-change gate, its release step, and client operations.

* ``check``: compares ``schema/schema.graphql`` with ``schema/baseline.graphql`` (the
  last released contract) and lists every breaking and dangerous change. Exit 1 while
  a breaking change is not recorded in ``CHANGELOG.md`` (see :mod:`cli.schema_gate`).
* ``release VERSION``: once ``check`` passes, titles the changelog's Unreleased section
  ``VERSION`` and makes the current schema the baseline.
* ``validate OPS_DIR``: checks a folder of client operations against the schema, and
  reports each problem as ``file:line:column: message``. Exit 1 when there is one.

Exit 2, with a located message, when an input cannot be read: a missing file, SDL or a
baseline that does not parse, a folder without operations.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import TextIO

from graphql import OperationType

from cli.client_operations import NoOperations, check_folder
from cli.schema_gate import (
    Change,
    ReleaseRefused,
    SchemaProblem,
    compare,
    load_schema_file,
    read_text,
    released_changelog,
    unrecorded,
)

SCHEMA = "schema/schema.graphql"
BASELINE = "schema/baseline.graphql"
CHANGELOG = "CHANGELOG.md"


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    schema = commands.add_parser("schema", help="check the schema as a contract")
    actions = schema.add_subparsers(dest="action", required=True)
    check = actions.add_parser("check", help="list breaking and dangerous changes since release")
    release = actions.add_parser("release", help="make the current schema the released baseline")
    release.add_argument("version", metavar="VERSION", help="the release's number, e.g. 1.4.0")
    for parser in (check, release):
        parser.add_argument("--schema", default=SCHEMA, help=f"current schema ({SCHEMA})")
        parser.add_argument("--baseline", default=BASELINE, help=f"last release ({BASELINE})")
        parser.add_argument("--changelog", default=CHANGELOG, help=f"changelog ({CHANGELOG})")
    validate = actions.add_parser("validate", help="check client operations against the schema")
    validate.add_argument("ops_dir", metavar="OPS_DIR", help="folder of .graphql operations")
    validate.add_argument("--schema", default=SCHEMA, help=f"the schema ({SCHEMA})")


def run(
    args: argparse.Namespace,
    out: TextIO | None = None,
    err: TextIO | None = None,
    today: date | None = None,
) -> int:
    """Run one ``gateway schema`` action; 0 passed, 1 found a problem, 2 unreadable input."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        if args.action == "validate":
            return _validate(Path(args.schema), Path(args.ops_dir), out, err)
        baseline = load_schema_file(Path(args.baseline))
        current = load_schema_file(Path(args.schema))
        changelog_path = Path(args.changelog)
        changelog = read_text(changelog_path, args.changelog) if changelog_path.exists() else None
    except SchemaProblem as problem:
        for located in problem.problems:
            print(f"gateway schema {args.action}: {located}", file=err)
        return 2
    except NoOperations as error:
        print(f"gateway schema validate: {error}", file=err)
        return 2
    changes = compare(baseline, current)
    missing = unrecorded(changes, changelog)
    _report(changes, missing, args, out)
    if missing:
        _refuse(missing, args, err)
        return 1
    if args.action == "check":
        return 0
    return _release(args, changelog, today or date.today(), out, err)


def _report(
    changes: list[Change], missing: list[Change], args: argparse.Namespace, out: TextIO
) -> None:
    if not changes:
        print(f"{args.schema}: no breaking or dangerous changes since {args.baseline}", file=out)
        return
    print(f"{args.schema} against {args.baseline} (the last release):", file=out)
    for breaking, title in ((True, "breaking"), (False, "dangerous")):
        found = [change for change in changes if change.breaking == breaking]
        if not found:
            continue
        print(f"{title} changes ({len(found)}):", file=out)
        for change in found:
            state = ""
            if breaking:
                state = "  [NOT RECORDED]" if change in missing else "  [recorded]"
            print(f"  {change.plain_kind}: {change.description}{state}", file=out)


def _refuse(missing: list[Change], args: argparse.Namespace, err: TextIO) -> None:
    count = f"{len(missing)} breaking change{'s are' if len(missing) > 1 else ' is'}"
    names = "".join(f"\n    - `{change.coordinate}`" for change in missing)
    print(
        f"gateway schema {args.action}: {count} not recorded in {args.changelog}.\n"
        f"  Clients built on {args.baseline} would break. Keep the old shape, or record\n"
        f'  each change under "### Breaking" in the "## Unreleased" section of\n'
        f"  {args.changelog}, naming it and saying what clients must do:{names}\n"
        "  then run `gateway schema release VERSION` to move the baseline.",
        file=err,
    )


def _release(
    args: argparse.Namespace, changelog: str | None, today: date, out: TextIO, err: TextIO
) -> int:
    schema_text = Path(args.schema).read_text()
    if schema_text == Path(args.baseline).read_text():
        print(f"gateway schema release: {args.schema} is the baseline already", file=err)
        return 1
    try:
        if changelog is None:
            raise ReleaseRefused(f"{args.changelog} does not exist: describe this release in it")
        updated = released_changelog(changelog, args.version, today)
    except ReleaseRefused as refused:
        print(f"gateway schema release: {refused}", file=err)
        return 1
    Path(args.changelog).write_text(updated)
    Path(args.baseline).write_text(schema_text)
    print(
        f"released {args.version}: {args.baseline} is now {args.schema}, and "
        f'{args.changelog} has "## {args.version} - {today.isoformat()}"',
        file=out,
    )
    return 0


def _validate(schema_path: Path, folder: Path, out: TextIO, err: TextIO) -> int:
    schema = load_schema_file(schema_path)
    report = check_folder(schema, folder)
    for problem in report.problems:
        print(problem, file=out)
    kinds = {kind: 0 for kind in OperationType}
    for operation in report.operations:
        kinds[operation.operation] += 1
    counted = ", ".join(f"{kind.value}: {count}" for kind, count in kinds.items())
    summary = f"{len(report.files)} files ({counted})"
    if report.problems:
        problems = f"{len(report.problems)} problem{'s' if len(report.problems) > 1 else ''}"
        print(f"gateway schema validate: {problems} in {summary}", file=err)
        return 1
    print(f"{folder}: {summary}, all valid against {schema_path}", file=out)
    return 0
