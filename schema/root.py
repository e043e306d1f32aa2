"""The root schema: a table of contents of the features."""

from __future__ import annotations

import strawberry
from strawberry.schema.config import StrawberryConfig

from schema.aws import SCALARS
from schema.customers import CustomerMutation, CustomerQuery
from schema.orders import OrderMutation, OrderQuery, OrderSubscription
from schema.products import ProductMutation, ProductQuery, ProductSubscription
from schema.region import RegionQuery


@strawberry.type(
    description="Reads, each answered from the projection of the region that got the request."
)
class Query(ProductQuery, CustomerQuery, OrderQuery, RegionQuery):
    pass


@strawberry.type(
    description="Writes, each taken by the primary region. Besides the errors each field "
    "lists, any request can get ValidationError (a malformed document or variables), "
    "LimitExceeded (depth, size or rate) and InternalFailure."
)
class Mutation(ProductMutation, CustomerMutation, OrderMutation):
    pass


@strawberry.type(
    description="Changes, pushed to subscribers in every region once that region's "
    "projection holds them; each field hears the publish mutation its @aws_subscribe names."
)
class Subscription(ProductSubscription, OrderSubscription):
    pass


schema = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    config=StrawberryConfig(scalar_map=SCALARS),
)
