"""The region's scheduled health functions: the read canary and the heartbeat writer.

Both run each minute from an EventBridge rule, from the same bundle as the other
Lambdas (:mod:`projections.canary`, :mod:`projections.heartbeat`); their alarms are
:meth:`infra.observability.Alarms.read_canary` and
:meth:`infra.observability.Alarms.heartbeat_age`.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_appsync as appsync
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from domain import records
from infra import bundle
from infra.authorizer import SECRET_VARIABLE
from infra.config import CLIENT_TOKEN_SECRET, DeploymentConfig
from infra.observability import CANARY_SERVICE, gateway_function

SCHEDULE = events.Schedule.rate(Duration.minutes(1))
HEARTBEAT_SERVICE = "gateway-heartbeat"


def _every_minute(scope: Construct, function: lambda_.IFunction) -> events.Rule:
    """The rule that invokes ``function`` each minute. A missed run is not retried: the
    next one is a minute away, and the alarms count a missing datapoint as a failure."""
    return events.Rule(
        scope,
        "Schedule",
        schedule=SCHEDULE,
        targets=[targets.LambdaFunction(function, retry_attempts=0)],
    )


class ReadCanary(Construct):
    """A synthetic GraphQL read of this region's API, each minute, as an anonymous client.

    It reads with the public client token, from ``client_tokens`` (this region's view of
    the client-token secret, as the authorizer's), so a broken token or authorizer fails
    it too.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        config: DeploymentConfig,
        api: appsync.GraphqlApi,
        client_tokens: secretsmanager.ISecret,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = gateway_function(
            self,
            "Function",
            config,
            handler=bundle.CANARY_HANDLER,
            service=CANARY_SERVICE,
            environment={
                "GATEWAY_APPSYNC_URL": api.graphql_url,
                SECRET_VARIABLE: config.resource_name(CLIENT_TOKEN_SECRET),
            },
            timeout=Duration.seconds(30),
        )
        client_tokens.grant_read(self.function)
        if isinstance(client_tokens, secretsmanager.Secret):
            self.function.node.add_dependency(client_tokens)
        self.rule = _every_minute(self, self.function)


class HeartbeatWriter(Construct):
    """This region's heartbeat, put each minute into its own replica of the write table.

    It may put that one item and nothing else: its role allows ``PutItem`` on this
    region's replica only, for the heartbeat's partition key only.
    """

    def __init__(
        self, scope: Construct, construct_id: str, config: DeploymentConfig, write_table: str
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.function = gateway_function(
            self,
            "Function",
            config,
            handler=bundle.HEARTBEAT_HANDLER,
            service=HEARTBEAT_SERVICE,
            environment={"GATEWAY_WRITE_TABLE": write_table},
            timeout=Duration.seconds(10),
        )
        own_key = records.heartbeat_key(stack.region)[records.PARTITION_KEY]
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:PutItem"],
                resources=[
                    stack.format_arn(
                        service="dynamodb", resource="table", resource_name=write_table
                    )
                ],
                conditions={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [own_key]}},
            )
        )
        self.rule = _every_minute(self, self.function)
