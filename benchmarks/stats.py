"""Summaries of repeated measurements: the median, the spread, and percentiles.

Every figure in BENCHMARKS.md is a median of several runs with its min and max, so a
reader sees the noise of a shared machine beside the figure.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import NamedTuple


class Summary(NamedTuple):
    """The median of several runs, with the lowest, the highest and how many."""

    median: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        if not values:
            raise ValueError("a summary needs at least one value")
        return cls(statistics.median(values), min(values), max(values), len(values))

    def text(self, unit: str = "", digits: int = 0) -> str:
        """``"210 ms (min 178, max 290, n=25)"``: the form every figure takes."""
        spaced = f" {unit}" if unit and not unit.startswith("/") else unit
        return (
            f"{self.median:.{digits}f}{spaced} "
            f"(min {self.low:.{digits}f}, max {self.high:.{digits}f}, n={self.n})"
        )


def percentile(values: Sequence[float], p: float) -> float:
    """The nearest-rank ``p``-th percentile: a value that was measured, never interpolated.

    With fewer than 100 values, p99 is the largest; the figures say how many there were.
    """
    if not values:
        raise ValueError("a percentile needs at least one value")
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def ratio_text(value: float, suffix: str = "") -> str:
    """A ratio with as many digits as it needs to be read: 1.14, 0.42, 0.0023."""
    if value == 0 or abs(value) >= 0.1:
        return f"{value:.2f}{suffix}"
    return f"{value:.2g}{suffix}"
