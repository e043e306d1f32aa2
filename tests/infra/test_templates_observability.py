"""The alarms of every region, and where they page an operator."""

from __future__ import annotations

from aws_cdk.assertions import Template

from infra import bundle
from infra.observability import (
    PROJECTION_LAG_ALARM,
    REPLICATION_LATENCY_ALARM,
    RESOLVER_ERROR_PERCENT,
)
from projections import keys
from tests.infra.conftest import Synthesized
from tests.infra.test_templates import Resource, function_id, listed, resources, the_one

ALARM = "AWS::CloudWatch::Alarm"


def _topic(template: Template) -> str:
    topic, _ = the_one(template, "AWS::SNS::Topic")
    return topic


def test_every_region_alarms_when_projections_trail(synthesized: Synthesized) -> None:
    """GIVEN the stream consumer falls behind WHEN its iterator age passes the threshold
    THEN the region's projection-lag alarm fires."""
    for region in synthesized.config.regions:
        template = synthesized.region(region)
        consumer = function_id(template, bundle.STREAM_HANDLER)

        template.has_resource_properties(
            ALARM,
            {
                "Namespace": "AWS/Lambda",
                "MetricName": "IteratorAge",
                "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": consumer}}],
                "Threshold": PROJECTION_LAG_ALARM.to_milliseconds(),
                "ComparisonOperator": "GreaterThanThreshold",
            },
        )


def test_every_region_alarms_on_replication_to_each_other_region(
    synthesized: Synthesized,
) -> None:
    """GIVEN writes replicate from a region to the others WHEN replication to one of them
    lags THEN that region's alarm for that receiving region fires: one per other region."""
    config = synthesized.config
    for region in config.regions:
        alarms = resources(
            synthesized.region(region),
            ALARM,
            {"Namespace": "AWS/DynamoDB", "MetricName": "ReplicationLatency"},
        )
        dimensions = [
            {d["Name"]: d["Value"] for d in alarm["Properties"]["Dimensions"]}
            for alarm in alarms.values()
        ]

        others = sorted(set(config.regions) - {region})
        assert sorted(d["ReceivingRegion"] for d in dimensions) == others, region
        assert {d["TableName"] for d in dimensions} == {config.resource_name(keys.WRITE_TABLE)}
        assert {a["Properties"]["Threshold"] for a in alarms.values()} == {
            REPLICATION_LATENCY_ALARM.to_milliseconds()
        }, region


def test_every_region_alarms_on_any_dead_letter(synthesized: Synthesized) -> None:
    """GIVEN a stream record the consumer gave up on WHEN it sits in the dead-letter queue
    THEN the region's alarm fires on a single visible message."""
    for region in synthesized.config.regions:
        template = synthesized.region(region)
        queue, _ = the_one(template, "AWS::SQS::Queue")

        template.has_resource_properties(
            ALARM,
            {
                "Namespace": "AWS/SQS",
                "MetricName": "ApproximateNumberOfMessagesVisible",
                "Dimensions": [
                    {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}
                ],
                "Threshold": 0,
                "ComparisonOperator": "GreaterThanThreshold",
            },
        )


def test_every_region_alarms_on_the_share_of_failed_resolver_calls(
    synthesized: Synthesized,
) -> None:
    """GIVEN resolver invocations fail WHEN their share passes the threshold THEN the
    region's metric-math alarm over the resolver's Errors and Invocations fires."""
    for region in synthesized.config.regions:
        template = synthesized.region(region)
        resolver = function_id(template, bundle.RESOLVER_HANDLER)
        _, alarm = the_one(template, ALARM, {"Threshold": RESOLVER_ERROR_PERCENT})
        metrics: list[Resource] = alarm["Properties"]["Metrics"]

        expressions = [m for m in metrics if "Expression" in m]
        stats = {m["MetricStat"]["Metric"]["MetricName"]: m for m in metrics if "MetricStat" in m}
        assert len(expressions) == 1 and expressions[0]["ReturnData"] is True, region
        assert sorted(stats) == ["Errors", "Invocations"], region
        for name, metric in stats.items():
            assert metric["MetricStat"]["Metric"]["Namespace"] == "AWS/Lambda", name
            assert metric["MetricStat"]["Metric"]["Dimensions"] == [
                {"Name": "FunctionName", "Value": {"Ref": resolver}}
            ], name
            assert metric["Id"] in expressions[0]["Expression"], name


def test_every_alarm_notifies_the_regions_alarm_topic(synthesized: Synthesized) -> None:
    """GIVEN any alarm of a region WHEN it fires THEN it notifies that region's SNS topic, so
    no alarm goes off without paging an operator."""
    for region in synthesized.config.regions:
        template = synthesized.region(region)
        topic = {"Ref": _topic(template)}

        silent = sorted(
            name
            for name, alarm in resources(template, ALARM).items()
            if topic not in alarm["Properties"].get("AlarmActions", [])
        )
        assert silent == [], f"{region}: alarms that page no one"


def test_cloudwatch_can_publish_to_the_encrypted_alarm_topic(synthesized: Synthesized) -> None:
    """GIVEN the alarm topic is encrypted WHEN an alarm fires THEN CloudWatch can publish to
    it: the topic's key is one of ours whose policy lets CloudWatch make and use data
    keys. The AWS-managed alias/aws/sns key cannot be used by CloudWatch, so alarm actions
    on a topic encrypted with it fail."""
    for region in synthesized.config.regions:
        template = synthesized.region(region)
        _, topic = the_one(template, "AWS::SNS::Topic")
        key_ref = topic["Properties"]["KmsMasterKeyId"]
        assert key_ref != "alias/aws/sns", region
        key_id = key_ref["Fn::GetAtt"][0]
        key = resources(template, "AWS::KMS::Key")[key_id]
        assert key["Properties"]["EnableKeyRotation"] is True, region
        cloudwatch = [
            statement
            for statement in key["Properties"]["KeyPolicy"]["Statement"]
            if statement.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
            and statement["Effect"] == "Allow"
        ]
        allowed = {action for statement in cloudwatch for action in listed(statement["Action"])}
        assert {"kms:Decrypt", "kms:GenerateDataKey*"} <= allowed, region
