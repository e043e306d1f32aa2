"""The stream consumer of every region: which records it gets, how it fails, what it may call."""

from __future__ import annotations

import json

from aws_cdk.assertions import Capture, Template

from infra import bundle
from infra.api import SCHEMA_FILE
from infra.projections import BATCH_SIZE, MAX_RECORD_AGE, RETRY_ATTEMPTS
from infra.resolvers import plan_fields
from projections import keys
from tests.infra.conftest import Synthesized
from tests.infra.test_templates import (
    ACCOUNT,
    FUNCTION,
    GLOBAL_TABLE,
    PARTITION,
    allowed,
    function_id,
    listed,
    render,
    role_statements,
    the_one,
)

MAPPING = "AWS::Lambda::EventSourceMapping"
STREAM_READ = "dynamodb:GetRecords"


def _mapping(template: Template) -> dict[str, object]:
    template.resource_count_is(MAPPING, 1)
    _, mapping = the_one(template, MAPPING)
    properties: dict[str, object] = mapping["Properties"]
    return properties


def test_stream_consumer_gets_inserted_and_modified_event_items(synthesized: Synthesized) -> None:
    """GIVEN the write table's stream WHEN synthesized THEN each region's mapping passes
    INSERTs and MODIFYs whose new image is an event item or a region's heartbeat (which
    the handler measures), and nothing else: aggregate states and the control record
    never reach the handler, while an event item rewritten after a forced failover (the
    same key written in two regions, the later write replicating as a MODIFY) is still
    projected (the builders apply each version once), and a heartbeat, one item
    rewritten at each beat, reaches it at every beat."""
    for region in synthesized.config.regions:
        pattern = Capture()
        synthesized.region(region).has_resource_properties(
            MAPPING, {"FilterCriteria": {"Filters": [{"Pattern": pattern}]}}
        )

        assert json.loads(pattern.as_string()) == {
            "eventName": ["INSERT", "MODIFY"],
            "dynamodb": {
                "NewImage": {keys.RECORD_KIND: {"S": [keys.EVENT_RECORD, keys.HEARTBEAT_RECORD]}}
            },
        }, region


def test_stream_consumer_retries_splits_and_dead_letters_a_bad_record(
    synthesized: Synthesized,
) -> None:
    """GIVEN a record the handler cannot apply WHEN it fails THEN the mapping reports item
    failures, bisects the batch, retries a bounded number of times for a bounded age, and
    then sends it to the region's dead-letter queue."""
    for region in synthesized.config.regions:
        template = synthesized.region(region)
        queue, _ = the_one(template, "AWS::SQS::Queue")
        function = function_id(template, bundle.STREAM_HANDLER)
        mapping = _mapping(template)

        assert mapping["FunctionName"] == {"Ref": function}, region
        assert mapping["BatchSize"] == BATCH_SIZE, region
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"], region
        assert mapping["BisectBatchOnFunctionError"] is True, region
        assert mapping["MaximumRetryAttempts"] == RETRY_ATTEMPTS, region
        assert mapping["MaximumRecordAgeInSeconds"] == MAX_RECORD_AGE.to_seconds(), region
        assert mapping["DestinationConfig"] == {
            "OnFailure": {"Destination": {"Fn::GetAtt": [queue, "Arn"]}}
        }, region
        assert f"${{{queue}.Arn}}" in allowed(
            role_statements(template, function), "sqs:SendMessage"
        ), region


def test_primary_consumes_the_global_tables_own_stream(synthesized: Synthesized) -> None:
    """GIVEN the primary's stack owns the global table WHEN synthesized THEN its consumer
    reads that table's stream in its region, and may read it."""
    template = synthesized.region(synthesized.config.primary)
    table, _ = the_one(template, GLOBAL_TABLE)
    stream = {"Fn::GetAtt": [table, "StreamArn"]}
    statements = role_statements(template, function_id(template, bundle.STREAM_HANDLER))

    assert _mapping(template)["EventSourceArn"] == stream
    assert allowed(statements, STREAM_READ) >= {render(stream)}


def test_replica_consumes_its_local_replicas_stream(synthesized: Synthesized) -> None:
    """GIVEN a replica region WHEN synthesized THEN its consumer reads the stream of its own
    replica of the write table, which a describeTable lookup finds at deploy time."""
    config = synthesized.config
    for region in config.replicas:
        template = synthesized.region(region)
        lookup, resource = the_one(template, "Custom::AWS")
        statements = role_statements(template, function_id(template, bundle.STREAM_HANDLER))
        stream = {"Fn::GetAtt": [lookup, "Table.LatestStreamArn"]}

        for phase in ("Create", "Update"):
            call = json.loads(resource["Properties"][phase])
            assert call["service"] == "DynamoDB", (region, phase)
            assert call["action"] == "describeTable", (region, phase)
            assert call["parameters"] == {"TableName": config.resource_name(keys.WRITE_TABLE)}
            assert "Table.LatestStreamArn" in call["outputPaths"], (region, phase)
        assert _mapping(template)["EventSourceArn"] == stream, region
        assert allowed(statements, STREAM_READ) >= {render(stream)}, region


def test_stream_function_may_call_only_the_publish_mutations(synthesized: Synthesized) -> None:
    """GIVEN the stream handler signs its publish calls WHEN synthesized THEN its role allows
    appsync:GraphQL on exactly each publish mutation of its own region's API, and on no other
    field, type or API."""
    publish = plan_fields(SCHEMA_FILE.read_text()).publish_fields
    for region in synthesized.config.regions:
        template = synthesized.region(region)
        api, _ = the_one(template, "AWS::AppSync::GraphQLApi")
        statements = role_statements(template, function_id(template, bundle.STREAM_HANDLER))
        expected = {
            f"arn:{PARTITION}:appsync:{region}:{ACCOUNT}:apis/${{{api}.ApiId}}"
            f"/types/{address.replace('.', '/fields/')}"
            for address in publish
        }
        appsync_statements = [
            statement
            for statement in statements
            if any(a.startswith("appsync:") or a == "*" for a in listed(statement["Action"]))
        ]

        assert all(listed(s["Action"]) == ["appsync:GraphQL"] for s in appsync_statements)
        assert allowed(appsync_statements, "appsync:GraphQL") == expected, region


def test_stream_function_publishes_to_its_own_regions_api(synthesized: Synthesized) -> None:
    """GIVEN subscribers connect to their region's API WHEN synthesized THEN each stream
    function publishes to the GraphQL URL of the API in its own stack."""
    for region in synthesized.config.regions:
        template = synthesized.region(region)
        api, _ = the_one(template, "AWS::AppSync::GraphQLApi")
        _, function = the_one(template, FUNCTION, {"Handler": bundle.STREAM_HANDLER})

        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["GATEWAY_APPSYNC_URL"] == {"Fn::GetAtt": [api, "GraphQLUrl"]}, region
