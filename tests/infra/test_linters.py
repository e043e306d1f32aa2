"""The synthesized templates pass AWS's linters, and the Lambda bundle stands alone."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import util
from pathlib import Path

import pytest
from aws_cdk import Stack
from aws_cdk import aws_sqs as sqs

from infra import bundle
from infra.app import build_app
from tests.infra.conftest import Synthesized, deployment

REPOSITORY = Path(__file__).resolve().parents[2]
CFN_LINT = Path(sys.executable).with_name("cfn-lint")
# What the Lambda Python runtime itself provides, besides the standard library.
LAMBDA_RUNTIME_PACKAGES = ("boto3", "botocore", "jmespath", "s3transfer", "dateutil", "urllib3")


def test_every_template_passes_cfn_lint(synthesized: Synthesized) -> None:
    """GIVEN every stack of the deployment WHEN cfn-lint checks it with the project's
    settings THEN it reports nothing: no error, and no warning that .cfnlintrc.yaml does
    not justify."""
    files = synthesized.template_files()
    assert len(files) == len(synthesized.config.regions) + 1
    result = subprocess.run(
        [str(CFN_LINT), "--config-file", ".cfnlintrc.yaml", "--format", "parseable"]
        + [str(file) for file in files],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.stdout == "" and result.returncode == 0, result.stdout + result.stderr


def test_cdk_nag_findings_are_all_acknowledged_with_a_reason(synthesized: Synthesized) -> None:
    """GIVEN the AwsSolutions pack WHEN the app synthesizes THEN nothing is left open, and
    every finding that was acknowledged in code carries a reason."""
    report = json.loads((synthesized.outdir / "validation-report.json").read_text())
    [nag] = report["pluginReports"]
    assert nag["pluginName"] == "AwsSolutions" and nag["conclusion"] == "success"
    assert nag["violations"] == []
    acknowledged = nag["suppressedViolations"]
    assert acknowledged, "cdk-nag found nothing at all: is it running?"
    unexplained = [item["ruleName"] for item in acknowledged if len(item["reason"]) < 20]
    assert unexplained == []


def test_an_unacknowledged_finding_fails_the_synth(tmp_path: Path) -> None:
    """GIVEN a queue that breaks an AwsSolutions rule and no acknowledgment WHEN the app
    synthesizes THEN the synth fails, so CI cannot land it."""
    app = build_app(deployment("us-east-1", "eu-west-1"), str(tmp_path))
    stack = Stack(app, "Careless")
    sqs.Queue(stack, "Plain")
    with pytest.raises(RuntimeError, match="AwsSolutions-SQS4"):
        app.synth()


def test_the_lambda_bundle_runs_on_the_lambda_runtime_alone(tmp_path: Path) -> None:
    """GIVEN only the bundle and what the Lambda runtime ships WHEN every handler is
    imported (resolvers, stream, canary, heartbeat) THEN they load: no strawberry, no
    emulator, no package the runtime lacks."""
    staged = bundle.lambda_bundle(tmp_path / "bundle")
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    for package in LAMBDA_RUNTIME_PACKAGES:
        spec = util.find_spec(package)
        assert spec is not None and spec.origin is not None
        (runtime / package).symlink_to(Path(spec.origin).parent)
    (runtime / "six.py").symlink_to(Path(str(util.find_spec("six").origin)))  # type: ignore[union-attr]
    handlers = (
        bundle.RESOLVER_HANDLER,
        bundle.STREAM_HANDLER,
        bundle.CANARY_HANDLER,
        bundle.HEARTBEAT_HANDLER,
        bundle.AUTHORIZER_HANDLER,
        bundle.SIGN_UP_HANDLER,
    )
    modules = ", ".join(sorted({handler.rsplit(".", 1)[0] for handler in handlers}))
    script = (
        "import sys; sys.path[:0] = [sys.argv[1], sys.argv[2]];"
        f"import {modules};"
        "print(sorted(m.split('.')[0] for m in sys.modules if m.split('.')[0] in "
        "('strawberry', 'graphql', 'emulator', 'moto', 'schema')))"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-c", script, str(staged), str(runtime)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert not (staged / "emulator").exists() and not (staged / "schema").exists()
    assert (staged / "aws_lambda_powertools").is_dir()


def test_a_traced_bundle_carries_the_x_ray_sdk_and_a_plain_one_does_not(tmp_path: Path) -> None:
    """GIVEN gateway:xray on WHEN the bundle is staged THEN powertools' Tracer finds the
    X-Ray SDK in it (the Lambda runtime has none); without it, the bundle stays lean."""
    traced = bundle.lambda_bundle(tmp_path / "traced", tracing=True)
    plain = bundle.lambda_bundle(tmp_path / "plain")

    assert (traced / "aws_xray_sdk").is_dir() and (traced / "wrapt").is_dir()
    assert not (plain / "aws_xray_sdk").exists()
