"""The deployment configuration: hostile or mistaken settings stop before any synth."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.app import _with_overrides, committed_context, main
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
