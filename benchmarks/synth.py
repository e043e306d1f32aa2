"""Synth of a three-region deployment: time and memory against the CI limit.

Each run is a fresh ``python -m infra.app`` process, as ``make synth`` runs it, so the
figure includes the jsii kernel's Node.js start and cdk-nag's checks.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.report import Row, judged, limit_text
from benchmarks.stats import Summary

PART = "synth"
REPOSITORY = Path(__file__).resolve().parent.parent
REGIONS = "us-east-1,eu-west-1,ap-southeast-2"
RUNS = 3
CI_LIMIT_S = 90 * 60


def _synth_once(outdir: str) -> float:
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "infra.app", "--outdir", outdir, "-c", f"gateway:regions={REGIONS}"],
        cwd=REPOSITORY,
        env=env,
        check=True,
        capture_output=True,
        timeout=600,
    )
    return time.perf_counter() - started


def measure(runs: int = RUNS) -> tuple[list[float], float]:
    """Seconds per synth, and the largest resident set (MiB) of any process they started:
    Python or Node.js."""
    with tempfile.TemporaryDirectory() as outdir:
        times = [_synth_once(outdir) for _ in range(runs)]
    return times, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def rows(figures: tuple[list[float], float]) -> list[Row]:
    times, peak_mib = figures
    synth = Summary.of(times)
    ratio = synth.median / CI_LIMIT_S
    return [
        Row(
            part=PART,
            key="synth of 3 regions + edge (4 stacks, cdk-nag on)",
            figure=f"synth of 3 regions + edge (4 stacks, cdk-nag on): {synth.text('s', 1)}; "
            f"peak RSS of one process {peak_mib:.0f} MiB",
            against=f"CI time limit: {CI_LIMIT_S // 60} min; ratio = synth / limit",
            ratio=ratio,
            limit=limit_text(0.1, "lower"),
            verdict=judged(ratio, 0.1, "lower"),
        )
    ]


def run() -> list[Row]:
    return rows(measure())
