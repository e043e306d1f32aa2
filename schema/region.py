"""The region that answered: its name, the primary, and how fresh its projections are."""

from __future__ import annotations

from enum import Enum

import strawberry

from schema.aws import AWSDateTime, AwsLambda, resolved_by_lambda, user_pools


@strawberry.enum(description="Whether this region takes writes now.")
class RegionMode(Enum):
    ACTIVE = strawberry.enum_value("ACTIVE", description="Writes go through to the primary.")
    READ_ONLY = strawberry.enum_value(
        "READ_ONLY", description="The primary cannot be reached; writes get PrimaryUnavailable."
    )


@strawberry.type(
    description="The region that answered this request.",
    directives=[AwsLambda(), user_pools()],
)
class RegionInfo:
    name: str = strawberry.field(description="This region, such as eu-west-1.")
    primary: str = strawberry.field(description="The region that takes writes.")
    mode: RegionMode = strawberry.field(description="Whether writes are possible now.")
    projection_lag_ms: int | None = strawberry.field(
        description="Milliseconds from the primary's write to this region's projection, for "
        "the newest change applied; null before the first."
    )
    last_projected_at: AWSDateTime | None = strawberry.field(
        description="When this region last applied a change."
    )


@strawberry.type
class RegionQuery:
    @strawberry.field(
        description="Which region answered, and its state.",
        directives=[AwsLambda(), user_pools()],
    )
    def region(self) -> RegionInfo:
        resolved_by_lambda()
