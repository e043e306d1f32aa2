"""AppSync's own scalars and directives, declared so strawberry can print them.

AppSync declares these itself, so the exported ``schema.graphql`` leaves their
definitions out and keeps only their uses.
"""

from __future__ import annotations

from typing import NewType, NoReturn

import strawberry
from strawberry.schema_directive import Location
from strawberry.types.scalar import ScalarDefinition

AWSDateTime = NewType("AWSDateTime", str)
AWSEmail = NewType("AWSEmail", str)

# Handed to the root schema's config: AppSync's scalars, by the Python types that stand
# for them.
SCALARS: dict[object, ScalarDefinition] = {
    AWSDateTime: strawberry.scalar(
        name="AWSDateTime",
        description="An ISO 8601 date and time in UTC, such as 2026-11-23T10:15:30.000Z.",
        serialize=str,
        parse_value=str,
    ),
    AWSEmail: strawberry.scalar(
        name="AWSEmail",
        description="An email address, such as ana@example.com.",
        serialize=str,
        parse_value=str,
    ),
}


@strawberry.schema_directive(locations=[Location.FIELD_DEFINITION], name="aws_subscribe")
class AwsSubscribe:
    mutations: list[str]


@strawberry.schema_directive(
    locations=[Location.OBJECT, Location.FIELD_DEFINITION], name="aws_lambda"
)
class AwsLambda:
    """Allowed to callers the API's Lambda authorizer lets in: anyone with the public
    client token, the same in every region."""


@strawberry.schema_directive(
    locations=[Location.OBJECT, Location.FIELD_DEFINITION], name="aws_cognito_user_pools"
)
class AwsCognitoUserPools:
    """Allowed to callers with a user-pool token; with groups, only to those groups."""

    # AppSync spells the argument in snake case; strawberry would camel-case it.
    cognito_groups: list[str] | None = strawberry.directive_field(name="cognito_groups")


def user_pools(*groups: str) -> AwsCognitoUserPools:
    """``@aws_cognito_user_pools``, for any signed-in user or only for ``groups``."""
    return AwsCognitoUserPools(cognito_groups=list(groups) if groups else strawberry.UNSET)


def customers_and_staff() -> AwsCognitoUserPools:
    """``@aws_cognito_user_pools`` on a customer operation: the ``customers`` group, and
    ``staff`` who may do everything; a signed-in user in neither group is refused, as
    the public client token is (DESIGN.md's Auth table)."""
    return user_pools("customers", "staff")


@strawberry.schema_directive(locations=[Location.OBJECT, Location.FIELD_DEFINITION], name="aws_iam")
class AwsIam:
    """Allowed to callers signing with SigV4 (the stream handler)."""


def resolved_by_lambda() -> NoReturn:
    """Strawberry only declares the contract; the resolver Lambda answers every field."""
    raise RuntimeError("this field is answered by resolvers.handler, not by strawberry")
