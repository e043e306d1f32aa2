"""The executor: each root field becomes the direct Lambda event AppSync sends, errors AppSync's."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Any, TypeVar

import pytest

from domain.errors import NotFound
from emulator.appsync.auth import (
    AWS_IAM,
    AWS_LAMBDA,
    COGNITO,
    Caller,
    LocalCredentials,
    iam_identity,
)
from emulator.appsync.executor import Executor, load_schema

SCHEMA = load_schema()
TOKEN = "PublicClientToken0000000000000000000000001"
PUBLIC_IDENTITY = {"resolverContext": {"access": "public"}}
PUBLIC_CALLER = Caller(
    AWS_LAMBDA, PUBLIC_IDENTITY, {"authorization": TOKEN, "user-agent": "unit"}, credential=TOKEN
)
IAM_CALLER = Caller(AWS_IAM, iam_identity(LocalCredentials()), {"authorization": "AWS4..."})
STAFF_CALLER = Caller(COGNITO, {"sub": "s-1", "groups": ["staff"]}, {"authorization": "jwt"})
BALL = {"id": "p-1", "name": "Ball", "category": "toys", "stock": 10, "version": 1}
T = TypeVar("T")
LOOP = asyncio.new_event_loop()  # made at import, before the conftest refuses sockets


def run(step: Awaitable[T]) -> T:
    """Run one coroutine to its end on the module's loop."""
    return LOOP.run_until_complete(step)


class FakeLambda:
    """The resolver Lambda: records each event, answers from a script or raises."""

    def __init__(self, *answers: Any) -> None:
        self.events: list[dict[str, Any]] = []
        self._answers = list(answers)

    def __call__(self, event: dict[str, Any]) -> Any:
        self.events.append(event)
        answer = self._answers.pop(0) if self._answers else None
        if isinstance(answer, BaseException):
            raise answer
        return answer


def test_a_field_is_sent_as_appsyncs_direct_lambda_event() -> None:
    """
    GIVEN a query for one product, with its id in a variable, by a public-token caller
    WHEN it is executed
    THEN the Lambda gets AppSync's event (the authorizer's resolverContext as its
    identity), and the answer is the Lambda's value
    """
    invoke = FakeLambda(BALL)
    query = "query One($id: ID!) { product(id: $id) { id name } }"

    outcome = run(Executor(SCHEMA, invoke).execute(query, {"id": "p-1"}, "One", PUBLIC_CALLER))

    assert outcome.response == {"data": {"product": {"id": "p-1", "name": "Ball"}}}
    [event] = invoke.events
    assert event["arguments"] == {"id": "p-1"}
    assert event["identity"] == PUBLIC_IDENTITY
    assert event["source"] is None
    assert event["request"]["headers"] == {"authorization": TOKEN, "user-agent": "unit"}
    info = event["info"]
    assert info["fieldName"] == "product"
    assert info["parentTypeName"] == "Query"
    assert info["variables"] == {"id": "p-1"}
    assert info["selectionSetList"] == ["id", "name"]
    assert "name" in info["selectionSetGraphQL"]


def test_the_selection_set_list_follows_nesting_and_fragments() -> None:
    """
    GIVEN a listing whose items are selected through a named and an inline fragment
    WHEN it is executed
    THEN selectionSetList holds every field as a slash path, fragments expanded, once each
    """
    invoke = FakeLambda({"items": [BALL], "nextToken": None})
    query = """
        query {
          products(category: "toys") {
            items { ...Card ... on Product { id stock } }
            nextToken
          }
        }
        fragment Card on Product { id name }
    """

    outcome = run(Executor(SCHEMA, invoke).execute(query, None, None, PUBLIC_CALLER))

    assert outcome.response["data"]["products"]["items"] == [
        {"id": "p-1", "name": "Ball", "stock": 10}
    ]
    info = invoke.events[0]["info"]
    assert info["selectionSetList"] == [
        "items",
        "items/id",
        "items/name",
        "items/stock",
        "nextToken",
    ]
    assert info["selectionSetGraphQL"].startswith("{")
    assert invoke.events[0]["arguments"] == {"category": "toys"}


def test_a_domain_error_becomes_an_appsync_error_with_its_type() -> None:
    """
    GIVEN a Lambda that raises NotFound("x") with error info
    WHEN a product is queried
    THEN the answer holds null for the field and one error typed NotFound, placed and located
    """
    invoke = FakeLambda(NotFound("x", {"id": "p-404"}))

    outcome = run(
        Executor(SCHEMA, invoke).execute(
            '{ product(id: "p-404") { id } }', None, None, PUBLIC_CALLER
        )
    )

    assert outcome.response["data"] == {"product": None}
    [error] = outcome.response["errors"]
    assert error["errorType"] == "NotFound"
    assert error["message"] == "x"
    assert error["path"] == ["product"]
    assert error["locations"] == [{"line": 1, "column": 3, "sourceName": None}]
    assert error["errorInfo"] == {"id": "p-404"}


def test_an_unexpected_failure_is_reported_without_its_details() -> None:
    """
    GIVEN a Lambda that crashes with a message naming a secret and a local path
    WHEN a product is queried
    THEN the client sees InternalFailure, and neither the secret nor the path
    """
    invoke = FakeLambda(RuntimeError("secret /work/path"))

    outcome = run(
        Executor(SCHEMA, invoke).execute('{ product(id: "p-1") { id } }', None, None, PUBLIC_CALLER)
    )

    assert outcome.response["data"] == {"product": None}
    [error] = outcome.response["errors"]
    assert error["errorType"] == "InternalFailure"
    assert error["path"] == ["product"]
    assert "secret" not in error["message"]
    assert "/work" not in error["message"]
    assert "secret" not in str(outcome.response)


def test_a_syntax_error_is_a_located_validation_error_and_invokes_nothing() -> None:
    """
    GIVEN a document that does not parse
    WHEN it is executed
    THEN the answer is a ValidationError with the location of the mistake, and no Lambda runs
    """
    invoke = FakeLambda()

    outcome = run(Executor(SCHEMA, invoke).execute("{ product(id: ", None, None, PUBLIC_CALLER))

    assert outcome.response["data"] is None
    error = outcome.response["errors"][0]
    assert error["errorType"] == "ValidationError"
    assert error["locations"] == [{"line": 1, "column": 15, "sourceName": None}]
    assert invoke.events == []


def test_an_unknown_field_is_a_validation_error_and_invokes_nothing() -> None:
    """
    GIVEN a query selecting a field Product does not have
    WHEN it is executed
    THEN the answer is a ValidationError naming the field, and no Lambda runs
    """
    invoke = FakeLambda()

    outcome = run(
        Executor(SCHEMA, invoke).execute(
            '{ product(id: "p-1") { colour } }', None, None, PUBLIC_CALLER
        )
    )

    assert outcome.response["data"] is None
    error = outcome.response["errors"][0]
    assert error["errorType"] == "ValidationError"
    assert "colour" in error["message"]
    assert error["locations"]
    assert invoke.events == []


PUBLISH = """
    mutation {
      publishProductChanged(
        id: "p-1", sku: "BALL-1", name: "Ball", description: "Bouncy", category: "toys",
        priceCents: 499, currency: "USD", stock: 10, version: 2, updatedAt: "2024-05-01T12:00:00Z"
      ) { id name category version }
    }
"""


def test_a_public_caller_may_not_publish() -> None:
    """
    GIVEN publishProductChanged, allowed for @aws_iam only
    WHEN a caller with the public client token sends it
    THEN it is Unauthorized, the Lambda is not called, and nothing is published
    """
    invoke = FakeLambda()

    outcome = run(Executor(SCHEMA, invoke).execute(PUBLISH, None, None, PUBLIC_CALLER))

    assert outcome.response["data"] == {"publishProductChanged": None}
    [error] = outcome.response["errors"]
    assert error["errorType"] == "Unauthorized"
    assert error["path"] == ["publishProductChanged"]
    assert invoke.events == []
    assert outcome.published == []


def test_an_iam_caller_publishes_the_mutations_selection() -> None:
    """
    GIVEN publishProductChanged sent by the stream handler's IAM identity
    WHEN it is executed
    THEN the Lambda gets the IAM identity, and the outcome publishes the mutation's selection
    """
    invoke = FakeLambda({**BALL, "version": 2})

    outcome = run(Executor(SCHEMA, invoke).execute(PUBLISH, None, None, IAM_CALLER))

    payload = {"id": "p-1", "name": "Ball", "category": "toys", "version": 2}
    assert outcome.response == {"data": {"publishProductChanged": payload}}
    assert outcome.published == [("publishProductChanged", payload)]
    [event] = invoke.events
    assert event["identity"] == IAM_CALLER.identity
    assert event["info"]["parentTypeName"] == "Mutation"
    assert event["arguments"]["updatedAt"] == "2024-05-01T12:00:00Z"


@pytest.mark.parametrize(
    "query",
    [
        "subscription { onProductChanged { id } }",
        'subscription Watch { onProductChanged(category: "toys") { id name } }',
    ],
)
def test_a_subscription_sent_to_execute_is_refused(query: str) -> None:
    """
    GIVEN a subscription operation sent over HTTP
    WHEN it is executed
    THEN it is a ValidationError pointing at the WebSocket, and no Lambda runs
    """
    invoke = FakeLambda()

    outcome = run(Executor(SCHEMA, invoke).execute(query, None, None, PUBLIC_CALLER))

    assert outcome.response["data"] is None
    [error] = outcome.response["errors"]
    assert error["errorType"] == "ValidationError"
    assert "WebSocket" in error["message"]
    assert invoke.events == []


def test_each_root_field_is_its_own_invocation() -> None:
    """
    GIVEN one query with two aliased product fields
    WHEN it is executed
    THEN the Lambda is invoked once for each, with that field's arguments
    """
    invoke = FakeLambda(BALL, {**BALL, "id": "p-2", "name": "Kite"})
    query = '{ a: product(id: "p-1") { name } b: product(id: "p-2") { name } }'

    outcome = run(Executor(SCHEMA, invoke).execute(query, None, None, PUBLIC_CALLER))

    assert outcome.response == {"data": {"a": {"name": "Ball"}, "b": {"name": "Kite"}}}
    assert [event["arguments"] for event in invoke.events] == [{"id": "p-1"}, {"id": "p-2"}]
    assert outcome.published == []


def test_one_failing_field_leaves_the_others_answered() -> None:
    """
    GIVEN two root fields, the first of which is not found
    WHEN they are executed together
    THEN the first is null with a NotFound error at its path, and the second is answered
    """
    invoke = FakeLambda(NotFound("Product p-9 does not exist."), {"name": "region"})
    query = '{ product(id: "p-9") { id } region { name } }'

    outcome = run(Executor(SCHEMA, invoke).execute(query, None, None, PUBLIC_CALLER))

    assert outcome.response["data"] == {"product": None, "region": {"name": "region"}}
    assert [(e["errorType"], e["path"]) for e in outcome.response["errors"]] == [
        ("NotFound", ["product"])
    ]


@pytest.mark.parametrize(
    ("query", "variables", "named"),
    [
        ("query Q($n: Int) { products(first: $n) { nextToken } }", {"n": "abc"}, "Int"),
        ("query Q($id: ID!) { product(id: $id) { id } }", {}, "ID!"),
    ],
    ids=["wrong-type", "missing-required"],
)
def test_bad_variable_values_are_a_validation_error(
    query: str, variables: dict[str, Any], named: str
) -> None:
    """
    GIVEN a valid document whose variables are of the wrong type, or missing
    WHEN it is executed
    THEN the client is told it is a ValidationError, not an internal failure, and no Lambda runs
    """
    invoke = FakeLambda()

    outcome = run(Executor(SCHEMA, invoke).execute(query, variables, None, PUBLIC_CALLER))

    assert outcome.response["data"] is None
    [error] = outcome.response["errors"]
    assert error["errorType"] == "ValidationError"
    assert named in error["message"]
    assert invoke.events == []


class Clock:
    """Monotonic seconds that move only when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_fields_of_a_request_share_one_read_your_writes_deadline() -> None:
    """
    GIVEN a read-your-writes budget of 1 s per request, and three product fields whose
          invocations each take 300 ms to start
    WHEN the query is executed
    THEN each event's stash says how much of the request's one budget is left (1000,
         700, 400 ms): the fields share a deadline instead of getting 1 s each
    """
    clock = Clock()
    events: list[dict[str, Any]] = []

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        events.append(event)
        clock.now += 0.3
        return BALL

    executor = Executor(SCHEMA, invoke, wait_budget_s=1.0, clock=clock)
    query = (
        '{ a: product(id: "p-1") { id } b: product(id: "p-2") { id } c: product(id: "p-3") { id } }'
    )

    run(executor.execute(query, None, None, PUBLIC_CALLER))

    assert [event["stash"]["waitMsLeft"] for event in events] == [1000, 700, 400]


def test_the_root_fields_of_a_query_run_at_once() -> None:
    """
    GIVEN a Lambda whose invocations each wait until three are under way
    WHEN a query of three root fields is executed
    THEN all three are answered: they ran at once, as AppSync resolves a query's fields
         in parallel, so one slow field does not hold up the others
    """
    started: list[str] = []
    all_started = asyncio.Event()

    async def invoke(event: dict[str, Any]) -> dict[str, Any]:
        started.append(event["arguments"]["id"])
        if len(started) == 3:
            all_started.set()
        await asyncio.wait_for(all_started.wait(), 2.0)
        return {**BALL, "id": event["arguments"]["id"]}

    query = (
        '{ a: product(id: "p-1") { id } b: product(id: "p-2") { id } c: product(id: "p-3") { id } }'
    )

    outcome = run(Executor(SCHEMA, invoke).execute(query, None, None, PUBLIC_CALLER))

    assert outcome.response == {
        "data": {"a": {"id": "p-1"}, "b": {"id": "p-2"}, "c": {"id": "p-3"}}
    }


def test_a_cancelled_request_starts_no_more_invocations() -> None:
    """
    GIVEN a mutation of three root fields (run one after the other), whose first
          invocation never finishes
    WHEN the request is cancelled (its client went away) while the first is under way
    THEN the invocation is cancelled and the other two are never started
    """
    started: list[str] = []
    cancelled: list[str] = []

    async def invoke(event: dict[str, Any]) -> Any:
        started.append(event["info"]["fieldName"])
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(event["info"]["fieldName"])
            raise

    mutation = """mutation {
      a: adjustStock(input: {id: "p-1", delta: 1}) { id }
      b: adjustStock(input: {id: "p-2", delta: 1}) { id }
      c: adjustStock(input: {id: "p-3", delta: 1}) { id }
    }"""
    executor = Executor(SCHEMA, invoke)

    async def go_away() -> None:
        task = asyncio.ensure_future(executor.execute(mutation, None, None, STAFF_CALLER))
        while not started:
            await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    run(go_away())

    assert (started, cancelled) == (["adjustStock"], ["adjustStock"])


def test_a_field_the_authorizer_denied_is_refused_before_its_resolver_runs() -> None:
    """
    GIVEN a caller whose Lambda authorizer answered deniedFields ["Query.product"]
    WHEN it asks for product and region
    THEN product is null with Unauthorized and its resolver never ran; region, not
    denied, is answered
    """
    invoke = FakeLambda({"name": "us-east-1"})
    denied = Caller(AWS_LAMBDA, PUBLIC_IDENTITY, denied_fields=frozenset({"Query.product"}))

    outcome = run(
        Executor(SCHEMA, invoke).execute(
            '{ product(id: "p-1") { id } region { name } }', None, None, denied
        )
    )

    assert outcome.response["data"] == {"product": None, "region": {"name": "us-east-1"}}
    [error] = outcome.response["errors"]
    assert (error["errorType"], error["path"]) == ("Unauthorized", ["product"])
    assert [event["info"]["fieldName"] for event in invoke.events] == ["region"]


def test_a_nested_field_the_authorizer_denied_is_null_whatever_the_resolver_said() -> None:
    """
    GIVEN a caller denied Product.stock by its authorizer
    WHEN the resolver answers a product with its stock
    THEN stock is refused with an Unauthorized error at its path, and, stock being
    non-null, the product holding it is null (GraphQL's null propagation): the value
    never reaches the caller
    """
    invoke = FakeLambda(BALL)
    denied = Caller(AWS_LAMBDA, PUBLIC_IDENTITY, denied_fields=frozenset({"Product.stock"}))

    outcome = run(
        Executor(SCHEMA, invoke).execute(
            '{ product(id: "p-1") { name stock } }', None, None, denied
        )
    )

    assert outcome.response["data"] == {"product": None}
    [error] = outcome.response["errors"]
    assert (error["errorType"], error["path"]) == ("Unauthorized", ["product", "stock"])
