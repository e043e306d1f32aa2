"""Export the strawberry schema to ``schema/schema.graphql``, deployable to AppSync.

Run ``python -m schema.export`` after changing a type; ``--check`` exits 1 when the
committed file differs from the code.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

SCHEMA_FILE = Path(__file__).with_name("schema.graphql")
# AppSync declares its scalars and directives itself and refuses a schema that
# declares them again.
_APPSYNC_DECLARED = re.compile(r"^(scalar AWS\w+|directive @aws_\w+.*)$")


def render() -> str:
    """The deployable SDL for the current code."""
    from schema.root import schema

    blocks = schema.as_str().strip().split("\n\n")
    kept = [block for block in blocks if not _is_appsync_declared(block)]
    root = "schema {\n  query: Query\n  mutation: Mutation\n  subscription: Subscription\n}"
    return "\n\n".join([root, *kept]) + "\n"


def _is_appsync_declared(block: str) -> bool:
    lines = [line for line in block.splitlines() if not line.startswith('"""') and line.strip()]
    # A description may precede the definition; the definition is the last line.
    body = [line for line in lines if not line.startswith(" ")]
    return bool(body) and bool(_APPSYNC_DECLARED.match(body[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the file is out of date")
    args = parser.parse_args(argv)
    current = render()
    if args.check:
        if SCHEMA_FILE.read_text() != current:
            print(f"{SCHEMA_FILE} is out of date: run `make schema`", file=sys.stderr)
            return 1
        return 0
    SCHEMA_FILE.write_text(current)
    print(f"wrote {SCHEMA_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
