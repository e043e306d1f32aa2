"""`make bench`: run every part, guard against regressions, and rewrite BENCHMARKS.md.

* ``python -m benchmarks.run``: every part in :data:`DEFAULT`, then BENCHMARKS.md is
  written afresh (the rows of parts run only when asked are kept, with their dates).
* ``--only PART`` (repeatable): those parts alone, printed; with ``--write``, their rows
  replace theirs in BENCHMARKS.md and every other row stays as it was.
* Each part runs in a process of its own, its output kept in a log, so one part's
  leftovers (moto's state, a stray thread, the handlers' log lines) never touch another.
* The guard (:mod:`benchmarks.guard`) compares every ratio with the committed
  BENCHMARKS.md before the file is rewritten, marks the rows that got worse by more than
  20% in the file and in the output, and makes the run exit 1; ``--no-fail`` keeps the
  exit at 0 (the rows are marked all the same). A part that fails exits 1 too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import guard, report
from benchmarks.report import Row

BENCHMARKS_FILE = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"
LOG_DIR = Path(tempfile.gettempdir()) / "gateway-bench"
SEPARATE_TABLES = {"requests": "DynamoDB requests per operation"}
FAILED = "FAILED"


@dataclass(frozen=True)
class Part:
    """One part: where its rows come from, and about how long it takes on this machine."""

    module: str
    function: str
    budget_s: int
    default: bool = True

    def rows(self) -> list[Row]:
        import importlib

        measure: Callable[[], list[Row]] = getattr(
            importlib.import_module(f"benchmarks.{self.module}"), self.function
        )
        return measure()


PARTS: dict[str, Part] = {
    "cold-start": Part("cold_start", "run", 60),
    "resolver-overhead": Part("resolver_overhead", "run", 30),
    "requests": Part("dynamodb_requests", "run", 15),
    "emulator-http": Part("emulator_http", "run", 30),
    "projection": Part("projection", "run", 40),
    "place-order": Part("place_order", "run", 30),
    "freshness": Part("freshness", "run", 80),
    "fanout": Part("fanout", "run", 60),
    "synth": Part("synth", "run", 60),
    "resilience": Part("resilience", "run", 200),
    # All 10,000 events, beside the sample the resilience part extrapolates from: about
    # ten minutes more, so it runs only when asked (docs/decisions.md).
    "catch-up-10k": Part("resilience", "run_full_catch_up", 900, default=False),
}
DEFAULT = [name for name, part in PARTS.items() if part.default]

NOTES = [
    "How to read a row: the figure is the median of several runs, with min, max and n. "
    "The ratio sets it against what the row names, measured in the same run on the same "
    "machine, because these machines are shared and noisy and absolute times alone mean "
    "little. ↓: lower is better; ↑: higher is better.",
    "The regression guard compares each ratio with the committed BENCHMARKS.md, row by "
    "row (same part, same row), and marks any that got worse by more than 20% in its "
    "verdict, with what it was; `make bench` then exits 1 (`--no-fail` keeps going).",
    "Resolver overhead is (handler - raw) / raw: the limit 1.0 lets the gateway add at "
    "most as much time as DynamoDB itself takes for the same answer.",
    "The catch-up of 10,000 events does not fit the 10-minute budget of `make bench` "
    "beside the rest, so `make bench` measures a sample and scales it linearly; "
    "`python -m benchmarks.run --only catch-up-10k --write` measures all 10,000 "
    "(docs/decisions.md has why, and what it costs).",
    "The fan-out peer is @aws-amplify/amplify-appsync-simulator, installed into "
    "benchmarks/peer by `npm ci` (make bench does it), run by benchmarks/peer/simulator.js.",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", action="append", choices=sorted(PARTS), help="run this part (repeatable)"
    )
    parser.add_argument("--write", action="store_true", help="with --only: update the file")
    parser.add_argument("--no-fail", action="store_true", help="exit 0 even when a ratio regressed")
    parser.add_argument("--list", action="store_true", help="list the parts and their budgets")
    parser.add_argument("--file", type=Path, default=BENCHMARKS_FILE, help=argparse.SUPPRESS)
    parser.add_argument("--rows-to", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.list:
        for name, part in PARTS.items():
            where = "make bench" if part.default else "only when asked"
            print(f"{name:18} about {part.budget_s:4d} s  ({where})")
        return 0
    if args.rows_to:
        # A child: one part, measured in this process, its rows handed back as JSON.
        (name,) = args.only
        rows = PARTS[name].rows()
        args.rows_to.write_text(json.dumps([asdict(row) for row in rows]))
        return 0
    return _run(args.only or DEFAULT, full=not args.only, write=args.write, args=args)


def _run(names: list[str], full: bool, write: bool, args: argparse.Namespace) -> int:
    started = time.perf_counter()
    load = _load_average()
    committed = guard.committed_rows(args.file)
    today = datetime.now(UTC).date().isoformat()
    rows: list[Row] = []
    failed: list[str] = []
    for name in names:
        part_rows, seconds, ok = _run_part(name)
        print(f"{name}: {seconds:.0f} s{'' if ok else ' FAILED'}", flush=True)
        if not ok:
            failed.append(name)
        command = f"python -m benchmarks.run --only {name}"
        rows += [replace(row, command=command, date=today) for row in part_rows]
    comparisons = guard.compare(rows, committed)
    rows = guard.flagged(comparisons)
    regressed = [c for c in comparisons if c.regressed]
    for row in rows:
        print(f"  {row.part} | {row.key} | {row.ratio_text()} | {row.verdict}")
    for comparison in regressed:
        print(f"REGRESSED: {comparison.row.part} / {comparison.row.key}: {comparison.note()}")
    wall_s = time.perf_counter() - started
    if full:
        run = f"{today}, {wall_s / 60:.1f} min in all, load average {load} at the start"
        # Parts run only when asked (catch-up-10k) keep their last rows, dated.
        kept = [row for row in _file_rows(args.file) if row.part in PARTS and row.part not in names]
        args.file.write_text(render(_in_part_order(rows + kept), regressed, run))
        print(f"wrote {args.file} ({wall_s:.0f} s)")
    elif write:
        kept = [row for row in _file_rows(args.file) if row.part not in names]
        merged = _in_part_order(kept + rows)
        previous = _previous_run(args.file.read_text() if args.file.exists() else "")
        args.file.write_text(render(merged, regressed, previous))
        print(f"updated {', '.join(names)} in {args.file}")
    if failed:
        print(f"FAILED: {', '.join(failed)} (logs in {LOG_DIR})")
        return 1
    if regressed and not args.no_fail:
        return 1
    return 0


def _run_part(name: str) -> tuple[list[Row], float, bool]:
    """One part in a child process: its rows, its wall time, and whether it succeeded."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = LOG_DIR / f"{name}.log"
    rows_file = LOG_DIR / f"{name}.json"
    rows_file.unlink(missing_ok=True)
    started = time.perf_counter()
    with log.open("wb") as output:
        child = subprocess.run(
            [sys.executable, "-m", "benchmarks.run", "--only", name, "--rows-to", str(rows_file)],
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=BENCHMARKS_FILE.parent,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    seconds = time.perf_counter() - started
    if child.returncode != 0 or not rows_file.exists():
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
        row = Row(
            part=name,
            key="failed",
            figure=f"FAILED (exit {child.returncode}): {tail[0][:200]}",
            against=f"log: {log}",
            ratio=None,
            verdict=FAILED,
        )
        return [row], seconds, False
    return [Row(**raw) for raw in json.loads(rows_file.read_text())], seconds, True


def render(rows: list[Row], regressed: list[guard.Comparison], run: str) -> str:
    """BENCHMARKS.md: the run, the regressions, the main table, the separate tables."""
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m benchmarks.run`). Each part also runs alone:",
        "`python -m benchmarks.run --only PART` prints its rows, and `--write` puts them here",
        "(their date says when).",
        "",
        f"Machine: {platform.machine()}, Python {platform.python_version()}, "
        f"{os.cpu_count() or 1} cores (shared). Last full run: {run}.",
        "",
        "## Regressions against the committed file",
        "",
    ]
    if regressed:
        lines += [f"* {c.row.part} / {c.row.key}: {c.note()}" for c in regressed]
    else:
        lines.append("None: no ratio got worse by more than 20%.")
    failed = [row for row in rows if row.verdict == FAILED]
    if failed:
        lines += ["", *[f"* {row.part} FAILED: {row.figure} ({row.against})" for row in failed]]
    main = [row for row in rows if row.part not in SEPARATE_TABLES]
    lines += ["", "## Figures", "", *report.table(main)]
    for part, title in SEPARATE_TABLES.items():
        separate = [row for row in rows if row.part == part]
        if separate:
            lines += ["", f"## {title}", "", *report.table(separate)]
    lines += ["", "## Notes", "", *[f"* {note}" for note in NOTES], ""]
    return "\n".join(lines)


def _file_rows(path: Path) -> list[Row]:
    return report.parse(path.read_text()) if path.exists() else []


def _in_part_order(rows: list[Row]) -> list[Row]:
    order = {name: index for index, name in enumerate(PARTS)}
    return sorted(rows, key=lambda row: order.get(row.part, len(order)))


def _previous_run(text: str) -> str:
    marker = "Last full run: "
    for line in text.splitlines():
        if marker in line:
            return line.split(marker, 1)[1].rstrip(".")
    return "none yet"


def _load_average() -> str:
    try:
        return " ".join(f"{value:.1f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


if __name__ == "__main__":
    raise SystemExit(main())
