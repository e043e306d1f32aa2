"""The tables: one global write table, and a projection table in every region.

Every key, index and attribute name comes from :mod:`projections.keys`, the one key
module that the runtime reads too.
"""

from __future__ import annotations

from aws_cdk import CfnElement, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import custom_resources as cr
from constructs import Construct

from infra.config import DeploymentConfig
from infra.nag import acknowledge
from infra.observability import BASIC_EXECUTION_ROLE
from projections import keys

_STRING = dynamodb.AttributeType.STRING
_PITR = dynamodb.PointInTimeRecoverySpecification(point_in_time_recovery_enabled=True)


class WriteTable(Construct):
    """The write table: a global table with a replica in every configured region.

    It lives in the primary's stack, which owns the ``AWS::DynamoDB::GlobalTable``.
    The stream carries NEW_IMAGE: events hold their whole aggregate, so the stream
    handler never needs the old image.
    """

    def __init__(self, scope: Construct, construct_id: str, config: DeploymentConfig) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.TableV2(
            self,
            "Table",
            table_name=config.resource_name(keys.WRITE_TABLE),
            partition_key=dynamodb.Attribute(name=keys.PARTITION_KEY, type=_STRING),
            sort_key=dynamodb.Attribute(name=keys.SORT_KEY, type=_STRING),
            billing=dynamodb.Billing.on_demand(),
            dynamo_stream=dynamodb.StreamViewType.NEW_IMAGE,
            deletion_protection=True,
            point_in_time_recovery_specification=_PITR,
            replicas=[
                dynamodb.ReplicaTableProps(
                    region=region,
                    deletion_protection=True,
                    point_in_time_recovery_specification=_PITR,
                )
                for region in config.replicas
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )


class ProjectionTable(Construct):
    """This region's read model: regional, rebuildable from the write table."""

    def __init__(self, scope: Construct, construct_id: str, config: DeploymentConfig) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Table",
            table_name=config.resource_name(keys.PROJECTION_TABLE),
            partition_key=dynamodb.Attribute(name=keys.PARTITION_KEY, type=_STRING),
            sort_key=dynamodb.Attribute(name=keys.SORT_KEY, type=_STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=_PITR,
            removal_policy=RemovalPolicy.RETAIN,
        )
        for index, (partition, sort) in keys.INDEXES.items():
            self.table.add_global_secondary_index(
                index_name=index,
                partition_key=dynamodb.Attribute(name=partition, type=_STRING),
                sort_key=dynamodb.Attribute(name=sort, type=_STRING),
            )


class ReplicaStream(Construct):
    """The stream ARN of this region's replica of the write table.

    A replica's stream gets its ARN when the replica is created, and CloudFormation
    reports it only in the region of the global table's own stack; so every other
    region asks DynamoDB for it at deploy time.
    """

    def __init__(self, scope: Construct, construct_id: str, table_name: str) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        table_arn = stack.format_arn(service="dynamodb", resource="table", resource_name=table_name)
        describe = cr.AwsSdkCall(
            service="DynamoDB",
            action="describeTable",
            parameters={"TableName": table_name},
            physical_resource_id=cr.PhysicalResourceId.of(f"{table_name}-stream"),
            output_paths=["Table.LatestStreamArn"],
        )
        lookup = cr.AwsCustomResource(
            self,
            "Lookup",
            on_create=describe,
            on_update=describe,
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [iam.PolicyStatement(actions=["dynamodb:DescribeTable"], resources=[table_arn])]
            ),
            install_latest_aws_sdk=False,
        )
        self.stream_arn = lookup.get_response_field("Table.LatestStreamArn")
        provider = stack.node.find_child(
            "AWS" + cr.AwsCustomResource.PROVIDER_FUNCTION_UUID.replace("-", "")
        )
        acknowledge(
            provider,
            BASIC_EXECUTION_ROLE,
            "CDK's own AwsCustomResource provider runs one DescribeTable at deploy time and "
            "needs only the basic execution role.",
        )


def acknowledge_index_access(grantee: Construct, table: dynamodb.ITable) -> None:
    """Table grants cover ``<table>/index/*``: the indexes listed in the key module."""
    stack = Stack.of(table)
    cfn = table.node.default_child
    assert isinstance(cfn, CfnElement)
    acknowledge(
        grantee,
        f"AwsSolutions::AwsSolutions-IAM5[Resource::<{stack.get_logical_id(cfn)}.Arn>/index/*]",
        f"Queries use the table's own indexes ({', '.join(keys.INDEXES)}), and no other table's.",
    )
