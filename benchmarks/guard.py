"""The regression guard: each new ratio against the same row in the committed file.

A row regressed when its ratio moved the wrong way (see :attr:`Row.better`) by more
than :data:`THRESHOLD` of the committed ratio. Only ratios are compared: they are
taken in one run on one machine, so they travel between runs where absolute times
do not. A committed ratio of 0 that became anything worse counts as regressed.
"""

from __future__ import annotations

import math
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

from benchmarks.report import Row, parse
from benchmarks.stats import ratio_text

THRESHOLD = 0.20


@dataclass(frozen=True)
class Comparison:
    """A new row beside the committed ratio of the same part and key."""

    row: Row
    previous: float | None

    @property
    def worse_by(self) -> float | None:
        """How much worse, as a fraction of the committed ratio (negative: better)."""
        if self.previous is None or self.row.ratio is None:
            return None
        return worse_by(self.row.ratio, self.previous, self.row.better)

    @property
    def regressed(self) -> bool:
        change = self.worse_by
        return change is not None and change > THRESHOLD

    def note(self) -> str:
        """What the verdict cell says about the committed figure."""
        change = self.worse_by
        if change is None or self.previous is None:
            return ""
        was = ratio_text(self.previous)
        if self.regressed:
            how = "from 0" if math.isinf(change) else f"{change:.0%} worse"
            return f"REGRESSED: was {was}, {how}"
        return f"was {was}"


def worse_by(new: float, old: float, better: str) -> float:
    """The change from ``old`` to ``new`` in the bad direction, as a fraction of ``old``.

    Lower is better: (new - old) / old. Higher is better: (old - new) / old. From 0,
    any worsening is infinite and any improvement is 0.
    """
    change = new - old if better == "lower" else old - new
    if old == 0:
        return math.inf if change > 0 else 0.0
    return change / abs(old)


def compare(rows: list[Row], committed: list[Row]) -> list[Comparison]:
    """Each of ``rows`` beside the committed row with the same part and key, if any."""
    previous = {(row.part, row.key): row.ratio for row in committed}
    return [Comparison(row, previous.get((row.part, row.key))) for row in rows]


def flagged(comparisons: list[Comparison]) -> list[Row]:
    """The rows with their verdicts extended by what the committed figure was."""
    rows = []
    for comparison in comparisons:
        note = comparison.note()
        verdict = comparison.row.verdict
        rows.append(replace(comparison.row, verdict=f"{verdict}; {note}" if note else verdict))
    return rows


def committed_rows(path: Path) -> list[Row]:
    """The rows of ``path`` as committed (git's HEAD), else as the file stands.

    HEAD is the baseline, so running the benchmarks twice compares both runs with
    what was reviewed and committed, not the second with the first.
    """
    try:
        shown = subprocess.run(
            ["git", "show", f"HEAD:./{path.name}"],
            cwd=path.parent,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        shown = None
    if shown is not None and shown.returncode == 0:
        return parse(shown.stdout)
    return parse(path.read_text()) if path.exists() else []
