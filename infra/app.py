"""The CDK app: ``make synth`` runs it and writes every stack's template to ``cdk.out``.

The deployment comes from the ``gateway:*`` context: ``cdk.json``'s, then the CDK
command line's (``cdk deploy -c key=value`` reaches the app as ``CDK_CONTEXT_JSON``),
then ``--context key=value`` here. The assembly goes to ``--outdir``, else to the CDK
command line's ``--output`` (``CDK_OUTDIR``), else to ``cdk.out``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from infra.config import CONTEXT_KEYS, ConfigError, DeploymentConfig, committed_context
from infra.stacks import build_stacks


def new_app(outdir: str | None = None, overrides: Sequence[str] = ()) -> App:
    """An empty app holding the deployment's context, writing to ``outdir``.

    ``App`` itself reads the CDK command line's context and output folder from the
    environment; ``cdk.json`` gives the defaults for a run without the CDK command
    line (``make synth``), and ``overrides`` (``KEY=VALUE``) win over both.

    Raises
    ------
    ConfigError
        An override is not ``KEY=VALUE``.
    """
    return App(
        outdir=outdir or os.environ.get("CDK_OUTDIR") or "cdk.out",
        # App reads the same variables in its own (jsii) process, which started with
        # this one's environment; reading them here too keeps them in force when the
        # environment changed since (tests), and changes nothing otherwise.
        context={**committed_context(), **cli_context(os.environ)},
        post_cli_context=_with_overrides({}, overrides),
    )


def cli_context(environ: Mapping[str, str]) -> dict[str, Any]:
    """The context the CDK command line hands its app: ``CDK_CONTEXT_JSON``, and the
    file it writes instead when that would be too long for the environment.

    Raises
    ------
    ConfigError
        Either is not a JSON object.
    """
    context: dict[str, Any] = {}
    sources = [("CDK_CONTEXT_JSON", environ.get("CDK_CONTEXT_JSON"))]
    overflow = environ.get("CONTEXT_OVERFLOW_LOCATION_ENV")
    if overflow:
        try:
            sources.append((overflow, Path(overflow).read_text()))
        except OSError as error:
            raise ConfigError(f"the CDK context file {overflow} cannot be read: {error}") from error
    for name, text in sources:
        if not text:
            continue
        try:
            values = json.loads(text)
        except ValueError as error:
            raise ConfigError(f"{name} is not JSON: {error}") from error
        if not isinstance(values, dict):
            raise ConfigError(f"{name} must hold a JSON object")
        context.update(values)
    return context


def deployment_config(app: App) -> DeploymentConfig:
    """The deployment that ``app``'s context describes.

    Raises
    ------
    ConfigError
        A setting is missing or cannot deploy; the message names it.
    """
    context = {key: app.node.try_get_context(key) for key in CONTEXT_KEYS}
    return DeploymentConfig.from_context(
        {key: value for key, value in context.items() if value is not None}
    )


def build_app(config: DeploymentConfig, outdir: str | None = None, app: App | None = None) -> App:
    """``app`` (a new one writing to ``outdir`` by default) with every stack, checked by
    cdk-nag's AwsSolutions rules at synth."""
    app = app or App(outdir=outdir)
    build_stacks(app, config)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    return app


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.app", description=__doc__)
    parser.add_argument(
        "--outdir", default=None, help="where the assembly goes (default: CDK_OUTDIR, else cdk.out)"
    )
    parser.add_argument(
        "--context",
        "-c",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one gateway:* setting of cdk.json and of the CDK command line",
    )
    args = parser.parse_args(argv)
    try:
        app = new_app(args.outdir, args.context)
        config = deployment_config(app)
    except ConfigError as error:
        print(f"infra: {error}", file=sys.stderr)
        return 2
    assembly = build_app(config, app=app).synth()
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
