"""Every schema field has exactly one AppSync resolver, on the data source that answers it.

The plan comes from ``schema/schema.graphql``; it must also agree with what the resolver
app registers, or AppSync would send fields to a Lambda that has no handler for them.
"""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Template
from aws_lambda_powertools.event_handler import AppSyncResolver

from domain import records
from domain.control import Control, ControlRecord
from infra import bundle
from infra.api import SCHEMA_FILE
from infra.resolvers import (
    BATCH_FIELDS,
    PUBLISH_REQUEST,
    PUBLISH_RESPONSE,
    ROOT_TYPES,
    FieldPlan,
    plan_fields,
)
from projections.settings import Settings
from resolvers.bootstrap import build_app
from resolvers.services import Services
from resolvers.tokens import TokenSigner
from tests.infra.conftest import Synthesized
from tests.infra.test_templates import Resource, function_id, resources, the_one
from tests.unit.fakes import FakeControlClient, FakeProjectionTable, FakeWriteStore

RESOLVER = "AWS::AppSync::Resolver"
DATA_SOURCE = "AWS::AppSync::DataSource"

SYNTHETIC_SDL = """
type Query { order(id: ID!): Order }
type Mutation {
  placeOrder(customerId: ID!): Order
  publishOrderChanged(id: ID!, customerId: ID!): Order @aws_iam
}
type Subscription {
  onOrderChanged(customerId: ID): Order @aws_subscribe(mutations: ["publishOrderChanged"])
}
type Order { id: ID! customerId: ID! customer: Customer }
type Customer { id: ID! }
"""


def _plan() -> FieldPlan:
    return plan_fields(SCHEMA_FILE.read_text())


def _resolver_app() -> AppSyncResolver:
    """The app the resolver Lambda runs, over fakes: only its registries are read."""
    settings = Settings(region="eu-west-1", primary_region="us-east-1")
    control = ControlRecord(
        FakeControlClient(),
        settings.write_table,
        Control(settings.primary_region, records.MODE_ACTIVE, 0),
    )
    services = Services(
        settings, FakeProjectionTable(), FakeWriteStore(), TokenSigner("s"), control
    )
    return build_app(services)


def _resolvers_by_field(template: Template) -> dict[str, Resource]:
    found: dict[str, Resource] = {}
    for resolver in resources(template, RESOLVER).values():
        properties = resolver["Properties"]
        address = f"{properties['TypeName']}.{properties['FieldName']}"
        assert address not in found, f"two resolvers for {address}"
        found[address] = resolver
    return found


def test_every_lambda_field_is_resolved_by_the_resolver_function(
    synthesized: Synthesized,
) -> None:
    """GIVEN the committed schema WHEN synthesized THEN each region resolves every Lambda
    field of the plan through a data source that invokes the resolver function, with a batch
    size only where the plan sets one, after the schema exists."""
    plan = _plan()
    for region in synthesized.config.regions:
        template = synthesized.region(region)
        function = function_id(template, bundle.RESOLVER_HANDLER)
        _, source = the_one(
            template,
            DATA_SOURCE,
            {
                "Type": "AWS_LAMBDA",
                "LambdaConfig": {"LambdaFunctionArn": {"Fn::GetAtt": [function, "Arn"]}},
            },
        )
        schema_id, _ = the_one(template, "AWS::AppSync::GraphQLSchema")
        by_field = _resolvers_by_field(template)

        for address in plan.lambda_fields:
            assert address in by_field, f"{region}: no resolver for {address}"
            resolver = by_field[address]
            properties = resolver["Properties"]
            assert properties["DataSourceName"] == source["Properties"]["Name"], address
            assert properties.get("MaxBatchSize") == plan.batch_sizes.get(address), address
            assert schema_id in resolver.get("DependsOn", []), address


def test_every_publish_field_only_fans_out_through_a_none_data_source(
    synthesized: Synthesized,
) -> None:
    """GIVEN the mutations that subscriptions bind to WHEN synthesized THEN each region
    answers them from a NONE data source that returns the arguments, invoking nothing."""
    plan = _plan()
    assert plan.publish_fields, "the schema binds subscriptions to publish mutations"
    for region in synthesized.config.regions:
        template = synthesized.region(region)
        _, source = the_one(template, DATA_SOURCE, {"Type": "NONE"})
        by_field = _resolvers_by_field(template)

        for address in plan.publish_fields:
            assert address in by_field, f"{region}: no resolver for {address}"
            properties = by_field[address]["Properties"]
            assert properties["DataSourceName"] == source["Properties"]["Name"], address
            assert properties["RequestMappingTemplate"] == PUBLISH_REQUEST, address
            assert properties["ResponseMappingTemplate"] == PUBLISH_RESPONSE, address


def test_no_resolver_exists_beyond_the_plan(synthesized: Synthesized) -> None:
    """GIVEN the plan WHEN synthesized THEN each region has exactly its resolvers: none for a
    field the schema lacks, none twice."""
    plan = _plan()
    for region in synthesized.config.regions:
        template = synthesized.region(region)
        template.resource_count_is(RESOLVER, len(plan.lambda_fields) + len(plan.publish_fields))
        assert set(_resolvers_by_field(template)) == {
            *plan.lambda_fields,
            *plan.publish_fields,
        }, region


def test_plan_routes_exactly_the_root_fields_the_resolver_app_registers() -> None:
    """GIVEN the resolver app WHEN its registered root fields are compared with the plan THEN
    they are equal: AppSync sends no field to a Lambda without a handler for it."""
    plan = _plan()
    registered = {
        address
        for address in _resolver_app()._resolver_registry.resolvers
        if address.split(".")[0] in ROOT_TYPES
    }

    assert {*plan.lambda_fields, *plan.publish_fields} == registered


def test_batch_fields_are_exactly_the_apps_batch_resolvers() -> None:
    """GIVEN the resolver app WHEN its batch resolvers are listed THEN infra gives exactly
    those fields a batch size: a batch handler fed single events, or the reverse, fails."""
    app = _resolver_app()
    registered = {
        *app._batch_resolver_registry.resolvers,
        *app._async_batch_resolver_registry.resolvers,
    }

    assert set(BATCH_FIELDS) == registered


def test_plan_gives_a_nested_batch_field_its_batch_size() -> None:
    """GIVEN a batch field on a non-root type WHEN planned THEN it goes to the Lambda with
    its batch size, so AppSync sends one invocation per batch of parents."""
    plan = plan_fields(SYNTHETIC_SDL, {"Order.customer": 25})

    assert "Order.customer" in plan.lambda_fields
    assert plan.batch_sizes == {"Order.customer": 25}
    assert "Order.customerId" not in plan.lambda_fields


def test_plan_refuses_a_batch_field_the_schema_lacks() -> None:
    """GIVEN a batch setting for a renamed field WHEN planned THEN ValueError names the field,
    so no batch setting is left behind silently."""
    with pytest.raises(ValueError, match=r"Order\.shopper"):
        plan_fields(SYNTHETIC_SDL, {"Order.customer": 25, "Order.shopper": 10})


@pytest.mark.parametrize(
    ("batch", "complaint"),
    [
        ({"customer": 10}, "missing from the schema: customer"),
        ({"Mutation.publishOrderChanged": 10}, "publish mutations cannot be batch fields"),
    ],
)
def test_plan_refuses_a_batch_setting_that_cannot_work(
    batch: dict[str, int], complaint: str
) -> None:
    """GIVEN a batch key without a type, or one naming a publish mutation (which answers
    through the NONE data source) WHEN planned THEN ValueError says which and why."""
    with pytest.raises(ValueError, match=complaint):
        plan_fields(SYNTHETIC_SDL, batch)


def test_plan_sends_subscribed_mutations_to_publish_and_the_rest_to_the_lambda() -> None:
    """GIVEN a mutation named by @aws_subscribe WHEN planned THEN it is a publish field and
    not a Lambda field; every other root field, subscriptions included, is a Lambda field."""
    plan = plan_fields(SYNTHETIC_SDL, {})

    assert plan.publish_fields == ("Mutation.publishOrderChanged",)
    assert set(plan.lambda_fields) == {
        "Query.order",
        "Mutation.placeOrder",
        "Subscription.onOrderChanged",
    }
    assert plan.batch_sizes == {}
