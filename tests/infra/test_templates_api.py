"""Every region's AppSync API: auth modes, logs, schema, authorizer, and the one user pool."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from aws_cdk.assertions import Match, Template
from cryptography.hazmat.primitives.asymmetric import rsa

from emulator.appsync.auth import DEFAULT_PUBLIC_TOKEN
from emulator.appsync.limits import Limits
from emulator.cloud.jwt_issuer import LocalIssuer
from infra import bundle
from infra.api import SCHEMA_FILE
from infra.app import build_app
from infra.config import CLIENT_TOKEN_CACHE_S, CLIENT_TOKEN_SECRET
from projections.settings import CLIENT_TOKEN_SECRET_VARIABLE
from resolvers.access import STAFF
from tests.infra.conftest import Synthesized, deployment
from tests.infra.test_templates import (
    ACCOUNT,
    FUNCTION,
    PARTITION,
    allowed,
    function_id,
    listed,
    resources,
    role_statements,
    the_one,
)

GRAPHQL_API = "AWS::AppSync::GraphQLApi"
USER_POOL = "AWS::Cognito::UserPool"
USER_POOLS = "AMAZON_COGNITO_USER_POOLS"
# The groups that JWTs carry (DESIGN.md, Auth): part of the public contract.
CONTRACT_GROUPS = {"customers", "staff"}


def _providers(template: Template) -> dict[str, dict[str, Any]]:
    _, api = the_one(template, GRAPHQL_API)
    return {
        provider["AuthenticationType"]: provider
        for provider in api["Properties"]["AdditionalAuthenticationProviders"]
    }


def test_every_region_takes_the_client_token_user_pool_tokens_and_iam(
    synthesized: Synthesized,
) -> None:
    """GIVEN a deployment WHEN synthesized THEN each region's API takes the public client
    token by default (its Lambda authorizer), user-pool tokens from the primary's pool,
    and SigV4 for the stream handler; and nothing else."""
    config = synthesized.config
    for region in config.regions:
        template = synthesized.region(region)
        template.resource_count_is(GRAPHQL_API, 1)
        template.has_resource_properties(GRAPHQL_API, {"AuthenticationType": "AWS_LAMBDA"})

        providers = _providers(template)

        assert sorted(providers) == sorted([USER_POOLS, "AWS_IAM"]), region
        assert providers[USER_POOLS]["UserPoolConfig"]["AwsRegion"] == config.primary, region


def test_every_region_trusts_the_one_user_pool_of_the_primary(synthesized: Synthesized) -> None:
    """GIVEN a deployment WHEN synthesized THEN every API names the primary's user pool, a
    replica through CDK's cross-region export: one sign-in works in every region."""
    config = synthesized.config
    primary = synthesized.region(config.primary)
    pool_id, _ = the_one(primary, USER_POOL)
    writers = resources(primary, "Custom::CrossRegionExportWriter")

    assert _providers(primary)[USER_POOLS]["UserPoolConfig"]["UserPoolId"] == {"Ref": pool_id}
    for region in config.replicas:
        template = synthesized.region(region)
        reference = _providers(template)[USER_POOLS]["UserPoolConfig"]["UserPoolId"]
        reader, export = reference["Fn::GetAtt"]
        exported = {
            name: value
            for writer in writers.values()
            if writer["Properties"]["WriterProps"]["region"] == region
            for name, value in writer["Properties"]["WriterProps"]["exports"].items()
        }

        assert reader in resources(template, "Custom::CrossRegionExportReader"), region
        assert exported.get(export) == {"Ref": pool_id}, region


def test_every_region_logs_field_errors_without_tracing_by_default(
    synthesized: Synthesized,
) -> None:
    """GIVEN the default switches WHEN synthesized THEN each API logs at the configured level,
    without verbose content (JWTs, API keys), and does not trace."""
    config = synthesized.config
    for region in config.regions:
        synthesized.region(region).has_resource_properties(
            GRAPHQL_API,
            {
                "LogConfig": {
                    "FieldLogLevel": config.api_log_level,
                    "ExcludeVerboseContent": True,
                    "CloudWatchLogsRoleArn": Match.any_value(),
                },
                "XrayEnabled": False,
            },
        )


def test_every_region_serves_the_committed_schema(synthesized: Synthesized) -> None:
    """GIVEN schema/schema.graphql WHEN synthesized THEN each region's API schema is that
    file, byte for byte: what the contract tests check is what deploys."""
    for region in synthesized.config.regions:
        template = synthesized.region(region)
        template.resource_count_is("AWS::AppSync::GraphQLSchema", 1)
        template.has_resource_properties(
            "AWS::AppSync::GraphQLSchema", {"Definition": SCHEMA_FILE.read_text()}
        )


def test_every_region_limits_resolvers_and_depth_as_gateway_dev_does(
    synthesized: Synthesized,
) -> None:
    """GIVEN a deployment WHEN synthesized THEN each region's API refuses a request over
    the deployment's resolver count or query depth, and those are the very limits a
    default `gateway dev` enforces: a query refused on AWS is refused locally."""
    limits = synthesized.config.api_limits
    enforced = Limits()
    assert (limits.resolver_count, limits.query_depth) == (
        enforced.max_resolvers,
        enforced.max_depth,
    )
    for region in synthesized.config.regions:
        synthesized.region(region).has_resource_properties(
            GRAPHQL_API,
            {
                "ResolverCountLimit": limits.resolver_count,
                "QueryDepthLimit": limits.query_depth,
            },
        )


def test_the_authorizer_sees_only_client_tokens_and_answers_are_kept_a_while(
    synthesized: Synthesized,
) -> None:
    """GIVEN each region's AWS_LAMBDA mode WHEN synthesized THEN AppSync sends its
    authorizer only what matches the client-token pattern (a user-pool JWT, a Bearer
    JWT or a SigV4 header never does, while the local default token does), and keeps its
    answers for the configured time; AppSync may invoke the function, and the function
    may read its own region's replica of the token secret."""
    config = synthesized.config
    issuer = LocalIssuer(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    jwt = issuer.mint("someone", ["customers"])
    sigv4 = "AWS4-HMAC-SHA256 Credential=AKIAGATEWAYLOCAL0001/20260101/us-east-1/appsync"
    name = config.resource_name(CLIENT_TOKEN_SECRET)
    for region in config.regions:
        template = synthesized.region(region)
        _, api = the_one(template, GRAPHQL_API)
        lambda_config = _modes(api)["AWS_LAMBDA"]["LambdaAuthorizerConfig"]
        pattern = re.compile(lambda_config["IdentityValidationExpression"])
        authorizer = function_id(template, bundle.AUTHORIZER_HANDLER)

        assert lambda_config["AuthorizerResultTtlInSeconds"] == CLIENT_TOKEN_CACHE_S
        assert pattern.fullmatch(DEFAULT_PUBLIC_TOKEN), region
        for other in (jwt, f"Bearer {jwt}", sigv4):
            assert not pattern.search(other), (region, other[:20])
        template.has_resource_properties(
            "AWS::Lambda::Permission",
            {
                "Action": "lambda:InvokeFunction",
                "FunctionName": {"Fn::GetAtt": [authorizer, "Arn"]},
                "Principal": "appsync.amazonaws.com",
            },
        )
        readable = allowed(role_statements(template, authorizer), "secretsmanager:GetSecretValue")
        assert readable, region
        assert all(
            resource.startswith(f"arn:{PARTITION}:secretsmanager:{region}:{ACCOUNT}:secret:{name}")
            or resource.startswith("${")
            for resource in readable
        ), (region, readable)

    primary = synthesized.region(config.primary)
    secret, _ = the_one(primary, "AWS::SecretsManager::Secret", {"Name": name})
    authorizer = resources(primary, FUNCTION)[function_id(primary, bundle.AUTHORIZER_HANDLER)]
    assert secret in authorizer.get("DependsOn", [])


def test_only_the_primary_holds_the_user_pool_and_its_groups(synthesized: Synthesized) -> None:
    """GIVEN a deployment WHEN synthesized THEN the primary's stack has the one user pool
    with exactly the customers and staff groups; no replica stack has a pool."""
    config = synthesized.config
    primary = synthesized.region(config.primary)
    pool_id, _ = the_one(primary, USER_POOL)
    groups = resources(primary, "AWS::Cognito::UserPoolGroup")

    names = [group["Properties"]["GroupName"] for group in groups.values()]
    assert sorted(names) == sorted(CONTRACT_GROUPS)
    assert STAFF in names
    assert all(g["Properties"]["UserPoolId"] == {"Ref": pool_id} for g in groups.values())
    for region in config.replicas:
        synthesized.region(region).resource_count_is(USER_POOL, 0)
        synthesized.region(region).resource_count_is("AWS::Cognito::UserPoolGroup", 0)


class Traced(NamedTuple):
    """A synth with full field logs and X-Ray on, and what cdk-nag said of it."""

    templates: list[Template]
    nag_failure: str | None


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> Traced:
    """Two regions with apiLogLevel ALL and xray on: the one extra synth of this module.

    CDK writes every template before cdk-nag validates them, so the templates are read from
    the output folder even when validation fails; that failure is a test of its own.
    """
    config = deployment("us-east-1", "eu-west-1")._replace(api_log_level="ALL", xray=True).checked()
    outdir: Path = tmp_path_factory.mktemp("cdk-traced")
    nag_failure = None
    try:
        build_app(config, str(outdir)).synth()
    except RuntimeError as error:
        nag_failure = str(error)
    templates = [
        Template.from_json(
            json.loads((outdir / f"{config.stack_name(region)}.template.json").read_text())
        )
        for region in config.regions
    ]
    return Traced(templates, nag_failure)


def test_switches_for_logs_and_traces_pass_cdk_nag(traced: Traced) -> None:
    """GIVEN apiLogLevel ALL and xray on WHEN synthesized with cdk-nag THEN no finding blocks
    the synth: an operator can turn tracing on for a stage and deploy it."""
    assert traced.nag_failure is None, traced.nag_failure


def test_switches_turn_on_full_field_logs_and_api_traces(traced: Traced) -> None:
    """GIVEN apiLogLevel ALL and xray on WHEN synthesized THEN every API logs every field
    and sends traces to X-Ray."""
    for template in traced.templates:
        template.has_resource_properties(
            GRAPHQL_API,
            {"XrayEnabled": True, "LogConfig": Match.object_like({"FieldLogLevel": "ALL"})},
        )


def test_xray_switch_traces_both_lambdas(traced: Traced) -> None:
    """GIVEN xray on WHEN synthesized THEN both Lambdas trace actively, may send segments,
    and Powertools' tracer is not told to stay off."""
    for template in traced.templates:
        for handler in (bundle.RESOLVER_HANDLER, bundle.STREAM_HANDLER):
            template.has_resource_properties(
                FUNCTION,
                {
                    "Handler": handler,
                    "TracingConfig": {"Mode": "Active"},
                    "Environment": {
                        "Variables": Match.object_like({"POWERTOOLS_TRACE_DISABLED": "false"})
                    },
                },
            )
            function, _ = the_one(template, FUNCTION, {"Handler": handler})
            actions = {
                action
                for statement in role_statements(template, function)
                for action in listed(statement["Action"])
            }
            assert {"xray:PutTraceSegments", "xray:PutTelemetryRecords"} <= actions, handler


def test_one_anonymous_token_works_in_every_region(synthesized: Synthesized) -> None:
    """GIVEN a deployment WHEN synthesized THEN no region's anonymous path rests on a value
    AppSync generates for that region alone (an API key): every API authorizes anonymous
    reads with its own region's authorizer function, which reads the accepted tokens from
    one secret, created in the primary and replicated to every other region; so the one
    token a client holds works wherever latency or a failover routes it."""
    config = synthesized.config
    secret_names = set()
    for region in config.regions:
        template = synthesized.region(region)
        template.resource_count_is("AWS::AppSync::ApiKey", 0)
        _, api = the_one(template, GRAPHQL_API)
        modes = _modes(api)

        assert "API_KEY" not in modes, region
        authorizer = function_id(template, bundle.AUTHORIZER_HANDLER)
        config_of_lambda = modes["AWS_LAMBDA"]["LambdaAuthorizerConfig"]
        assert config_of_lambda["AuthorizerUri"] == {"Fn::GetAtt": [authorizer, "Arn"]}, region
        variables = resources(template, FUNCTION)[authorizer]["Properties"]["Environment"]
        secret_names.add(variables["Variables"][CLIENT_TOKEN_SECRET_VARIABLE])

    assert secret_names == {config.resource_name(CLIENT_TOKEN_SECRET)}
    _, secret = the_one(
        synthesized.region(config.primary),
        "AWS::SecretsManager::Secret",
        {"Name": config.resource_name(CLIENT_TOKEN_SECRET)},
    )
    replicas = [replica["Region"] for replica in secret["Properties"].get("ReplicaRegions", [])]
    assert sorted(replicas) == sorted(config.replicas)


def _modes(api: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every auth provider of an API, the default one included, by type."""
    properties = api["Properties"]
    modes = {
        provider["AuthenticationType"]: provider
        for provider in properties.get("AdditionalAuthenticationProviders", [])
    }
    default = {key: value for key, value in properties.items() if key.endswith("Config")}
    modes[properties["AuthenticationType"]] = {
        "AuthenticationType": properties["AuthenticationType"],
        **default,
    }
    return modes
