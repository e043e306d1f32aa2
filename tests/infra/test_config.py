"""The deployment configuration: hostile or mistaken settings stop before any synth."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.app import (
    _with_overrides,
    cli_context,
    committed_context,
    deployment_config,
    main,
    new_app,
)
from infra.config import ApiLimits, ConfigError, DeploymentConfig, committed_api_limits

GOOD = {
    "gateway:regions": "us-east-1, eu-west-1,ap-southeast-2",
    "gateway:domainName": "API.Shop.Example.com",
    "gateway:hostedZoneId": "Z0TESTZONE00000000000",
    "gateway:hostedZoneName": "shop.example.com.",
}


def test_the_first_region_is_the_primary_and_the_rest_replicas() -> None:
    """GIVEN a region list WHEN parsed THEN its first entry takes writes at first."""
    config = DeploymentConfig.from_context(GOOD)
    assert config.primary == "us-east-1"
    assert config.replicas == ("eu-west-1", "ap-southeast-2")
    assert config.domain_name == "api.shop.example.com"
    assert config.stack_name("eu-west-1") == "Gateway-dev-eu-west-1"
    assert config.resource_name("gateway-write") == "gateway-write-dev"


def test_the_committed_cdk_json_deploys_two_regions() -> None:
    """GIVEN cdk.json as committed THEN it is a valid two-region deployment."""
    config = DeploymentConfig.from_context(committed_context())
    assert len(config.regions) == 2


@pytest.mark.parametrize(
    ("key", "value", "complaint"),
    [
        ("gateway:regions", "", "gateway:regions is not set"),
        ("gateway:regions", "us-east-1,us-east-1", "names a region twice"),
        ("gateway:regions", "us-east-1,mars-north-1x", "not an AWS region"),
        ("gateway:regions", "us-east-1;eu-west-1", "not an AWS region"),
        ("gateway:regions", "us-east-1,,eu-west-1", "not an AWS region"),
        ("gateway:domainName", "api.other.org", "not inside the hosted zone"),
        ("gateway:domainName", "api..shop.example.com", "not a domain name"),
        ("gateway:domainName", "api.shop.example.com/../x", "not a domain name"),
        ("gateway:hostedZoneId", "zone-1", "not a Route 53 zone id"),
        ("gateway:stage", "Prod Stage", "gateway:stage"),
        ("gateway:stage", "x" * 17, "gateway:stage"),
        ("gateway:apiLogLevel", "LOUD", "must be one of"),
        ("gateway:logLevel", "TRACE", "not a Python log level"),
        ("gateway:xray", "perhaps", "must be true or false"),
        ("gateway:resolverCountLimit", "10001", "from 0 to 10000"),
        ("gateway:resolverCountLimit", "-1", "from 0 to 10000"),
        ("gateway:resolverCountLimit", "lots", "a whole number"),
        ("gateway:queryDepthLimit", "76", "from 0 to 75"),
    ],
)
def test_a_bad_setting_is_named_in_a_clear_error(key: str, value: str, complaint: str) -> None:
    """GIVEN one wrong setting WHEN the config is parsed THEN ConfigError names it."""
    with pytest.raises(ConfigError, match=complaint):
        DeploymentConfig.from_context({**GOOD, key: value})


def test_flags_accept_what_the_cdk_command_line_passes() -> None:
    """GIVEN -c gateway:xray=true (a string) WHEN parsed THEN tracing is on."""
    assert DeploymentConfig.from_context({**GOOD, "gateway:xray": "true"}).xray is True
    assert DeploymentConfig.from_context({**GOOD, "gateway:xray": False}).xray is False


def test_api_limits_take_appsyncs_ranges_and_default_to_the_deployments(
    tmp_path: Path,
) -> None:
    """GIVEN no limit in the context THEN the deployment's defaults (50 resolvers, depth 15);
    GIVEN -c values (strings) within AppSync's ranges, 0 included (AppSync's own maximum
    or no limit) THEN they are kept; and what cdk.json commits is what gateway dev reads."""
    assert DeploymentConfig.from_context(GOOD).api_limits == ApiLimits(50, 15)
    context = {**GOOD, "gateway:resolverCountLimit": "0", "gateway:queryDepthLimit": "75"}
    assert DeploymentConfig.from_context(context).api_limits == ApiLimits(0, 75)
    committed = tmp_path / "cdk.json"
    committed.write_text(json.dumps({"context": {"gateway:resolverCountLimit": 20}}))
    assert committed_api_limits(committed) == ApiLimits(20, 15)
    assert committed_api_limits(tmp_path / "absent.json") == ApiLimits()


def test_a_context_override_without_a_value_is_refused() -> None:
    """GIVEN --context gateway:stage (no '=') THEN the error says KEY=VALUE."""
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        _with_overrides(GOOD, ["gateway:stage"])


def test_synth_with_a_bad_setting_exits_2_with_the_reason(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """GIVEN make synth ARGS='--context gateway:regions=nowhere' THEN it exits 2 and says why,
    with no traceback."""
    assert main(["--context", "gateway:regions=nowhere", "--outdir", "/nonexistent"]) == 2
    err = capsys.readouterr().err
    assert "not an AWS region" in err and "Traceback" not in err


def _cli_context(**overrides: str) -> str:
    """CDK_CONTEXT_JSON as the CDK CLI sends it: cdk.json's context, then its -c values."""
    return json.dumps({**committed_context(), **overrides})


def test_the_cdk_command_lines_context_and_output_folder_are_honoured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """GIVEN `cdk synth -c gateway:stage=prod --output X` (the CLI runs the app with
    CDK_CONTEXT_JSON and CDK_OUTDIR) WHEN the app runs THEN the prod stacks are written
    to X, where the CLI looks for the assembly."""
    monkeypatch.setenv("CDK_CONTEXT_JSON", _cli_context(**{"gateway:stage": "prod"}))
    monkeypatch.setenv("CDK_OUTDIR", str(tmp_path))
    assert main([]) == 0
    written = sorted(path.name for path in tmp_path.glob("*.template.json"))
    assert "Gateway-prod-us-east-1.template.json" in written
    assert not any("-dev-" in name for name in written)
    assert "Gateway-prod-edge" in capsys.readouterr().out


def test_a_bad_setting_from_the_cdk_command_line_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """GIVEN `cdk synth -c gateway:regions=nowhere` THEN the app exits 2 naming the key."""
    monkeypatch.setenv("CDK_CONTEXT_JSON", _cli_context(**{"gateway:regions": "nowhere"}))
    assert main(["--outdir", "/nonexistent"]) == 2
    assert "not an AWS region" in capsys.readouterr().err


def test_our_own_context_flag_wins_over_the_cdk_command_lines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """GIVEN CDK_CONTEXT_JSON says stage prod and --context says stage qa THEN qa wins:
    the flag is the more specific request."""
    monkeypatch.setenv("CDK_CONTEXT_JSON", _cli_context(**{"gateway:stage": "prod"}))
    config = deployment_config(new_app(None, ["gateway:stage=qa"]))
    assert config.stage == "qa"
    assert config.regions == ("us-east-1", "eu-west-1")


@pytest.mark.parametrize("text", ["{not json", "[1, 2]"])
def test_a_spoiled_cdk_context_is_named(text: str) -> None:
    """GIVEN CDK_CONTEXT_JSON that is not a JSON object THEN ConfigError names it."""
    with pytest.raises(ConfigError, match="CDK_CONTEXT_JSON"):
        cli_context({"CDK_CONTEXT_JSON": text})


def test_the_cdk_context_written_to_a_file_is_read_too(tmp_path: Path) -> None:
    """GIVEN a context too long for the environment (the CLI writes it to a file) THEN its
    values count, after CDK_CONTEXT_JSON's."""
    overflow = tmp_path / "context.json"
    overflow.write_text(json.dumps({"gateway:stage": "big"}))
    environ = {
        "CDK_CONTEXT_JSON": json.dumps({"gateway:stage": "small", "gateway:xray": True}),
        "CONTEXT_OVERFLOW_LOCATION_ENV": str(overflow),
    }
    assert cli_context(environ) == {"gateway:stage": "big", "gateway:xray": True}
