"""The health signals: each region's read canary and heartbeat, and their alarms."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Template

from domain import records
from infra import bundle, observability
from infra.config import CLIENT_TOKEN_SECRET
from infra.observability import (
    CANARY_SERVICE,
    CANARY_SUCCESS,
    HEARTBEAT_AGE,
    HEARTBEAT_AGE_ALARM,
    METRICS_NAMESPACE,
    SOURCE_REGION,
    STREAM_SERVICE,
)
from infra.thresholds import HEALTH_DATAPOINTS_TO_ALARM, HEALTH_EVALUATION_PERIODS
from projections import heartbeat, stream
from projections import observability as runtime_metrics
from projections.settings import CLIENT_TOKEN_SECRET_VARIABLE
from resolvers import canary
from tests.infra.conftest import Synthesized
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
    write_table_arn,
)

ALARM = "AWS::CloudWatch::Alarm"
RULE = "AWS::Events::Rule"
EVERY_MINUTE = "rate(1 minute)"


def _variables(template: Template, handler: str) -> dict[str, Any]:
    _, function = the_one(template, FUNCTION, {"Handler": handler})
    variables: dict[str, Any] = function["Properties"]["Environment"]["Variables"]
    return variables


def _runs_every_minute(template: Template, function: str) -> None:
    """One enabled rule invokes ``function`` each minute, and may."""
    targets = [
        rule
        for rule in resources(template, RULE, {"ScheduleExpression": EVERY_MINUTE}).values()
        if any(
            target["Arn"] == {"Fn::GetAtt": [function, "Arn"]}
            for target in rule["Properties"]["Targets"]
        )
    ]
    assert len(targets) == 1
    assert targets[0]["Properties"]["State"] == "ENABLED"
    template.has_resource_properties(
        "AWS::Lambda::Permission",
        {
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Fn::GetAtt": [function, "Arn"]},
            "Principal": "events.amazonaws.com",
        },
    )


def _health_alarm(alarm: dict[str, Any]) -> None:
    """Two bad minutes of three fire it, and a minute without data is a bad one."""
    properties = alarm["Properties"]
    assert properties["Period"] == 60
    assert properties["EvaluationPeriods"] == HEALTH_EVALUATION_PERIODS
    assert properties["DatapointsToAlarm"] == HEALTH_DATAPOINTS_TO_ALARM
    assert properties["TreatMissingData"] == "breaching"


def test_every_region_reads_itself_each_minute_as_an_anonymous_client(
    synthesized: Synthesized,
) -> None:
    """GIVEN a region WHEN synthesized THEN its read canary runs each minute against its
    own API's URL, as the Powertools service its metric names, reading the public client
    token from its own replica of the client-token secret, by name, as the authorizer
    does."""
    config = synthesized.config
    name = config.resource_name(CLIENT_TOKEN_SECRET)
    for region in config.regions:
        template = synthesized.region(region)
        api, _ = the_one(template, "AWS::AppSync::GraphQLApi")
        canary = function_id(template, bundle.CANARY_HANDLER)
        variables = _variables(template, bundle.CANARY_HANDLER)
        readable = allowed(role_statements(template, canary), "secretsmanager:GetSecretValue")

        assert variables["GATEWAY_APPSYNC_URL"] == {"Fn::GetAtt": [api, "GraphQLUrl"]}, region
        assert variables[CLIENT_TOKEN_SECRET_VARIABLE] == name, region
        assert variables["POWERTOOLS_SERVICE_NAME"] == CANARY_SERVICE
        assert readable, region
        assert all(
            resource.startswith(f"arn:{PARTITION}:secretsmanager:{region}:{ACCOUNT}:secret:{name}")
            or resource.startswith("${")
            for resource in readable
        ), (region, readable)
        _runs_every_minute(template, canary)


def test_every_region_alarms_when_its_canary_fails_or_goes_silent(
    synthesized: Synthesized,
) -> None:
    """GIVEN the canary's verdict, 1 or 0 WHEN its minimum drops below 1 in 2 of 3
    minutes, or no verdict arrives THEN the region's canary alarm fires and pages."""
    for region in synthesized.config.regions:
        template = synthesized.region(region)
        topic, _ = the_one(template, "AWS::SNS::Topic")
        _, alarm = the_one(
            template, ALARM, {"Namespace": METRICS_NAMESPACE, "MetricName": CANARY_SUCCESS}
        )
        properties = alarm["Properties"]

        assert properties["Dimensions"] == [{"Name": "service", "Value": CANARY_SERVICE}]
        assert properties["Statistic"] == "Minimum"
        assert (properties["ComparisonOperator"], properties["Threshold"]) == (
            "LessThanThreshold",
            1,
        )
        assert properties["AlarmActions"] == [{"Ref": topic}]
        _health_alarm(alarm)


def test_every_region_writes_only_its_own_heartbeat_each_minute(
    synthesized: Synthesized,
) -> None:
    """GIVEN a region WHEN synthesized THEN its heartbeat writer runs each minute and may
    put one thing: its own region's heartbeat item, in its own replica of the write table."""
    config = synthesized.config
    table = config.resource_name(records.WRITE_TABLE)
    for region in config.regions:
        template = synthesized.region(region)
        writer = function_id(template, bundle.HEARTBEAT_HANDLER)
        statements = [
            statement
            for statement in role_statements(template, writer)
            if any(action.startswith("dynamodb:") for action in listed(statement["Action"]))
        ]

        assert _variables(template, bundle.HEARTBEAT_HANDLER)["GATEWAY_WRITE_TABLE"] == table
        assert [listed(statement["Action"]) for statement in statements] == [["dynamodb:PutItem"]]
        assert allowed(statements, "dynamodb:PutItem") == {write_table_arn(region, table)}
        assert statements[0]["Condition"] == {
            "ForAllValues:StringEquals": {
                "dynamodb:LeadingKeys": [records.heartbeat_key(region)[records.PARTITION_KEY]]
            }
        }
        _runs_every_minute(template, writer)


def test_every_region_alarms_on_each_regions_heartbeat_age(synthesized: Synthesized) -> None:
    """GIVEN every region's heartbeat reaches every region's stream handler WHEN one
    arrives over a minute late, or none arrives THEN that region's alarm for that source
    fires: one alarm per source region, this region's own included (its stream)."""
    config = synthesized.config
    for region in config.regions:
        template = synthesized.region(region)
        alarms = resources(
            template, ALARM, {"Namespace": METRICS_NAMESPACE, "MetricName": HEARTBEAT_AGE}
        )
        sources = []
        for alarm in alarms.values():
            properties = alarm["Properties"]
            dimensions = {d["Name"]: d["Value"] for d in properties["Dimensions"]}
            sources.append(dimensions[SOURCE_REGION])
            assert dimensions["service"] == STREAM_SERVICE
            assert properties["Statistic"] == "Maximum"
            assert properties["Threshold"] == HEARTBEAT_AGE_ALARM.to_milliseconds()
            assert properties["ComparisonOperator"] == "GreaterThanThreshold"
            _health_alarm(alarm)

        assert sorted(sources) == sorted(config.regions), region


def test_the_metric_names_the_alarms_watch_are_those_the_lambdas_put() -> None:
    """GIVEN the alarms and the Lambdas name the same metrics in two places (infra may
    not import the runtime) THEN the names and services agree, or the alarms would watch
    metrics nobody puts and, missing data breaching, fire for ever."""
    assert (CANARY_SUCCESS, HEARTBEAT_AGE, SOURCE_REGION) == (
        runtime_metrics.CANARY_SUCCESS,
        runtime_metrics.HEARTBEAT_AGE,
        runtime_metrics.SOURCE_REGION,
    )
    assert (CANARY_SERVICE, STREAM_SERVICE) == (canary.SERVICE, stream.SERVICE)
    assert f"{canary.__name__}.{canary.handler.__name__}" == bundle.CANARY_HANDLER
    assert f"{heartbeat.__name__}.{heartbeat.handler.__name__}" == bundle.HEARTBEAT_HANDLER
    assert observability.METRICS_NAMESPACE == runtime_metrics.DEFAULT_METRICS_NAMESPACE
