"""A stage deployed to moto: each region's stack made by moto's CloudFormation from a
template whose outputs name its tables, queue and secret, as infra's stacks name theirs
(:mod:`infra.outputs`), so ``gateway --stage`` finds them as it would on AWS.

AppSync and Lambda are not in moto: their outputs name addresses nothing serves; the
tests drive the regions' handlers in-process (tests/integration/conftest.py).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3

from infra import outputs
from projections import keys
from projections.settings import Settings

STAGE = "test"
# What the stage's client-token secret holds while a token is rotated: newest first.
CLIENT_TOKENS = ["newPublicClientToken0000000000000001", "oldPublicClientToken0000000000000001"]


def template(stage: str, region: str, regions: tuple[str, ...]) -> dict[str, Any]:
    """One region's stack: the write table (its replica), the projection table, the
    dead-letter queue, the alarm topic, and the outputs the tools read."""
    key_schema = [
        {"AttributeName": keys.PARTITION_KEY, "KeyType": "HASH"},
        {"AttributeName": keys.SORT_KEY, "KeyType": "RANGE"},
    ]
    index_attributes = sorted({name for pair in keys.INDEXES.values() for name in pair})
    api = f"https://{region}api.appsync-api.{region}.amazonaws.com/graphql"
    realtime = f"wss://{region}api.appsync-realtime-api.{region}.amazonaws.com/graphql"
    return {
        "Resources": {
            "WriteTable": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "TableName": f"{keys.WRITE_TABLE}-{stage}",
                    "KeySchema": key_schema,
                    "AttributeDefinitions": _strings(keys.PARTITION_KEY, keys.SORT_KEY),
                    "BillingMode": "PAY_PER_REQUEST",
                    "StreamSpecification": {"StreamViewType": "NEW_IMAGE"},
                },
            },
            "Projections": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "TableName": f"{keys.PROJECTION_TABLE}-{stage}",
                    "KeySchema": key_schema,
                    "AttributeDefinitions": _strings(
                        keys.PARTITION_KEY, keys.SORT_KEY, *index_attributes
                    ),
                    "BillingMode": "PAY_PER_REQUEST",
                    "GlobalSecondaryIndexes": [
                        {
                            "IndexName": index,
                            "KeySchema": [
                                {"AttributeName": partition, "KeyType": "HASH"},
                                {"AttributeName": sort, "KeyType": "RANGE"},
                            ],
                            "Projection": {"ProjectionType": "ALL"},
                        }
                        for index, (partition, sort) in keys.INDEXES.items()
                    ],
                },
            },
            "DeadLetters": {"Type": "AWS::SQS::Queue", "Properties": {}},
            "AlarmTopic": {"Type": "AWS::SNS::Topic", "Properties": {}},
        },
        "Outputs": {
            name: {"Value": value}
            for name, value in {
                outputs.STAGE: stage,
                outputs.REGION: {"Ref": "AWS::Region"},
                outputs.PRIMARY_REGION: regions[0],
                outputs.REGIONS: ",".join(regions),
                outputs.WRITE_TABLE: {"Ref": "WriteTable"},
                outputs.WRITE_STREAM_ARN: {"Fn::GetAtt": ["WriteTable", "StreamArn"]},
                outputs.PROJECTION_TABLE: {"Ref": "Projections"},
                outputs.DEAD_LETTER_QUEUE_URL: {"Ref": "DeadLetters"},
                outputs.GRAPHQL_URL: api,
                outputs.REALTIME_URL: realtime,
                outputs.STREAM_CONSUMER: f"Gateway-{stage}-{region}-StreamConsumer",
                outputs.ALARM_TOPIC_ARN: {"Ref": "AlarmTopic"},
                outputs.CLIENT_TOKEN_SECRET: f"gateway-client-token-{stage}",
            }.items()
        },
    }


def deploy(stage: str, region: str, regions: tuple[str, ...]) -> Settings:
    """Create the region's stack in moto; the settings its Lambdas get from it."""
    client = boto3.client("cloudformation", region_name=region)
    stack = outputs.region_stack(stage, region)
    client.create_stack(StackName=stack, TemplateBody=json.dumps(template(stage, region, regions)))
    found = stack_outputs(stage, region)
    # moto's CloudFormation makes no secrets: the primary's secret and its replica in
    # each region are made as Secrets Manager keeps them.
    boto3.client("secretsmanager", region_name=region).create_secret(
        Name=found[outputs.CLIENT_TOKEN_SECRET], SecretString=json.dumps({"tokens": CLIENT_TOKENS})
    )
    return Settings(
        region=region,
        primary_region=regions[0],
        write_table=found[outputs.WRITE_TABLE],
        projection_table=found[outputs.PROJECTION_TABLE],
        min_version_wait_ms=50,
    )


def stack_outputs(stage: str, region: str) -> dict[str, str]:
    client = boto3.client("cloudformation", region_name=region)
    described = client.describe_stacks(StackName=outputs.region_stack(stage, region))
    return {o["OutputKey"]: o["OutputValue"] for o in described["Stacks"][0]["Outputs"]}


def dead_letter(
    batch: list[dict[str, Any]], stream_arn: str, shard_id: str, failed_at: datetime
) -> str:
    """The message AWS Lambda sends the on-failure destination for a failed batch of
    ``batch`` (stream records as boto3 reads them): its metadata, not its records."""
    sequences = [record["dynamodb"]["SequenceNumber"] for record in batch]
    made = [record["dynamodb"]["ApproximateCreationDateTime"] for record in batch]
    return json.dumps(
        {
            "requestContext": {
                "requestId": "c6a4f8e2-1111-4d4e-9af7-85d5f4a6bc81",
                "functionArn": "arn:aws:lambda:eu-west-1:123456789012:function:consumer",
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": 4,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "version": "1.0",
            "timestamp": _stamp(failed_at, "milliseconds"),
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": sequences[0],
                "endSequenceNumber": sequences[-1],
                "approximateArrivalOfFirstRecord": _stamp(min(made), "seconds"),
                "approximateArrivalOfLastRecord": _stamp(max(made), "seconds"),
                "batchSize": len(batch),
                "streamArn": stream_arn,
            },
        }
    )


def _stamp(moment: datetime, timespec: str) -> str:
    return moment.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def _strings(*names: str) -> list[dict[str, str]]:
    return [{"AttributeName": name, "AttributeType": "S"} for name in names]
