"""Subscriptions as AppSync defines them: bound to publish mutations, filtered by arguments."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from graphql import GraphQLError

from domain.errors import LimitExceeded, Unauthorized, ValidationError
from emulator.appsync.auth import AWS_IAM, AWS_LAMBDA, Caller
from emulator.appsync.executor import load_schema, subscribed_mutations
from emulator.appsync.limits import Limits
from emulator.appsync.subscriptions import Subscriptions

SCHEMA = load_schema()
PUBLIC_CALLER = Caller(AWS_LAMBDA, {"resolverContext": {}})
ON_ANY_PRODUCT = "subscription { onProductChanged { id name category } }"


class Inbox:
    """A subscriber's ``send``: keeps every message it is given."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def __call__(self, message: dict[str, Any]) -> None:
        self.messages.append(message)


def product(**fields: Any) -> dict[str, Any]:
    """A ``publishProductChanged`` payload: every Product field, overridable."""
    return {
        "id": "p-1",
        "sku": "BALL-1",
        "name": "Ball",
        "description": "Bouncy",
        "category": "toys",
        "priceCents": 499,
        "currency": "USD",
        "stock": 10,
        "version": 1,
        "updatedAt": "2024-05-01T12:00:00Z",
        **fields,
    }


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """One event loop for the module, made before the conftest's ``no_sockets`` runs.

    An asyncio loop wakes itself through a local ``socketpair``, which the socket guard
    refuses, so ``asyncio.run`` cannot start a loop inside a unit test.
    """
    event_loop = asyncio.new_event_loop()
    yield event_loop
    event_loop.close()


def subscriptions() -> Subscriptions:
    return Subscriptions(SCHEMA, subscribed_mutations(SCHEMA))


def publish_all(
    loop: asyncio.AbstractEventLoop, subs: Subscriptions, *payloads: dict[str, Any]
) -> list[int]:
    """Publish each payload in turn; how many subscribers each reached."""

    async def run() -> list[int]:
        return [await subs.publish("publishProductChanged", payload) for payload in payloads]

    return loop.run_until_complete(run())


def subscribe(subs: Subscriptions, query: str, variables: dict[str, Any] | None = None) -> Inbox:
    inbox = Inbox()
    asyncio.run(subs.subscribe(query, variables, None, PUBLIC_CALLER, inbox))
    return inbox


TOY, BOOK, UNFILED = (
    {"id": "p-1", "category": "toys"},
    {"id": "p-2", "category": "books"},
    {"id": "p-3", "category": None},
)
BY_CATEGORY = "subscription S($c: String) { onProductChanged(category: $c) { id } }"


@pytest.mark.parametrize(
    ("query", "variables", "heard"),
    [
        ("subscription { onProductChanged { id } }", None, ["p-1", "p-2", "p-3"]),
        ('subscription { onProductChanged(category: "toys") { id } }', None, ["p-1"]),
        ('subscription { onProductChanged(id: "p-2") { id } }', None, ["p-2"]),
        (BY_CATEGORY, {"c": "books"}, ["p-2"]),
        (BY_CATEGORY, {}, ["p-1", "p-2", "p-3"]),
        ("subscription { onProductChanged(category: null) { id } }", None, ["p-3"]),
        (BY_CATEGORY, {"c": None}, ["p-3"]),
    ],
    ids=[
        "no-argument",
        "literal",
        "by-id",
        "variable",
        "variable-left-out",
        "explicit-null",
        "null-variable",
    ],
)
def test_arguments_filter_changes_as_appsync_does(
    loop: asyncio.AbstractEventLoop,
    query: str,
    variables: dict[str, Any] | None,
    heard: list[str],
) -> None:
    """
    GIVEN a subscriber to onProductChanged with, or without, a filtering argument
    WHEN a toy, a book and a product whose category is null change
    THEN it hears those whose field equals each argument it gave: an omitted argument
    matches all, an explicit null only null
    """
    subs = subscriptions()
    inbox = subscribe(subs, query, variables)

    reached = publish_all(loop, subs, product(**TOY), product(**BOOK), product(**UNFILED))

    assert [message["onProductChanged"]["id"] for message in inbox.messages] == heard
    assert sum(reached) == len(heard)


def test_each_subscriber_gets_only_its_own_selection(loop: asyncio.AbstractEventLoop) -> None:
    """
    GIVEN two subscribers selecting different fields
    WHEN one product changes
    THEN each gets exactly the fields it asked for
    """
    subs = subscriptions()
    names = subscribe(subs, "subscription { onProductChanged { name } }")
    stock = subscribe(subs, "subscription { onProductChanged { id stock version } }")

    publish_all(loop, subs, product())

    assert names.messages == [{"onProductChanged": {"name": "Ball"}}]
    assert stock.messages == [{"onProductChanged": {"id": "p-1", "stock": 10, "version": 1}}]


def test_a_field_the_payload_lacks_comes_back_null(loop: asyncio.AbstractEventLoop) -> None:
    """
    GIVEN a subscriber selecting description
    WHEN the publish mutation's payload did not select description
    THEN description comes back null, as in AppSync
    """
    subs = subscriptions()
    inbox = subscribe(subs, "subscription { onProductChanged { id description } }")
    payload = product()
    del payload["description"]

    publish_all(loop, subs, payload)

    assert inbox.messages == [{"onProductChanged": {"id": "p-1", "description": None}}]


def test_typename_aliases_and_fragments_shape_the_message(loop: asyncio.AbstractEventLoop) -> None:
    """
    GIVEN a subscriber using __typename, aliases, a named fragment and an inline fragment
    WHEN a product changes
    THEN the message uses its aliases, names the type Product, and expands both fragments
    """
    subs = subscriptions()
    query = """
        subscription Watch {
          changed: onProductChanged {
            __typename
            productId: id
            ...Price
            ... on Product { units: stock }
          }
        }
        fragment Price on Product { priceCents currency }
    """
    inbox = subscribe(subs, query)

    publish_all(loop, subs, product())

    assert inbox.messages == [
        {
            "changed": {
                "__typename": "Product",
                "productId": "p-1",
                "priceCents": 499,
                "currency": "USD",
                "units": 10,
            }
        }
    ]


def test_unsubscribing_stops_delivery(loop: asyncio.AbstractEventLoop) -> None:
    """
    GIVEN a subscriber that unsubscribes
    WHEN a product changes
    THEN it hears nothing, and nobody is counted as reached
    """
    subs = subscriptions()
    inbox = Inbox()
    subscription = asyncio.run(subs.subscribe(ON_ANY_PRODUCT, None, None, PUBLIC_CALLER, inbox))
    assert len(subs) == 1

    subs.unsubscribe(subscription)
    reached = publish_all(loop, subs, product())

    assert len(subs) == 0
    assert reached == [0]
    assert inbox.messages == []


def test_a_mutation_the_subscription_is_not_bound_to_reaches_nobody(
    loop: asyncio.AbstractEventLoop,
) -> None:
    """
    GIVEN a subscriber to onProductChanged, bound to publishProductChanged only
    WHEN a product payload is published through another mutation name
    THEN nobody hears it
    """
    subs = subscriptions()
    inbox = subscribe(subs, ON_ANY_PRODUCT)

    reached = loop.run_until_complete(subs.publish("createProduct", product()))

    assert reached == 0
    assert inbox.messages == []


def test_a_subscriber_whose_send_fails_does_not_stop_the_others(
    loop: asyncio.AbstractEventLoop,
) -> None:
    """
    GIVEN two subscribers, the first of whose connection is broken
    WHEN a product changes
    THEN the second still hears it
    """
    subs = subscriptions()

    async def broken(message: dict[str, Any]) -> None:
        raise ConnectionResetError("client went away")

    asyncio.run(subs.subscribe(ON_ANY_PRODUCT, None, None, PUBLIC_CALLER, broken))
    inbox = subscribe(subs, ON_ANY_PRODUCT)

    reached = publish_all(loop, subs, product())

    assert reached == [2]
    assert inbox.messages == [
        {"onProductChanged": {"id": "p-1", "name": "Ball", "category": "toys"}}
    ]


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("subscription { onProductChanged { id ", None),
        ("subscription { onProductChanged { colour } }", None),
        ('subscription { onProductChanged(colour: "red") { id } }', None),
        ("subscription { onProductChanged }", None),
        (BY_CATEGORY, {"c": 5}),
        ("subscription S($c: String!) { onProductChanged(category: $c) { id } }", {}),
    ],
    ids=["syntax", "unknown-field", "unknown-argument", "no-selection", "bad-var", "no-var"],
)
def test_an_invalid_subscription_is_refused_with_a_graphql_error(
    query: str, variables: dict[str, Any] | None
) -> None:
    """
    GIVEN a subscription that does not parse, does not validate, or has bad variables
    WHEN it is subscribed
    THEN a GraphQLError is raised and nothing is registered
    """
    subs = subscriptions()

    with pytest.raises(GraphQLError):
        asyncio.run(subs.subscribe(query, variables, None, PUBLIC_CALLER, Inbox()))

    assert len(subs) == 0


def test_a_query_is_not_a_subscription() -> None:
    """
    GIVEN a query operation
    WHEN it is subscribed
    THEN it is refused with a ValidationError and nothing is registered
    """
    subs = subscriptions()

    with pytest.raises(ValidationError):
        asyncio.run(
            subs.subscribe('{ product(id: "p-1") { id } }', None, None, PUBLIC_CALLER, Inbox())
        )

    assert len(subs) == 0


def test_an_iam_caller_may_not_subscribe_to_a_public_field() -> None:
    """
    GIVEN onProductChanged, allowed for @aws_lambda (and user pools) only
    WHEN an AWS_IAM caller subscribes to it
    THEN it is Unauthorized and nothing is registered
    """
    subs = subscriptions()

    with pytest.raises(Unauthorized) as raised:
        asyncio.run(subs.subscribe(ON_ANY_PRODUCT, None, None, Caller(AWS_IAM), Inbox()))

    assert "onProductChanged" in raised.value.message
    assert len(subs) == 0


def test_a_subscription_start_goes_through_the_resolver_count_limit() -> None:
    """
    GIVEN a resolver count limit of 5
    WHEN a subscription start selects 6 aliased root fields
    THEN it is refused with LimitExceeded (before validation, which would only say
         "one field"), and nothing is registered
    """
    subs = Subscriptions(SCHEMA, subscribed_mutations(SCHEMA), Limits(max_resolvers=5))
    fields = " ".join(f"a{index}: onProductChanged {{ id }}" for index in range(6))

    with pytest.raises(LimitExceeded, match="6 resolvers; the limit is 5"):
        subscribe(subs, "subscription { " + fields + " }")
    assert len(subs) == 0
