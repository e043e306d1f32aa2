"""The root schema: a table of contents of the features."""

from __future__ import annotations

import strawberry
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from schema.aws import SCALARS
from schema.products import ProductMutation, ProductQuery, ProductSubscription
from schema.region import RegionQuery

Query = merge_types("Query", (ProductQuery, RegionQuery))
Mutation = merge_types("Mutation", (ProductMutation,))
Subscription = merge_types("Subscription", (ProductSubscription,))

schema = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    config=StrawberryConfig(scalar_map=SCALARS),
)
