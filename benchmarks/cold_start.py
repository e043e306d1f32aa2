"""Cold start: importing each Lambda's handler, against the bare imports of its dependencies.

Each sample is a fresh interpreter, as a Lambda cold start is; a handler's import and
its baseline's are interleaved so that machine noise falls on both alike. The ratio is
the median of the per-round ratios. Budget: the resolver handler at most 1.2x.

Tracer: the optional powertools Tracer lives in an ``observability`` module and is
built with the Lambda's settings when ``POWERTOOLS_TRACE_DISABLED=false``. When one of
:data:`TRACER_MODULES` exists, each handler's import is measured again with
:data:`TRACER_ENV` set and its observability built (:data:`BUILD_TRACING`), against the
bare imports plus ``Tracer()``, as rows of their own; until then, or if building fails,
those rows say so. Those two constants are the one place to follow that module.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from typing import NamedTuple

from benchmarks.report import Row, judged, limit_text
from benchmarks.stats import Summary

PART = "cold-start"
BUDGET = 1.2
RUNS = 15
TRACER_MODULES = ("observability", "resolvers.observability", "projections.observability")
TRACER_ENV = {"POWERTOOLS_TRACE_DISABLED": "false"}
BUILD_TRACING = (
    "from projections.observability import Observability\n"
    "from projections.settings import Settings\n"
    "Observability.for_lambda('bench', Settings.from_env())\n"
)
_BARE_RESOLVER = (
    "import boto3\n"
    "from aws_lambda_powertools.event_handler import AppSyncResolver\n"
    "from aws_lambda_powertools import Logger\n"
)
_BARE_STREAM = (
    "import boto3\n"
    "from aws_lambda_powertools.utilities.batch import BatchProcessor\n"
    "from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import "
    "DynamoDBRecord\n"
)
_BARE_TRACER = "from aws_lambda_powertools import Tracer\nTracer(service='bench')\n"


class Pair(NamedTuple):
    """A handler's import, and the bare imports it is measured against."""

    name: str
    code: str
    baseline_name: str
    baseline: str
    env: dict[str, str]
    budget: float | None


def pairs(tracer: bool) -> list[Pair]:
    """What is measured; with ``tracer``, the handlers with the Tracer switched on too."""
    measured = [
        Pair(
            "resolver handler",
            "import resolvers.handler\n",
            "boto3 + AppSyncResolver + Logger",
            _BARE_RESOLVER,
            {},
            BUDGET,
        ),
        Pair(
            "stream handler",
            "import projections.stream\n",
            "boto3 + BatchProcessor + DynamoDBRecord",
            _BARE_STREAM,
            {},
            None,
        ),
    ]
    if tracer:
        measured += [
            Pair(
                "resolver handler, Tracer on",
                "import resolvers.handler\n" + BUILD_TRACING,
                "boto3 + AppSyncResolver + Logger + Tracer()",
                _BARE_RESOLVER + _BARE_TRACER,
                TRACER_ENV,
                None,
            ),
            Pair(
                "stream handler, Tracer on",
                "import projections.stream\n" + BUILD_TRACING,
                "boto3 + BatchProcessor + DynamoDBRecord + Tracer()",
                _BARE_STREAM + _BARE_TRACER,
                TRACER_ENV,
                None,
            ),
        ]
    return measured


def tracer_module() -> str | None:
    """The observability module that carries the Tracer, once it exists."""
    for name in TRACER_MODULES:
        try:
            if importlib.util.find_spec(name) is not None:
                return name
        except ModuleNotFoundError:
            continue
    return None


def import_seconds(code: str, env: dict[str, str] | None = None) -> float:
    """Wall time of ``code`` in a fresh interpreter, measured inside it."""
    probe = "import time\n_t = time.perf_counter()\n" + code + "print(time.perf_counter() - _t)\n"
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
    )
    return float(result.stdout.strip().splitlines()[-1])


class Measured(NamedTuple):
    """Seconds per sample for each pair, ``(handler, baseline)``; why a pair was not measured."""

    samples: dict[str, tuple[list[float], list[float]]]
    skipped: dict[str, str]


def measure(runs: int = RUNS, tracer: bool | None = None) -> Measured:
    """Each pair's import times, sampled alternately, after one discarded round (so that
    no side pays for reading files into the OS cache)."""
    chosen = pairs(tracer_module() is not None if tracer is None else tracer)
    skipped: dict[str, str] = {}
    for pair in list(chosen):
        try:
            import_seconds(pair.code, pair.env)
            import_seconds(pair.baseline, pair.env)
        except subprocess.CalledProcessError as error:
            if pair.budget is not None:
                raise
            last = (error.stderr or "").strip().splitlines()[-1:] or ["no output"]
            skipped[pair.name] = f"failed: {last[0][:120]}"
            chosen.remove(pair)
    samples: dict[str, tuple[list[float], list[float]]] = {p.name: ([], []) for p in chosen}
    for _ in range(runs):
        for pair in chosen:
            samples[pair.name][0].append(import_seconds(pair.code, pair.env))
            samples[pair.name][1].append(import_seconds(pair.baseline, pair.env))
    return Measured(samples, skipped)


def rows(measured: Measured, module: str | None) -> list[Row]:
    """Each handler's import time against its baseline's, and the Tracer's hook."""
    table = []
    for pair in pairs(tracer=True):
        if pair.name not in measured.samples:
            why = measured.skipped.get(pair.name) or (
                f"pending: no module among {', '.join(TRACER_MODULES)} yet"
            )
            table.append(_unmeasured(pair, why))
            continue
        handler, baseline = measured.samples[pair.name]
        ratios = Summary.of([h / b for h, b in zip(handler, baseline, strict=True)])
        timing = Summary.of([s * 1000 for s in handler])
        base = Summary.of([s * 1000 for s in baseline])
        where = f" (and its {module} built; {_env_text(pair.env)})" if pair.env else ""
        table.append(
            Row(
                part=PART,
                key=f"import {pair.name}",
                figure=f"import {pair.name}{where}: {timing.text('ms')}",
                against=f"bare {pair.baseline_name}: {base.median:.0f} ms; ratio: median of "
                f"{ratios.n} per-round ratios (min {ratios.low:.2f}, max {ratios.high:.2f})",
                ratio=ratios.median,
                limit=limit_text(pair.budget, "lower") if pair.budget else "record",
                verdict=judged(ratios.median, pair.budget, "lower") if pair.budget else "recorded",
            )
        )
    return table


def _unmeasured(pair: Pair, why: str) -> Row:
    return Row(
        part=PART,
        key=f"import {pair.name}",
        figure=f"import {pair.name}: not measured",
        against=f"bare {pair.baseline_name}",
        ratio=None,
        verdict=why,
    )


def _env_text(env: dict[str, str]) -> str:
    return " ".join(f"{name}={value}" for name, value in env.items())


def run() -> list[Row]:
    module = tracer_module()
    return rows(measure(tracer=module is not None), module)
