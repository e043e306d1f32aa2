"""The CDK app: ``make synth`` runs it and writes every stack's template to ``cdk.out``.

The deployment comes from the ``gateway:*`` context in ``cdk.json``; ``-c key=value``
on the CDK command line, or ``--context key=value`` here, overrides it.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from infra.config import ConfigError, DeploymentConfig, committed_context
from infra.stacks import build_stacks


def build_app(config: DeploymentConfig, outdir: str | None = None) -> App:
    """The app with every stack, checked by cdk-nag's AwsSolutions rules at synth."""
    app = App(outdir=outdir)
    build_stacks(app, config)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    return app


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.app", description=__doc__)
    parser.add_argument("--outdir", default="cdk.out")
    parser.add_argument(
        "--context",
        "-c",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one gateway:* setting of cdk.json",
    )
    args = parser.parse_args(argv)
    try:
        config = DeploymentConfig.from_context(_with_overrides(committed_context(), args.context))
    except ConfigError as error:
        print(f"infra: {error}", file=sys.stderr)
        return 2
    app = build_app(config, args.outdir)
    assembly = app.synth()
    for stack in assembly.stacks:
        print(f"{stack.stack_name}: {os.path.relpath(stack.template_full_path)}")
    return 0


def _with_overrides(context: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    merged = dict(context)
    for item in overrides:
        key, separator, value = item.partition("=")
        if not separator or not key:
            raise ConfigError(f"--context takes KEY=VALUE, not {item!r}")
        merged[key] = value
    return merged


if __name__ == "__main__":
    sys.exit(main())
