"""The stacks' outputs: what `gateway --stage` reads to find each region's resources.

Each output must name the very resource the runtime uses (the stream the consumer
reads, the queue its mapping dead-letters to, the alarm on that queue...), or an
operator's command would act on the wrong thing.
"""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Template

from infra import bundle, outputs
from projections import keys
from tests.infra.conftest import Synthesized
from tests.infra.test_templates import GLOBAL_TABLE, TABLE, function_id, resources, the_one

MAPPING = "AWS::Lambda::EventSourceMapping"
API = "AWS::AppSync::GraphQLApi"


def _values(template: Template) -> dict[str, Any]:
    return {name: output["Value"] for name, output in template.find_outputs("*").items()}


def test_every_region_names_its_tables_stream_queue_and_endpoints(
    synthesized: Synthesized,
) -> None:
    """GIVEN a deployment WHEN synthesized THEN each region's stack outputs every name the
    operator's tools need, each pointing at the resource the runtime uses there: the write
    table's name, the stream its consumer reads, its projection table, the queue its
    mapping dead-letters to, its API's URLs, its consumer, its alarm topic and the alarm
    on its dead letters, and the user pool its API trusts."""
    config = synthesized.config
    for region in config.regions:
        template = synthesized.region(region)
        values = _values(template)
        _, mapping = the_one(template, MAPPING)
        projection_table, _ = the_one(template, TABLE)
        queue, _ = the_one(template, "AWS::SQS::Queue")
        api, api_resource = the_one(template, API)
        topic, _ = the_one(template, "AWS::SNS::Topic")
        alarms = resources(
            template, "AWS::CloudWatch::Alarm", {"MetricName": "ApproximateNumberOfMessagesVisible"}
        )
        providers = api_resource["Properties"].get("AdditionalAuthenticationProviders", [])
        pools = [p["UserPoolConfig"]["UserPoolId"] for p in providers if "UserPoolConfig" in p]

        assert set(outputs.REQUIRED) <= set(values), region
        assert values[outputs.STAGE] == config.stage
        assert values[outputs.REGION] == region
        assert values[outputs.PRIMARY_REGION] == config.primary
        assert values[outputs.REGIONS] == ",".join(config.regions)
        assert values[outputs.WRITE_TABLE] == config.resource_name(keys.WRITE_TABLE)
        assert values[outputs.WRITE_STREAM_ARN] == mapping["Properties"]["EventSourceArn"]
        assert values[outputs.PROJECTION_TABLE] == {"Ref": projection_table}
        assert values[outputs.DEAD_LETTER_QUEUE_URL] == {"Ref": queue}
        assert values[outputs.GRAPHQL_URL] == {"Fn::GetAtt": [api, "GraphQLUrl"]}
        assert values[outputs.REALTIME_URL] == {"Fn::GetAtt": [api, "RealtimeUrl"]}
        assert values[outputs.API_ID] == {"Fn::GetAtt": [api, "ApiId"]}
        assert values[outputs.STREAM_CONSUMER] == mapping["Properties"]["FunctionName"]
        assert values[outputs.STREAM_CONSUMER] == {
            "Ref": function_id(template, bundle.STREAM_HANDLER)
        }
        assert values[outputs.ALARM_TOPIC_ARN] == {"Ref": topic}
        assert [{"Ref": alarm} for alarm in alarms] == [values[outputs.DEAD_LETTER_ALARM]]
        assert pools == [values[outputs.USER_POOL_ID]], region


def test_the_primary_names_the_global_tables_own_stream(synthesized: Synthesized) -> None:
    """GIVEN the primary's stack owns the global table THEN the stream it names is that
    table's, the one the primary's consumer reads."""
    template = synthesized.region(synthesized.config.primary)
    table, _ = the_one(template, GLOBAL_TABLE)

    assert _values(template)[outputs.WRITE_STREAM_ARN] == {"Fn::GetAtt": [table, "StreamArn"]}


def test_the_stack_names_the_tools_read_are_the_apps(synthesized: Synthesized) -> None:
    """GIVEN a stage WHEN synthesized THEN its stacks are named as the tools look them up,
    and the edge stack names the public URL for HTTP and for subscriptions."""
    config = synthesized.config
    expected = {outputs.region_stack(config.stage, region) for region in config.regions}

    assert set(synthesized.templates) == expected | {outputs.edge_stack(config.stage)}
    edge = _values(synthesized.edge)
    assert edge[outputs.PUBLIC_URL] == f"https://{config.domain_name}/graphql"
    assert edge[outputs.PUBLIC_REALTIME_URL] == f"wss://{config.domain_name}/graphql/realtime"
