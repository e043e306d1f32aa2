"""Synth of a three-region deployment: time and memory against the CI limit.

Each run is a fresh ``python -m infra.app`` process, as ``make synth`` runs it, so the
figure includes the jsii kernel's Node.js start and cdk-nag's checks.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def rows() -> list[dict[str, str]]:
    with tempfile.TemporaryDirectory() as outdir:
        times = [_synth_once(outdir) for _ in range(RUNS)]
    # The largest resident set of any process the synths started: Python or Node.js.
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    median = statistics.median(times)
    return [
        {
            "figure": f"synth of 3 regions + edge (4 stacks, cdk-nag on): {median:.1f} s "
            f"(min {min(times):.1f}, max {max(times):.1f}, n={RUNS}); "
            f"peak RSS of one process {peak_mib:.0f} MiB",
            "against": f"CI time limit: {CI_LIMIT_S // 60} min",
            "ratio": f"{median / CI_LIMIT_S:.4f}",
            "limit": "well under 1",
            "verdict": "within" if median < CI_LIMIT_S / 10 else "over",
        }
    ]
