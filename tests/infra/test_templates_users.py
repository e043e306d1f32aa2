"""The user pool people sign up and sign in through: its app client and its sign-up path.

Defect 5 of issue 14: the pool had groups but no app client and no self sign-up, so
after a fresh deploy nobody could obtain a token and no mutation could succeed.
"""

from __future__ import annotations

from aws_cdk.assertions import Template

from infra import bundle
from infra.api import STOREFRONT_CLIENT
from infra.outputs import USER_POOL_CLIENT_ID
from tests.infra.conftest import Synthesized
from tests.infra.test_templates import (
    FUNCTION,
    Resource,
    allowed,
    function_id,
    listed,
    resources,
    role_statements,
    the_one,
)
from tests.infra.test_templates_api import USER_POOL

USER_POOL_CLIENT = "AWS::Cognito::UserPoolClient"


def _pool(synthesized: Synthesized) -> tuple[Template, str, Resource]:
    template = synthesized.region(synthesized.config.primary)
    pool_id, pool = the_one(template, USER_POOL)
    return template, pool_id, pool


def test_the_storefront_signs_in_through_a_public_client_of_the_pool(
    synthesized: Synthesized,
) -> None:
    """GIVEN a deployment WHEN synthesized THEN the pool has one app client, the
    storefront's: no secret (it runs in browsers), SRP, password and refresh sign-in,
    tokens for an hour, no hint of which users exist, and no hosted-UI flows."""
    template, pool_id, _ = _pool(synthesized)
    _, client = the_one(template, USER_POOL_CLIENT)
    properties = client["Properties"]

    assert properties["UserPoolId"] == {"Ref": pool_id}
    assert properties["ClientName"] == synthesized.config.resource_name(STOREFRONT_CLIENT)
    assert properties.get("GenerateSecret", False) is False
    assert sorted(properties["ExplicitAuthFlows"]) == [
        "ALLOW_REFRESH_TOKEN_AUTH",
        "ALLOW_USER_PASSWORD_AUTH",
        "ALLOW_USER_SRP_AUTH",
    ]
    assert properties["PreventUserExistenceErrors"] == "ENABLED"
    assert properties["EnableTokenRevocation"] is True
    assert (properties["IdTokenValidity"], properties["AccessTokenValidity"]) == (60, 60)
    assert properties["TokenValidityUnits"]["IdToken"] == "minutes"
    assert "AllowedOAuthFlows" not in properties and "CallbackURLs" not in properties


def test_people_sign_themselves_up_and_confirm_by_email(synthesized: Synthesized) -> None:
    """GIVEN a deployment WHEN synthesized THEN anyone may sign up (not only an
    administrator), and Cognito verifies the email address with a code before the
    account can sign in."""
    _, _, pool = _pool(synthesized)
    properties = pool["Properties"]

    assert properties["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is False
    assert properties["AutoVerifiedAttributes"] == ["email"]
    assert properties["VerificationMessageTemplate"]["DefaultEmailOption"] == "CONFIRM_WITH_CODE"
    assert properties["UsernameAttributes"] == ["email"]


def test_a_confirmed_sign_up_joins_the_customers_group_and_nothing_more(
    synthesized: Synthesized,
) -> None:
    """GIVEN a deployment WHEN synthesized THEN the pool's post-confirmation trigger is
    our own handler from the bundle, and its role may add users to groups of this pool
    only: a new customer is in `customers`, and staff are made by an administrator."""
    template, pool_id, pool = _pool(synthesized)
    trigger = function_id(template, bundle.SIGN_UP_HANDLER)

    assert pool["Properties"]["LambdaConfig"] == {
        "PostConfirmation": {"Fn::GetAtt": [trigger, "Arn"]}
    }
    statements = role_statements(template, trigger)
    assert allowed(statements, "cognito-idp:AdminAddUserToGroup") == {f"${{{pool_id}.Arn}}"}
    assert {
        action
        for statement in statements
        for action in listed(statement["Action"])
        if not action.startswith(("logs:", "xray:"))
    } == {"cognito-idp:AdminAddUserToGroup"}
    the_one(
        template,
        "AWS::Lambda::Permission",
        {
            "Principal": "cognito-idp.amazonaws.com",
            "FunctionName": {"Fn::GetAtt": [trigger, "Arn"]},
        },
    )
    for region in synthesized.config.replicas:
        replica = synthesized.region(region)
        assert not resources(replica, FUNCTION, {"Handler": bundle.SIGN_UP_HANDLER})


def test_the_primary_names_the_storefront_client_for_the_operators_tools(
    synthesized: Synthesized,
) -> None:
    """GIVEN a deployment WHEN synthesized THEN the primary's stack outputs the app
    client's id beside the pool's, which `gateway smoke --username` and a front end's
    Amplify configuration need."""
    template = synthesized.region(synthesized.config.primary)
    client_id, _ = the_one(template, USER_POOL_CLIENT)

    outputs = template.to_json()["Outputs"]

    assert outputs[USER_POOL_CLIENT_ID]["Value"] == {"Ref": client_id}
