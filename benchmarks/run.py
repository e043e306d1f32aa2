"""`make bench`: run every benchmark once and rewrite BENCHMARKS.md with the figures."""

from __future__ import annotations

import argparse
import platform
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import cold_start, fanout, freshness, place_order, resilience, synth

BENCHMARKS_FILE = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"
Rows = Callable[[], list[dict[str, str]]]
PARTS: dict[str, tuple[str, Rows]] = {
    "cold-start": ("python -m benchmarks.run --only cold-start", cold_start.rows),
    "freshness": ("python -m benchmarks.run --only freshness", freshness.rows),
    "place-order": ("python -m benchmarks.run --only place-order", place_order.rows),
    "fanout": ("python -m benchmarks.run --only fanout", fanout.rows),
    "synth": ("python -m benchmarks.run --only synth", synth.rows),
    "resilience": ("python -m benchmarks.run --only resilience", resilience.rows),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", choices=sorted(PARTS), help="run one part and print it")
    args = parser.parse_args(argv)
    today = datetime.now(UTC).date().isoformat()
    if args.only:
        for row in PARTS[args.only][1]():
            print(row)
        return 0
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m benchmarks.run`); each part runs alone with the",
        "command in its row. Figures are medians of one run on this machine, shown as ratios",
        "against a baseline measured in the same run, because the machines are shared and noisy.",
        "",
        f"Machine: {platform.machine()}, Python {platform.python_version()}, "
        f"{_cores()} cores. Date: {today}.",
        "",
        "| part | figure | against | ratio | limit | verdict | command |",
        "|---|---|---|---|---|---|---|",
    ]
    for part, (command, measure) in PARTS.items():
        for row in measure():
            lines.append(
                f"| {part} | {row['figure']} | {row['against']} | {row['ratio']} | "
                f"{row['limit']} | {row['verdict']} | `{command}` |"
            )
    lines += [
        "",
        "`product(id)` costs exactly one DynamoDB request: that is a correctness property,",
        "asserted by `tests/integration/test_product_flow.py` with botocore event hooks.",
        "",
    ]
    BENCHMARKS_FILE.write_text("\n".join(lines))
    print(f"wrote {BENCHMARKS_FILE}")
    return 0


def _cores() -> int:
    import os

    return os.cpu_count() or 1


if __name__ == "__main__":
    raise SystemExit(main())
