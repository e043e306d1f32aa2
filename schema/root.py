"""The root schema: a table of contents of the features."""

from __future__ import annotations

import strawberry
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from schema.aws import SCALARS
from schema.customers import CustomerMutation, CustomerQuery
from schema.orders import OrderMutation, OrderQuery, OrderSubscription
from schema.products import ProductMutation, ProductQuery, ProductSubscription
from schema.region import RegionQuery

Query = merge_types("Query", (ProductQuery, CustomerQuery, OrderQuery, RegionQuery))
Mutation = merge_types("Mutation", (ProductMutation, CustomerMutation, OrderMutation))
Subscription = merge_types("Subscription", (ProductSubscription, OrderSubscription))

schema = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    config=StrawberryConfig(scalar_map=SCALARS),
)
