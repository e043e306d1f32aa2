"""The schema's auth directives say what DESIGN.md's Auth table says, field by field.

AppSync decides from the directives alone who reaches a root field, before any resolver
runs; a field left open to every signed-in user gives a user in no group the powers of
a customer. Anonymous callers hold the public client token (AWS_LAMBDA, the same in
every region); no field is open to an API key, which AppSync would generate per region.
"""

from __future__ import annotations

from emulator.appsync.auth import AWS_IAM, AWS_LAMBDA, COGNITO
from emulator.appsync.executor import auth_modes, load_schema

ANYONE_WITH_THE_TOKEN = {AWS_LAMBDA: None, COGNITO: None}
CUSTOMERS_AND_STAFF = {COGNITO: {"customers", "staff"}}
STAFF_ONLY = {COGNITO: {"staff"}}
STREAM_HANDLER = {AWS_IAM: None}

AUTH_TABLE: dict[str, dict[str, set[str] | None]] = {
    "Query.product": ANYONE_WITH_THE_TOKEN,
    "Query.products": ANYONE_WITH_THE_TOKEN,
    "Query.region": ANYONE_WITH_THE_TOKEN,
    "Query.customer": CUSTOMERS_AND_STAFF,
    "Query.order": CUSTOMERS_AND_STAFF,
    "Query.ordersByCustomer": CUSTOMERS_AND_STAFF,
    "Mutation.createProduct": STAFF_ONLY,
    "Mutation.updateProduct": STAFF_ONLY,
    "Mutation.adjustStock": STAFF_ONLY,
    "Mutation.registerCustomer": CUSTOMERS_AND_STAFF,
    "Mutation.placeOrder": CUSTOMERS_AND_STAFF,
    "Mutation.cancelOrder": CUSTOMERS_AND_STAFF,
    "Mutation.shipOrder": STAFF_ONLY,
    "Mutation.publishProductChanged": STREAM_HANDLER,
    "Mutation.publishOrderChanged": STREAM_HANDLER,
    "Subscription.onProductChanged": ANYONE_WITH_THE_TOKEN,
    "Subscription.onOrderChanged": CUSTOMERS_AND_STAFF,
}


def test_every_root_field_allows_exactly_whom_the_auth_table_names() -> None:
    """GIVEN the deployable schema WHEN each root field's directives are read as AppSync
    reads them THEN each allows exactly the modes and Cognito groups of DESIGN.md's Auth
    table: customer operations need the customers (or staff) group, so a signed-in user
    in neither group keeps only what the public client token may do; and no root field is missing
    from the table."""
    schema = load_schema()
    roots = [root for root in (schema.query_type, schema.mutation_type, schema.subscription_type)]

    allowed = {
        f"{root.name}.{name}": auth_modes(field, root)
        for root in roots
        if root is not None
        for name, field in root.fields.items()
    }

    assert allowed == AUTH_TABLE
