"""The stream consumer of one region: the local replica's stream into the projections.

The mapping hands the handler only event items (the filter), reports partial batch
failures, splits a failing batch to find the bad record, and gives up on a record after
bounded retries or age, sending it to an SQS queue: the dead-letter store on AWS.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_appsync as appsync
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import bundle
from infra.config import DeploymentConfig
from infra.nag import acknowledge
from infra.observability import gateway_function
from infra.tables import acknowledge_index_access
from projections import keys

BATCH_SIZE = 100
RETRY_ATTEMPTS = 3
MAX_RECORD_AGE = Duration.hours(6)
PASSED_KINDS = (keys.EVENT_RECORD, keys.HEARTBEAT_RECORD)
# The stream keeps records 24 h; a dead letter keeps the longest SQS allows.
DEAD_LETTER_RETENTION = Duration.days(14)


def event_item_filter() -> Mapping[str, Any]:
    """Only event items reach the handler, and every region's heartbeat (which it
    measures, :mod:`projections.heartbeat`); aggregate states and the control record
    never do.

    An event item is written once, but a MODIFY of one still happens: after a forced
    failover, the same event key written in two regions replicates the later write over
    the earlier one. It must be projected too; the builders apply each version once,
    so a MODIFY that changes nothing changes nothing downstream either. A heartbeat is
    one item per region, rewritten at each beat: a MODIFY after its first.
    """
    return lambda_.FilterCriteria.filter(
        {
            "eventName": lambda_.FilterRule.or_("INSERT", "MODIFY"),
            "dynamodb": {
                "NewImage": {keys.RECORD_KIND: {"S": lambda_.FilterRule.or_(*PASSED_KINDS)}}
            },
        }
    )


class StreamConsumer(Construct):
    """The stream handler Lambda, its event source mapping and its dead-letter queue."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        config: DeploymentConfig,
        *,
        stream_arn: str,
        api: appsync.GraphqlApi,
        projections: dynamodb.ITable,
        publish_fields: tuple[str, ...],
        environment: dict[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            retention_period=DEAD_LETTER_RETENTION,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        acknowledge(
            self.dead_letters,
            "AwsSolutions::AwsSolutions-SQS3",
            "This queue is itself the stream consumer's dead-letter store.",
        )
        self.function = gateway_function(
            self,
            "Function",
            config,
            handler=bundle.STREAM_HANDLER,
            service="gateway-projections",
            environment={**environment, "GATEWAY_APPSYNC_URL": api.graphql_url},
            timeout=Duration.seconds(60),
        )
        projections.grant_read_write_data(self.function)
        acknowledge_index_access(self.function, projections)
        # The handler may call the publish mutations, and nothing else of the API.
        api.grant(
            self.function,
            appsync.IamResource.of_type(
                "Mutation", *[address.split(".")[1] for address in publish_fields]
            ),
            "appsync:GraphQL",
        )
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=[
                    "dynamodb:DescribeStream",
                    "dynamodb:GetRecords",
                    "dynamodb:GetShardIterator",
                    "dynamodb:ListStreams",
                ],
                resources=[stream_arn],
            )
        )
        self.mapping = lambda_.EventSourceMapping(
            self,
            "Stream",
            target=self.function,
            event_source_arn=stream_arn,
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            batch_size=BATCH_SIZE,
            bisect_batch_on_error=True,
            retry_attempts=RETRY_ATTEMPTS,
            max_record_age=MAX_RECORD_AGE,
            report_batch_item_failures=True,
            filters=[event_item_filter()],
            on_failure=sources.SqsDlq(self.dead_letters),
        )
