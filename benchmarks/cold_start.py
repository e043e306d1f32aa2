"""Cold start: importing the resolver Lambda's handler, against its bare dependencies.

Each sample is a fresh interpreter, as a Lambda cold start is; the two imports are
interleaved so that machine noise falls on both alike. Budget: at most 1.2x.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from dataclasses import dataclass

BASELINE = (
    "import boto3\n"
    "from aws_lambda_powertools.event_handler import AppSyncResolver\n"
    "from aws_lambda_powertools import Logger\n"
)
HANDLERS = {
    "resolver handler": "import resolvers.handler\n",
    "stream handler": "import projections.stream\n",
}
BUDGET = 1.2


@dataclass(frozen=True)
class Timing:
    name: str
    samples: list[float]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples) * 1000


def import_seconds(code: str) -> float:
    """Wall time of ``code`` in a fresh interpreter, measured inside it."""
    probe = "import time\n_t = time.perf_counter()\n" + code + "print(time.perf_counter() - _t)\n"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    return float(result.stdout.strip())


def measure(runs: int = 15) -> tuple[Timing, list[Timing]]:
    baseline: list[float] = []
    handlers: dict[str, list[float]] = {name: [] for name in HANDLERS}
    for _ in range(runs):
        baseline.append(import_seconds(BASELINE))
        for name, code in HANDLERS.items():
            handlers[name].append(import_seconds(code))
    return Timing("boto3 + AppSyncResolver + Logger", baseline), [
        Timing(name, samples) for name, samples in handlers.items()
    ]


def rows(runs: int = 15) -> list[dict[str, str]]:
    """Rows for BENCHMARKS.md: each handler's median import against the baseline's."""
    baseline, handlers = measure(runs)
    table = []
    for timing in handlers:
        ratio = timing.median_ms / baseline.median_ms
        table.append(
            {
                "figure": f"import {timing.name}: {timing.median_ms:.0f} ms "
                f"(min {min(timing.samples) * 1000:.0f}, max {max(timing.samples) * 1000:.0f})",
                "against": f"{baseline.name}: {baseline.median_ms:.0f} ms",
                "ratio": f"{ratio:.2f}x",
                "limit": f"{BUDGET}x",
                "verdict": "within" if ratio <= BUDGET else "OVER",
            }
        )
    return table


if __name__ == "__main__":
    for row in rows():
        print(row)
