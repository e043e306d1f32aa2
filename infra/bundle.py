"""The Lambda bundle, staged from this repository with no Docker and no network.

Every Lambda shares one bundle: the runtime packages (``domain``, ``projections``,
``resolvers``) and the pinned Powertools copied from the environment that runs the synth,
so what deploys is exactly what the tests ran. boto3 comes from the Lambda runtime.
"""

from __future__ import annotations

import shutil
from importlib import metadata
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
RUNTIME_PACKAGES = ("domain", "projections", "resolvers")
# Powertools and what it needs beyond the Lambda runtime's own boto3 and jmespath.
BUNDLED_DISTRIBUTIONS = ("aws-lambda-powertools", "typing-extensions")
# powertools' Tracer needs the X-Ray SDK, which the Lambda runtime lacks: only a
# deployment with ``gateway:xray`` on carries it (about 330 ms of cold start).
TRACING_DISTRIBUTIONS = ("aws-xray-sdk", "wrapt")
RESOLVER_HANDLER = "resolvers.handler.lambda_handler"
AUTHORIZER_HANDLER = "resolvers.authorizer.handler"
STREAM_HANDLER = "projections.stream.handler"
CANARY_HANDLER = "resolvers.canary.handler"
HEARTBEAT_HANDLER = "projections.heartbeat.handler"
SIGN_UP_HANDLER = "resolvers.sign_up.handler"

_staged: dict[Path, Path] = {}


def lambda_bundle(out_dir: Path | None = None, tracing: bool = False) -> Path:
    """A folder holding the Lambda code, staged once per process.

    Parameters
    ----------
    out_dir
        Where to stage it; ``build/lambda`` (``build/lambda-traced`` with ``tracing``)
        in the repository by default.
    tracing
        Add the X-Ray SDK, which powertools' Tracer imports.
    """
    target = out_dir or REPOSITORY / "build" / ("lambda-traced" if tracing else "lambda")
    if target in _staged:
        return _staged[target]
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for package in RUNTIME_PACKAGES:
        shutil.copytree(REPOSITORY / package, target / package, ignore=_not_code)
    for name in BUNDLED_DISTRIBUTIONS + (TRACING_DISTRIBUTIONS if tracing else ()):
        _copy_distribution(name, target)
    _staged[target] = target
    return target


def _copy_distribution(name: str, target: Path) -> None:
    distribution = metadata.distribution(name)
    for file in distribution.files or ():
        relative = Path(str(file))
        if relative.parts[0] == ".." or "__pycache__" in relative.parts:
            continue
        if relative.suffix == ".pyc" or relative.parts[0].endswith(".dist-info"):
            continue
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(str(distribution.locate_file(file))), destination)


def _not_code(folder: str, names: list[str]) -> set[str]:
    return {name for name in names if name == "__pycache__" or name.endswith(".pyc")}
