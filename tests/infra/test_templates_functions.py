"""Both Lambdas: handler, runtime, the settings they parse, and the write table they reach."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from domain.records import CONTROL_PARTITION_KEY
from infra import bundle
from infra.config import PAGE_TOKEN_SECRET
from infra.observability import METRICS_NAMESPACE
from infra.resolvers import CONTROL_WRITES
from projections import keys
from projections.settings import PAGE_TOKEN_SECRET_VARIABLE, Settings
from tests.infra.conftest import Synthesized
from tests.infra.test_templates import (
    ACCOUNT,
    FUNCTION,
    PARTITION,
    TABLE,
    allowed,
    function_id,
    listed,
    render,
    resources,
    role_statements,
    the_one,
    write_table_arn,
)

# (handler, Powertools service name): the service name is what logs and metrics group by.
FUNCTIONS = [
    (bundle.RESOLVER_HANDLER, "gateway-resolvers"),
    (bundle.STREAM_HANDLER, "gateway-projections"),
]


def _variables(template: Template, handler: str) -> dict[str, Any]:
    _, function = the_one(template, FUNCTION, {"Handler": handler})
    variables: dict[str, Any] = function["Properties"]["Environment"]["Variables"]
    return variables


@pytest.mark.parametrize(("handler", "service"), FUNCTIONS)
def test_both_functions_run_the_bundle_on_python_3_14_with_powertools_settings(
    synthesized: Synthesized, handler: str, service: str
) -> None:
    """GIVEN a deployment WHEN synthesized THEN each region runs the function on python3.14
    with its Powertools service, log level and metrics namespace, and the gateway's tables."""
    config = synthesized.config
    for region in config.regions:
        template = synthesized.region(region)
        projections, _ = the_one(template, TABLE)
        template.has_resource_properties(
            FUNCTION,
            {
                "Handler": handler,
                "Runtime": "python3.14",
                "Environment": {
                    "Variables": Match.object_like(
                        {
                            "POWERTOOLS_SERVICE_NAME": service,
                            "POWERTOOLS_LOG_LEVEL": config.log_level,
                            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                            "POWERTOOLS_TRACE_DISABLED": "true",
                            "GATEWAY_PRIMARY_REGION": config.primary,
                            "GATEWAY_WRITE_TABLE": config.resource_name(keys.WRITE_TABLE),
                            "GATEWAY_PROJECTION_TABLE": {"Ref": projections},
                        }
                    )
                },
            },
        )


@pytest.mark.parametrize("handler", [handler for handler, _ in FUNCTIONS])
def test_the_runtime_settings_parse_what_the_stack_sets(
    synthesized: Synthesized, handler: str
) -> None:
    """GIVEN a function's environment WHEN the runtime parses it THEN it finds the deployed
    write table and primary, not its local defaults: the variable names agree."""
    config = synthesized.config
    for region in config.regions:
        variables = _variables(synthesized.region(region), handler)
        literal = {name: value for name, value in variables.items() if isinstance(value, str)}

        settings = Settings.from_env({**literal, "AWS_REGION": region})

        assert settings.region == region
        assert settings.primary_region == config.primary
        assert settings.write_table == config.resource_name(keys.WRITE_TABLE)
        # Each region reads every other region's copy of the control record as well.
        assert set(settings.peer_regions) == set(config.regions) - {region}


def test_resolver_function_may_write_the_write_table_in_every_region(
    synthesized: Synthesized,
) -> None:
    """GIVEN the primary may move to any region WHEN synthesized THEN each region's resolver
    function may put (transact) items into, and read through to, every region's write table."""
    config = synthesized.config
    table = config.resource_name(keys.WRITE_TABLE)
    every_region = {write_table_arn(region, table) for region in config.regions}
    for region in config.regions:
        template = synthesized.region(region)
        statements = role_statements(template, function_id(template, bundle.RESOLVER_HANDLER))

        for action in ("dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:BatchGetItem"):
            assert every_region <= allowed(statements, action), f"{region}: {action}"


def test_resolver_function_reads_the_control_record_in_its_own_region(
    synthesized: Synthesized,
) -> None:
    """GIVEN the control record (primary region, write mode) lives in the write table WHEN
    synthesized THEN each region's resolver may read its own region's replica, so an
    operator moves the primary or pauses writes without a redeploy."""
    config = synthesized.config
    table = config.resource_name(keys.WRITE_TABLE)
    for region in config.regions:
        template = synthesized.region(region)
        statements = role_statements(template, function_id(template, bundle.RESOLVER_HANDLER))

        assert write_table_arn(region, table) in allowed(statements, "dynamodb:GetItem"), region


def test_resolver_function_may_not_write_the_control_record(synthesized: Synthesized) -> None:
    """GIVEN the control record names the primary and pauses writes WHEN synthesized THEN
    each region's resolver role denies every item write whose partition key is CONTROL,
    in every region's write table: only an operator moves the primary, and a resolver
    bug or a crafted id cannot. Reading it, and checking it in a transaction (the
    epoch fence), stay allowed."""
    config = synthesized.config
    table = config.resource_name(keys.WRITE_TABLE)
    every_region = sorted(write_table_arn(region, table) for region in config.regions)
    for region in config.regions:
        template = synthesized.region(region)
        statements = role_statements(template, function_id(template, bundle.RESOLVER_HANDLER))
        denials = [statement for statement in statements if statement["Effect"] == "Deny"]

        assert [
            {
                "Action": sorted(listed(statement["Action"])),
                "Resource": sorted(render(resource) for resource in listed(statement["Resource"])),
                "Condition": statement.get("Condition"),
            }
            for statement in denials
        ] == [
            {
                "Action": sorted(CONTROL_WRITES),
                "Resource": every_region,
                "Condition": {
                    "ForAnyValue:StringEquals": {"dynamodb:LeadingKeys": [CONTROL_PARTITION_KEY]}
                },
            }
        ], region
        assert write_table_arn(region, table) in allowed(statements, "dynamodb:GetItem"), region
        assert write_table_arn(region, table) in allowed(
            statements, "dynamodb:ConditionCheckItem"
        ), region


def test_resolver_function_reads_the_page_token_key_at_run_time(
    synthesized: Synthesized,
) -> None:
    """GIVEN the page-token key lives in a replicated secret WHEN synthesized THEN no
    function's environment holds its value (a deploy-time copy never sees a rotation, and
    regions deployed at different times would disagree): each region's resolver names the
    secret, may read its own region's replica, and, in the primary, is created only after
    the secret exists."""
    config = synthesized.config
    name = config.resource_name(PAGE_TOKEN_SECRET)
    for region in config.regions:
        template = synthesized.region(region)
        resolver = function_id(template, bundle.RESOLVER_HANDLER)
        functions = resources(template, FUNCTION)
        variables = functions[resolver]["Properties"]["Environment"]["Variables"]

        assert "resolve:secretsmanager" not in json.dumps(functions), region
        assert variables[PAGE_TOKEN_SECRET_VARIABLE] == name, region
        readable = allowed(role_statements(template, resolver), "secretsmanager:GetSecretValue")
        assert readable, region
        assert all(
            resource.startswith(f"arn:{PARTITION}:secretsmanager:{region}:{ACCOUNT}:secret:{name}")
            or resource.startswith("${")
            for resource in readable
        ), (region, readable)

    primary = synthesized.region(config.primary)
    secret, _ = the_one(primary, "AWS::SecretsManager::Secret", {"Name": name})
    resolver = resources(primary, FUNCTION)[function_id(primary, bundle.RESOLVER_HANDLER)]
    assert secret in resolver.get("DependsOn", [])
