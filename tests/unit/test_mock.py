"""Mock mode: plausible, repeatable data where no resolver answers yet; auth still holds."""

from __future__ import annotations

import asyncio
import re
from types import SimpleNamespace
from typing import Any

import pytest
from graphql import GraphQLObjectType, GraphQLScalarType, GraphQLSchema

from cli.schema_gate import load_schema_text
from emulator.appsync.auth import AWS_LAMBDA, COGNITO, Caller
from emulator.appsync.executor import Executor, load_schema
from emulator.appsync.subscriptions import Subscriptions
from emulator.mock.data import CURRENCIES, MockData
from emulator.mock.stand_in import ALL, MISSING, MockLambda, UnknownSubscription, emit
from schema import export

STAFF = Caller(COGNITO, {"sub": "staff-1", "groups": ["staff"]})
PUBLIC = Caller(AWS_LAMBDA, {"resolverContext": {}}, {"authorization": "token"})
# What a front-end team adds before the back end has it: a new field and a new query.
NEXT_SCHEMA = export.SCHEMA_FILE.read_text() + (
    '\nextend type Product {\n  """Average review, 1 to 5."""\n  rating: Float\n}\n'
    'extend type Query {\n  """Products to show beside one."""\n'
    "  recommendations(productId: ID!, first: Int): [Product!]! @aws_lambda\n}\n"
)
REAL_PRODUCT = {
    "id": "p-1",
    "sku": "LAMP-1",
    "name": "Desk lamp",
    "description": "",
    "category": "lighting",
    "priceCents": 4500,
    "currency": "EUR",
    "stock": 4,
    "version": 2,
    "updatedAt": "2026-11-20T10:00:00.000Z",
}


class FakeLambda:
    """The resolver Lambda as far as mock mode sees it: it records what it was asked."""

    def __init__(self, answers: dict[str, Any] | None = None) -> None:
        self.answers = answers or {}
        self.asked: list[str] = []

    def __call__(self, event: dict[str, Any]) -> Any:
        field = f"{event['info']['parentTypeName']}.{event['info']['fieldName']}"
        self.asked.append(field)
        return self.answers[field]


def executor(schema: GraphQLSchema, mode: str, fake: FakeLambda, seed: int = 0) -> Executor:
    answered = frozenset(fake.answers)
    return Executor(schema, MockLambda(fake, schema, MockData(seed), mode, answered))


def run(ex: Executor, query: str, caller: Caller = STAFF) -> dict[str, Any]:
    return asyncio.run(ex.execute(query, None, None, caller)).response


def is_valid(schema: GraphQLSchema, scalar: str, value: str) -> bool:
    """Whether AppSync's scalar (as the emulator checks it) takes ``value``."""
    definition = schema.get_type(scalar)
    assert isinstance(definition, GraphQLScalarType)
    try:
        definition.coerce_input_value(value)  # type: ignore[attr-defined]
    except Exception:
        return False
    return True


def test_a_mocked_product_looks_like_a_product() -> None:
    """GIVEN --mock all WHEN a screen asks for a product THEN it gets a name, a sku that
    fits the name, a price in cents, an ISO currency, stock and an AWSDateTime."""
    schema = load_schema()
    answer = run(
        executor(schema, ALL, FakeLambda()),
        '{ product(id: "p-9") { id sku name category priceCents currency stock updatedAt } }',
    )
    product = answer["data"]["product"]

    assert product["id"] == "p-9"
    assert re.fullmatch(r"[A-Z]+-\d{3}", product["sku"])
    assert len(product["name"].split()) >= 2
    assert product["category"] in {
        "lighting",
        "furniture",
        "kitchen",
        "textiles",
        "garden",
        "audio",
    }
    assert product["priceCents"] > 0 and product["priceCents"] % 1 == 0
    assert product["currency"] in CURRENCIES
    assert 0 <= product["stock"] <= 250
    assert is_valid(schema, "AWSDateTime", product["updatedAt"])


def test_the_same_seed_gives_the_same_data_and_another_seed_other_data() -> None:
    """GIVEN the same query twice, and once with another seed THEN a screen sees the same
    product each time (snapshot tests stay still), and another world with another seed."""
    schema = load_schema()
    query = '{ products(category: "kitchen", first: 3) { items { id name priceCents } } }'

    first = run(executor(schema, ALL, FakeLambda()), query)
    again = run(executor(schema, ALL, FakeLambda()), query)
    other = run(executor(schema, ALL, FakeLambda(), seed=7), query)

    assert first == again
    assert first != other


def test_arguments_shape_the_mocked_answer() -> None:
    """GIVEN a filter, a page size and an update THEN the answer agrees with them: every
    item is in the category asked for, there are `first` of them, and an update returns
    the new name at expectedVersion + 1."""
    ex = executor(load_schema(), ALL, FakeLambda())

    page = run(ex, '{ products(category: "garden", first: 5) { items { category } nextToken } }')
    updated = run(
        ex,
        'mutation { updateProduct(input: {id: "p-1", expectedVersion: 4, name: "Oak lamp"}) '
        "{ id name version } }",
    )

    items = page["data"]["products"]["items"]
    assert [item["category"] for item in items] == ["garden"] * 5
    assert updated["data"]["updateProduct"] == {"id": "p-1", "name": "Oak lamp", "version": 5}


def test_a_mocked_order_adds_up() -> None:
    """GIVEN a mocked order THEN each line total is quantity x unit price, the total is
    their sum, its customer is the customerId, and it changed after it was placed."""
    ex = executor(load_schema(), ALL, FakeLambda())
    answer = run(
        ex,
        '{ order(id: "o-1") { customerId customer { id email } totalCents placedAt updatedAt '
        "lines { quantity unitPriceCents lineTotalCents } } }",
    )
    order = answer["data"]["order"]

    assert all(
        line["lineTotalCents"] == line["quantity"] * line["unitPriceCents"]
        for line in order["lines"]
    )
    assert order["totalCents"] == sum(line["lineTotalCents"] for line in order["lines"])
    assert order["customer"]["id"] == order["customerId"]
    assert re.fullmatch(r"[a-z]+\.[a-z]+@example\.com", order["customer"]["email"])
    assert order["updatedAt"] >= order["placedAt"]


def test_auth_still_applies_in_mock_mode() -> None:
    """GIVEN --mock all WHEN the public token asks for a customer, or a customer ships an
    order THEN both get Unauthorized, as on AppSync: mock data is no way around auth."""
    fake = FakeLambda()
    ex = executor(load_schema(), ALL, fake)
    customer = Caller(COGNITO, {"sub": "ana", "groups": ["customers"]})

    read = run(ex, '{ customer(id: "ana") { id } }', PUBLIC)
    ship = run(ex, 'mutation { shipOrder(input: {id: "o", expectedVersion: 1}) { id } }', customer)

    assert [error["errorType"] for error in read["errors"]] == ["Unauthorized"]
    assert [error["errorType"] for error in ship["errors"]] == ["Unauthorized"]


def test_missing_mode_mocks_only_what_no_resolver_answers_yet() -> None:
    """GIVEN a schema with a new query and a new Product field, and a back end that
    answers only Query.product WHEN --mock (missing) serves a screen THEN the real
    product keeps its real values, its new field is generated, and the new query is
    answered with generated products without calling the Lambda."""
    schema = load_schema_text(NEXT_SCHEMA, "next.graphql")
    fake = FakeLambda({"Query.product": REAL_PRODUCT})
    ex = executor(schema, MISSING, fake)

    answer = run(
        ex,
        '{ product(id: "p-1") { name priceCents rating } '
        'recommendations(productId: "p-1", first: 2) { name rating } }',
        PUBLIC,
    )

    product = answer["data"]["product"]
    assert (product["name"], product["priceCents"]) == ("Desk lamp", 4500)
    assert 1 <= product["rating"] <= 5
    assert len(answer["data"]["recommendations"]) == 2
    assert fake.asked == ["Query.product"]


def test_a_null_from_a_real_resolver_stays_null() -> None:
    """GIVEN a resolver that answers null (the product does not exist) THEN missing mode
    does not invent one: only absent fields are generated."""
    schema = load_schema_text(NEXT_SCHEMA, "next.graphql")
    ex = executor(schema, MISSING, FakeLambda({"Query.product": None}))

    assert run(ex, '{ product(id: "gone") { name } }', PUBLIC)["data"] == {"product": None}


class Inbox:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def __call__(self, message: dict[str, Any]) -> None:
        self.messages.append(message)


def test_emit_reaches_each_subscriber_with_an_event_that_matches_its_filter() -> None:
    """GIVEN subscribers to lighting and to garden products WHEN an onProductChanged event
    is emitted with stock 0 THEN each hears one product in its own category, out of stock."""
    schema = load_schema()
    ex = Executor(schema, FakeLambda())
    subscriptions = Subscriptions(schema, ex.subscribed_mutations)
    region = SimpleNamespace(name="us-east-1", executor=ex, subscriptions=subscriptions)
    inboxes = {category: Inbox() for category in ("lighting", "garden")}
    for category, inbox in inboxes.items():
        query = (
            f'subscription {{ onProductChanged(category: "{category}") {{ name category stock }} }}'
        )
        asyncio.run(subscriptions.subscribe(query, None, None, PUBLIC, inbox))

    answer = asyncio.run(emit([region], MockData(), "onProductChanged", {"stock": 0}, 1))  # type: ignore[list-item]

    assert answer["delivered"] == 2
    for category, inbox in inboxes.items():
        [message] = inbox.messages
        assert message["onProductChanged"]["category"] == category
        assert message["onProductChanged"]["stock"] == 0
        assert message["onProductChanged"]["name"]


def test_emit_names_the_subscriptions_there_are() -> None:
    """GIVEN a name that is no subscription THEN the refusal lists the ones there are."""
    schema = load_schema()
    ex = Executor(schema, FakeLambda())
    region = SimpleNamespace(
        name="us-east-1", executor=ex, subscriptions=Subscriptions(schema, ex.subscribed_mutations)
    )

    with pytest.raises(UnknownSubscription, match="onOrderChanged, onProductChanged"):
        asyncio.run(emit([region], MockData(), "onPriceChanged", {}, 1))  # type: ignore[list-item]


def test_every_type_of_the_schema_can_be_mocked() -> None:
    """GIVEN every object type of the schema THEN a value of it can be generated, with
    every field set (the executor would refuse a null where the schema says `!`)."""
    schema = load_schema()
    data = MockData(3)
    for name, named in schema.type_map.items():
        if name.startswith("__") or not isinstance(named, GraphQLObjectType):
            continue
        if name in ("Query", "Mutation", "Subscription"):
            continue
        value = data.value(named, name)
        assert set(value) == set(named.fields), name
