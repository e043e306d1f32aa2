"""The released contract holds: `make test` runs the breaking-change gate and checks the
example client operations, as a front-end team's build would."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

from graphql import FieldNode, OperationType

from cli import schema_commands
from cli.client_operations import check_folder
from emulator.appsync.executor import load_schema

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "operations"


def _schema_command(*argv: str) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="gateway")
    schema_commands.add_command(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["schema", *argv])
    out = io.StringIO()
    code = schema_commands.run(args, out, out)
    return code, out.getvalue()


def test_the_schema_passes_the_gate_against_the_released_baseline() -> None:
    """GIVEN schema/schema.graphql, schema/baseline.graphql and CHANGELOG.md as committed
    WHEN `gateway schema check` runs THEN every breaking change since the release is
    recorded in the changelog (exit 0)."""
    code, printed = _schema_command(
        "check",
        "--schema",
        str(REPO / "schema" / "schema.graphql"),
        "--baseline",
        str(REPO / "schema" / "baseline.graphql"),
        "--changelog",
        str(REPO / "CHANGELOG.md"),
    )

    assert code == 0, printed


def test_the_example_operations_are_valid() -> None:
    """GIVEN examples/operations WHEN `gateway schema validate` runs THEN it passes."""
    code, printed = _schema_command(
        "validate", str(EXAMPLES), "--schema", str(REPO / "schema" / "schema.graphql")
    )

    assert code == 0, printed
    assert "all valid" in printed


def test_the_examples_cover_every_query_mutation_and_subscription() -> None:
    """GIVEN the schema's root fields THEN each one is used by some example operation, so
    a front-end team has a working document to start from for every one."""
    schema = load_schema()
    report = check_folder(schema, EXAMPLES)
    used = {
        (operation.operation, selection.name.value)
        for operation in report.operations
        for selection in operation.selection_set.selections
        if isinstance(selection, FieldNode)
    }
    roots = {
        OperationType.QUERY: schema.query_type,
        OperationType.MUTATION: schema.mutation_type,
        OperationType.SUBSCRIPTION: schema.subscription_type,
    }
    every = {(kind, name) for kind, root in roots.items() if root for name in root.fields}

    assert report.problems == []
    assert sorted(every - used, key=str) == []
