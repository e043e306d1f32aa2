"""Logs, metrics, traces and alarms: one place for how the gateway is watched.

Powertools reads its settings from the environment, so every Lambda gets them here.
Each alarm notifies the region's alarm topic.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_appsync as appsync
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import bundle
from infra.config import DeploymentConfig
from infra.nag import acknowledge
from infra.thresholds import HEALTH_DATAPOINTS_TO_ALARM, HEALTH_EVALUATION_PERIODS

METRICS_NAMESPACE = "Gateway"
RUNTIME = lambda_.Runtime.PYTHON_3_14
# Thresholds an operator acts on; docs/deploy.md says what each one means.
PROJECTION_LAG_ALARM = Duration.seconds(60)
REPLICATION_LATENCY_ALARM = Duration.seconds(30)
RESOLVER_ERROR_PERCENT = 25
SERVER_ERRORS_PER_MINUTE = 10
HEARTBEAT_AGE_ALARM = Duration.seconds(60)
# The health signals the Lambdas put (projections.observability names them too; a test
# checks they agree): the canary's verdict, 1 or 0, and each region's heartbeat age.
CANARY_SUCCESS = "CanarySuccess"
CANARY_SERVICE = "gateway-canary"
HEARTBEAT_AGE = "HeartbeatAge"
SOURCE_REGION = "SourceRegion"
STREAM_SERVICE = "gateway-projections"
BASIC_EXECUTION_ROLE = (
    "AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
    "service-role/AWSLambdaBasicExecutionRole]"
)


def powertools_environment(config: DeploymentConfig, service: str) -> dict[str, str]:
    """What Powertools' Logger, Metrics and Tracer read at cold start."""
    return {
        "POWERTOOLS_SERVICE_NAME": service,
        "POWERTOOLS_LOG_LEVEL": config.log_level,
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        "POWERTOOLS_TRACE_DISABLED": "false" if config.xray else "true",
    }


def gateway_function(
    scope: Construct,
    construct_id: str,
    config: DeploymentConfig,
    *,
    handler: str,
    service: str,
    environment: dict[str, str],
    timeout: Duration,
) -> lambda_.Function:
    """A Lambda running the repository's bundle, with its logs kept a month."""
    log_group = logs.LogGroup(scope, f"{construct_id}Logs", retention=logs.RetentionDays.ONE_MONTH)
    function = lambda_.Function(
        scope,
        construct_id,
        runtime=RUNTIME,
        architecture=lambda_.Architecture.ARM_64,
        code=lambda_.Code.from_asset(str(bundle.lambda_bundle(tracing=config.xray))),
        handler=handler,
        memory_size=512,
        timeout=timeout,
        environment={**powertools_environment(config, service), **environment},
        logging_format=lambda_.LoggingFormat.JSON,
        log_group=log_group,
        tracing=lambda_.Tracing.ACTIVE if config.xray else lambda_.Tracing.DISABLED,
    )
    acknowledge(
        function,
        BASIC_EXECUTION_ROLE,
        "The AWS managed basic execution role only lets the function write its own logs.",
    )
    if config.xray:
        acknowledge(
            function,
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            "X-Ray's PutTraceSegments and PutTelemetryRecords take no resource but '*'.",
        )
    return function


class Alarms(Construct):
    """The region's alarm topic and the alarms that page an operator."""

    def __init__(self, scope: Construct, construct_id: str, config: DeploymentConfig) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        # A key of our own: CloudWatch cannot use the AWS-managed alias/aws/sns key, so
        # alarm actions on a topic encrypted with it fail and nobody is paged.
        self.key = kms.Key(
            self,
            "TopicKey",
            description=f"{config.resource_name('gateway-alarms')}: encrypts alarm messages",
            enable_key_rotation=True,
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                resources=["*"],
            )
        )
        self.topic = sns.Topic(
            self,
            "Topic",
            topic_name=config.resource_name("gateway-alarms"),
            enforce_ssl=True,
            master_key=self.key,
        )
        # CloudWatch publishes alarm state changes to the topic.
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["sns:Publish"],
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                resources=[self.topic.topic_arn],
            )
        )

    def projection_lag(self, consumer: lambda_.IFunction) -> cloudwatch.Alarm:
        """The stream consumer's iterator age: how far this region's projections trail."""
        return self._alarm(
            "ProjectionLag",
            consumer.metric("IteratorAge", statistic="Maximum", period=Duration.minutes(1)),
            PROJECTION_LAG_ALARM.to_milliseconds(),
            "Projections in this region trail the write table by more than a minute.",
        )

    def replication_latency(self, table_name: str, receiving_region: str) -> cloudwatch.Alarm:
        """Global-table replication from this region to ``receiving_region``."""
        metric = cloudwatch.Metric(
            namespace="AWS/DynamoDB",
            metric_name="ReplicationLatency",
            dimensions_map={"TableName": table_name, "ReceivingRegion": receiving_region},
            statistic="Average",
            period=Duration.minutes(1),
        )
        return self._alarm(
            f"ReplicationLatency{_pascal(receiving_region)}",
            metric,
            REPLICATION_LATENCY_ALARM.to_milliseconds(),
            f"Writes from {Stack.of(self).region} reach {receiving_region} more than "
            f"{REPLICATION_LATENCY_ALARM.to_seconds()} s late.",
        )

    def dead_letters(self, queue: sqs.IQueue) -> cloudwatch.Alarm:
        """Any stream record that the consumer gave up on."""
        return self._alarm(
            "DeadLetters",
            queue.metric_approximate_number_of_messages_visible(period=Duration.minutes(1)),
            0,
            "Stream records failed every retry; `gateway dlq` explains how to redrive them.",
        )

    def resolver_errors(self, resolver: lambda_.IFunction) -> cloudwatch.Alarm:
        """The share of resolver invocations that ended in an error.

        A refused request (ValidationError, VersionConflict...) leaves the Lambda as an
        error too, which AppSync turns into the GraphQL error; so the alarm watches the
        share, not the count, and sits above what refusals alone explain.
        """
        period = Duration.minutes(1)
        share = cloudwatch.MathExpression(
            expression="100 * errors / MAX([invocations, 1])",
            using_metrics={
                "errors": resolver.metric_errors(period=period),
                "invocations": resolver.metric_invocations(period=period),
            },
            label="resolver errors (%)",
            period=period,
        )
        return self._alarm(
            "ResolverErrors",
            share,
            RESOLVER_ERROR_PERCENT,
            f"More than {RESOLVER_ERROR_PERCENT}% of resolver invocations failed; "
            "look for InternalFailure in the resolver logs.",
        )

    def server_errors(self, api: appsync.IGraphqlApi) -> cloudwatch.Alarm:
        """AppSync answering with server errors: Route 53 takes the region out of routing."""
        return self._alarm(
            "ServerErrors",
            cloudwatch.Metric(
                namespace="AWS/AppSync",
                metric_name="5XXError",
                dimensions_map={"GraphQLAPIId": api.api_id},
                statistic="Sum",
                period=Duration.minutes(1),
            ),
            SERVER_ERRORS_PER_MINUTE,
            "AppSync answers with server errors; Route 53 sends clients to another region "
            "while this alarm is on.",
        )

    def read_canary(self) -> cloudwatch.Alarm:
        """The read canary failing, or silent: this region cannot serve a read.

        Route 53's health check follows it (:class:`infra.routing.RegionalRoute`): errors
        in an HTTP 200, or no answer at all, take the region out of routing, which the
        5XX alarm alone never did. No data is a failure too (the canary did not run).
        """
        metric = cloudwatch.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name=CANARY_SUCCESS,
            dimensions_map={"service": CANARY_SERVICE},
            statistic="Minimum",
            period=Duration.minutes(1),
        )
        return self._health_alarm(
            "ReadCanary",
            metric,
            1,
            cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            "The read canary failed (errors, no data, or no answer) in 2 of the last 3 "
            "minutes; Route 53 sends clients to another region while this alarm is on.",
        )

    def heartbeat_age(self, source_region: str) -> cloudwatch.Alarm:
        """``source_region``'s heartbeat reaching this region late, or not at all: its
        replication to here, or this region's stream consumer, has stalled."""
        metric = cloudwatch.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name=HEARTBEAT_AGE,
            dimensions_map={"service": STREAM_SERVICE, SOURCE_REGION: source_region},
            statistic="Maximum",
            period=Duration.minutes(1),
        )
        seconds = HEARTBEAT_AGE_ALARM.to_seconds()
        return self._health_alarm(
            f"Heartbeat{_pascal(source_region)}",
            metric,
            HEARTBEAT_AGE_ALARM.to_milliseconds(),
            cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            f"{source_region}'s heartbeat reaches this region's projections more than "
            f"{seconds} s late, or not at all: replication or the stream has stalled.",
        )

    def _health_alarm(
        self,
        name: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        comparison: cloudwatch.ComparisonOperator,
        description: str,
    ) -> cloudwatch.Alarm:
        """An alarm on a signal that must keep arriving: missing data is breaching."""
        alarm = cloudwatch.Alarm(
            self,
            name,
            alarm_name=f"{self.config.resource_name('gateway')}-{Stack.of(self).region}-{name}",
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=HEALTH_EVALUATION_PERIODS,
            datapoints_to_alarm=HEALTH_DATAPOINTS_TO_ALARM,
            treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        alarm.add_ok_action(actions.SnsAction(self.topic))
        return alarm

    def _alarm(
        self, name: str, metric: cloudwatch.IMetric, threshold: float, description: str
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            name,
            alarm_name=f"{self.config.resource_name('gateway')}-{Stack.of(self).region}-{name}",
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        alarm.add_ok_action(actions.SnsAction(self.topic))
        return alarm


def _pascal(region: str) -> str:
    return "".join(part.title() for part in region.split("-"))
