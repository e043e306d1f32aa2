"""The resolver Lambda, its data source, and a resolver for every field of the schema.

The fields come from ``schema/schema.graphql`` itself: every Query, Mutation and
Subscription field goes to the Lambda, except the mutations that subscriptions are bound
to (``@aws_subscribe``), which go to a NONE data source and only fan out.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from aws_cdk import CfnElement, Duration, Stack
from aws_cdk import aws_appsync as appsync
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct
from graphql import (
    DocumentNode,
    ListValueNode,
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
    StringValueNode,
    parse,
)

from domain import records
from infra import bundle
from infra.config import DeploymentConfig
from infra.nag import acknowledge
from infra.observability import gateway_function
from infra.tables import acknowledge_index_access
from projections import keys

ROOT_TYPES = ("Query", "Mutation", "Subscription")
# Fields answered by a powertools batch resolver, with AppSync's batch size. A contract
# test keeps this equal to the resolver app's batch registry.
BATCH_FIELDS: dict[str, int] = {}
# A publish mutation returns its arguments, which is what its subscribers receive.
PUBLISH_REQUEST = '{"version": "2018-05-29", "payload": $util.toJson($context.arguments)}'
PUBLISH_RESPONSE = "$util.toJson($context.result)"
# Every action that writes an item: none may touch the control record.
CONTROL_WRITES = (
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
)


class FieldPlan(NamedTuple):
    """Which data source answers which ``Type.field``."""

    lambda_fields: tuple[str, ...]
    publish_fields: tuple[str, ...]
    batch_sizes: Mapping[str, int]


def plan_fields(sdl: str, batch_fields: Mapping[str, int] = BATCH_FIELDS) -> FieldPlan:
    """Sort the schema's fields between the Lambda and the NONE data source.

    Raises ValueError when ``batch_fields`` names a field that the schema lacks, so a
    renamed field cannot leave a batch setting behind.
    """
    document = parse(sdl)
    fields = _object_fields(document)
    publish = set(_subscribed_mutations(document))
    lambda_fields = [
        f"{type_name}.{field}"
        for type_name in ROOT_TYPES
        for field in fields.get(type_name, ())
        if not (type_name == "Mutation" and field in publish)
    ]
    unknown = [name for name in batch_fields if not _in_schema(name, fields)]
    if unknown:
        raise ValueError(f"batch fields missing from the schema: {', '.join(unknown)}")
    published = [name for name in batch_fields if name in {f"Mutation.{p}" for p in publish}]
    if published:
        raise ValueError(f"publish mutations cannot be batch fields: {', '.join(published)}")
    nested = [name for name in batch_fields if name not in lambda_fields]
    return FieldPlan(
        lambda_fields=(*lambda_fields, *nested),
        publish_fields=tuple(f"Mutation.{name}" for name in sorted(publish)),
        batch_sizes=dict(batch_fields),
    )


class Resolvers(Construct):
    """The resolver Lambda wired into ``api`` for every field of the plan."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        config: DeploymentConfig,
        *,
        api: appsync.GraphqlApi,
        schema_file: Path,
        projections: dynamodb.ITable,
        environment: dict[str, str],
        batch_fields: Mapping[str, int] = BATCH_FIELDS,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.function = gateway_function(
            self,
            "Function",
            config,
            handler=bundle.RESOLVER_HANDLER,
            service="gateway-resolvers",
            environment=environment,
            timeout=Duration.seconds(10),
        )
        projections.grant_read_data(self.function)
        acknowledge_index_access(self.function, projections)
        # Writes go to whichever region the control record names as primary, so the
        # function may write the write table in every region of the deployment.
        write_table = config.resource_name(keys.WRITE_TABLE)
        write_tables = [
            stack.format_arn(
                service="dynamodb", region=region, resource="table", resource_name=write_table
            )
            for region in config.regions
        ]
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=[
                    "dynamodb:GetItem",
                    "dynamodb:BatchGetItem",
                    "dynamodb:Query",
                    "dynamodb:PutItem",
                    "dynamodb:ConditionCheckItem",
                ],
                resources=write_tables,
            )
        )
        # The control record is the operator's: the resolver reads it, and checks it in
        # each write's transaction (the epoch fence), but never writes it. A Deny wins
        # over any Allow, so no later grant can undo this one.
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                effect=iam.Effect.DENY,
                actions=list(CONTROL_WRITES),
                resources=write_tables,
                conditions={
                    "ForAnyValue:StringEquals": {
                        "dynamodb:LeadingKeys": [records.CONTROL_PARTITION_KEY]
                    }
                },
            )
        )
        plan = plan_fields(schema_file.read_text(), batch_fields)
        lambda_source = api.add_lambda_data_source("ResolverLambda", self.function)
        acknowledge(
            lambda_source,
            f"AwsSolutions::AwsSolutions-IAM5[Resource::<{stack.get_logical_id(_cfn(self.function))}"
            ".Arn>:*]",
            "AppSync may invoke any version or alias of the resolver function, and no other.",
        )
        for address in plan.lambda_fields:
            construct_id, type_name, field_name = _resolver_names(address)
            lambda_source.create_resolver(
                construct_id,
                type_name=type_name,
                field_name=field_name,
                max_batch_size=plan.batch_sizes.get(address),
            )
        none_source = api.add_none_data_source("Publish")
        for address in plan.publish_fields:
            construct_id, type_name, field_name = _resolver_names(address)
            none_source.create_resolver(
                construct_id,
                type_name=type_name,
                field_name=field_name,
                request_mapping_template=appsync.MappingTemplate.from_string(PUBLISH_REQUEST),
                response_mapping_template=appsync.MappingTemplate.from_string(PUBLISH_RESPONSE),
            )
        self.plan = plan


def _resolver_names(address: str) -> tuple[str, str, str]:
    """``Type.field`` as a resolver's construct id, type name and field name."""
    type_name, field_name = address.split(".")
    return f"{type_name}{field_name[0].upper()}{field_name[1:]}", type_name, field_name


def _cfn(function: lambda_.Function) -> CfnElement:
    child = function.node.default_child
    assert isinstance(child, CfnElement)
    return child


def _in_schema(address: str, fields: Mapping[str, list[str]]) -> bool:
    type_name, dot, field_name = address.partition(".")
    return bool(dot) and field_name in fields.get(type_name, ())


def _object_fields(document: DocumentNode) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for definition in document.definitions:
        if isinstance(definition, ObjectTypeDefinitionNode | ObjectTypeExtensionNode):
            names = fields.setdefault(definition.name.value, [])
            names.extend(field.name.value for field in definition.fields or ())
    return fields


def _subscribed_mutations(document: DocumentNode) -> list[str]:
    """The mutations named by any ``@aws_subscribe(mutations: [...])``."""
    found: list[str] = []
    for definition in document.definitions:
        if not isinstance(definition, ObjectTypeDefinitionNode):
            continue
        for field in definition.fields or ():
            for directive in field.directives or ():
                if directive.name.value != "aws_subscribe":
                    continue
                for argument in directive.arguments or ():
                    if argument.name.value == "mutations" and isinstance(
                        argument.value, ListValueNode
                    ):
                        found.extend(
                            value.value
                            for value in argument.value.values
                            if isinstance(value, StringValueNode)
                        )
    return found
