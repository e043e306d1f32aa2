"""The tables of every region's template, and the helpers the other template tests share.

``test_templates_*.py`` check the rest of the deployment: the API, the resolvers, the
Lambdas, the stream consumer, routing and alarms. Every expected name comes from the
code's own constants (``projections.keys``, ``DeploymentConfig.resource_name``...).
"""

from __future__ import annotations

from typing import Any, cast

from aws_cdk.assertions import Capture, Match, Template

from projections import keys
from tests.infra.conftest import Synthesized

Resource = dict[str, Any]

GLOBAL_TABLE = "AWS::DynamoDB::GlobalTable"
TABLE = "AWS::DynamoDB::Table"
FUNCTION = "AWS::Lambda::Function"
PARTITION = "${AWS::Partition}"
ACCOUNT = "${AWS::AccountId}"


def resources(template: Template, type_name: str, properties: Any = None) -> dict[str, Resource]:
    """Every resource of ``type_name`` whose properties match, by logical id."""
    pattern = None if properties is None else {"Properties": properties}
    return cast(dict[str, Resource], template.find_resources(type_name, pattern))


def the_one(template: Template, type_name: str, properties: Any = None) -> tuple[str, Resource]:
    """The single matching resource, as ``(logical id, resource)``."""
    found = resources(template, type_name, properties)
    assert len(found) == 1, f"expected one {type_name} matching {properties}, got {sorted(found)}"
    return next(iter(found.items()))


def function_id(template: Template, handler: str) -> str:
    """The logical id of the one Lambda function that runs ``handler``."""
    return the_one(template, FUNCTION, {"Handler": handler})[0]


def role_statements(template: Template, function_logical_id: str) -> list[Resource]:
    """Every IAM statement attached to the execution role of a function."""
    function = resources(template, FUNCTION)[function_logical_id]
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    return [
        statement
        for policy in resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def listed(value: Any) -> list[Any]:
    """IAM's ``Action`` and ``Resource`` are a value or a list of them."""
    return value if isinstance(value, list) else [value]


def render(value: Any) -> str:
    """An intrinsic as text: joins joined, ``${Ref}`` and ``${Id.Attribute}`` for the rest."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(render(part) for part in parts)
    if "Ref" in value:
        return f"${{{value['Ref']}}}"
    if "Fn::GetAtt" in value:
        return "${" + ".".join(value["Fn::GetAtt"]) + "}"
    raise AssertionError(f"no text form for {value!r}")


def allowed(statements: list[Resource], action: str) -> set[str]:
    """The rendered resources on which ``statements`` allow ``action``."""
    return {
        render(resource)
        for statement in statements
        if statement["Effect"] == "Allow" and action in listed(statement["Action"])
        for resource in listed(statement["Resource"])
    }


def write_table_arn(region: str, table_name: str) -> str:
    return f"arn:{PARTITION}:dynamodb:{region}:{ACCOUNT}:table/{table_name}"


def test_primary_owns_the_one_global_write_table(synthesized: Synthesized) -> None:
    """GIVEN a deployment WHEN synthesized THEN the primary's stack holds exactly one global
    table: the write table, keyed pk/sk, whose stream carries NEW_IMAGE for the consumers."""
    config = synthesized.config
    primary = synthesized.region(config.primary)

    primary.resource_count_is(GLOBAL_TABLE, 1)
    primary.has_resource_properties(
        GLOBAL_TABLE,
        {
            "TableName": config.resource_name(keys.WRITE_TABLE),
            "KeySchema": [
                {"AttributeName": keys.PARTITION_KEY, "KeyType": "HASH"},
                {"AttributeName": keys.SORT_KEY, "KeyType": "RANGE"},
            ],
            "StreamSpecification": {"StreamViewType": "NEW_IMAGE"},
        },
    )


def test_write_table_has_a_protected_recoverable_replica_in_every_region(
    synthesized: Synthesized,
) -> None:
    """GIVEN a deployment WHEN synthesized THEN the write table has one replica per region,
    the primary's included, each with deletion protection and point-in-time recovery."""
    config = synthesized.config
    replicas = Capture()

    synthesized.region(config.primary).has_resource_properties(GLOBAL_TABLE, {"Replicas": replicas})

    by_region = {replica["Region"]: replica for replica in replicas.as_array()}
    assert sorted(by_region) == sorted(config.regions)
    assert len(replicas.as_array()) == len(config.regions)
    for region, replica in by_region.items():
        assert replica.get("DeletionProtectionEnabled") is True, region
        recovery = replica.get("PointInTimeRecoverySpecification", {})
        assert recovery.get("PointInTimeRecoveryEnabled") is True, region


def test_replica_stacks_hold_no_global_table(synthesized: Synthesized) -> None:
    """GIVEN a deployment WHEN synthesized THEN no replica stack declares a global table of
    its own: a second one would fight the primary's over the same table name."""
    for region in synthesized.config.replicas:
        synthesized.region(region).resource_count_is(GLOBAL_TABLE, 0)


def test_every_region_has_a_recoverable_projection_table_with_every_index(
    synthesized: Synthesized,
) -> None:
    """GIVEN a deployment WHEN synthesized THEN each region has one projection table, keyed
    pk/sk, with PITR on and every index of the key module, keyed as the readers query it."""
    config = synthesized.config
    for region in config.regions:
        template = synthesized.region(region)
        indexes = Capture()

        template.resource_count_is(TABLE, 1)
        template.has_resource_properties(
            TABLE,
            {
                "TableName": config.resource_name(keys.PROJECTION_TABLE),
                "KeySchema": [
                    {"AttributeName": keys.PARTITION_KEY, "KeyType": "HASH"},
                    {"AttributeName": keys.SORT_KEY, "KeyType": "RANGE"},
                ],
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                "GlobalSecondaryIndexes": indexes,
            },
        )

        declared = {
            index["IndexName"]: tuple(
                next(k["AttributeName"] for k in index["KeySchema"] if k["KeyType"] == kind)
                for kind in ("HASH", "RANGE")
            )
            for index in indexes.as_array()
        }
        assert declared == dict(keys.INDEXES), region
        assert all(
            index["Projection"] == {"ProjectionType": "ALL"} for index in indexes.as_array()
        ), region


def test_the_write_table_is_retained_when_its_stack_is_deleted(synthesized: Synthesized) -> None:
    """GIVEN a deployment WHEN its primary stack is deleted or the table replaced THEN
    CloudFormation keeps the write table and every projection table: data outlives stacks."""
    config = synthesized.config
    synthesized.region(config.primary).has_resource(
        GLOBAL_TABLE,
        Match.object_like({"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}),
    )
    for region in config.regions:
        synthesized.region(region).has_resource(
            TABLE, Match.object_like({"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"})
        )
