"""AppSync's AWS_LAMBDA mode in the emulator: what the authorizer is sent, and how its
answer is honoured and kept."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from emulator.appsync.auth import AWS_LAMBDA, COGNITO, Caller, LocalCredentials, authenticate
from emulator.appsync.lambda_auth import LambdaAuthorizer, Operation
from emulator.cloud.jwt_issuer import LocalIssuer
from emulator.cloud.server import LOCAL_ACCOUNT_ID
from resolvers.authorizer import Authorizer, ClientTokens
from resolvers.secret_values import CachedSecret
from tests.unit.fakes import (
    PUBLIC_TOKEN,
    WRONG_TOKEN,
    FakeAuthorizerFunction,
    FakeSecretsManager,
    ManualClock,
    lambda_authorizer,
)

HEADERS = {"authorization": PUBLIC_TOKEN, "host": "127.0.0.1:4000", "user-agent": "unit"}
PRODUCTS = Operation("query Shelf($c: String) { products(category: $c) { items { id } } }")


def caller_for(
    authorizer: LambdaAuthorizer,
    token: str = PUBLIC_TOKEN,
    operation: Operation | None = None,
    issuer: LocalIssuer | None = None,
) -> Caller | None:
    """What the region makes of a request carrying ``token`` as its Authorization."""
    headers = {**HEADERS, "authorization": token}
    return asyncio.run(
        authenticate(LocalCredentials(), "us-east-1", headers, None, issuer, authorizer, operation)
    )


def test_the_authorizer_gets_appsyncs_event_and_its_context_reaches_the_resolvers() -> None:
    """GIVEN the client token on a query WHEN it is authenticated THEN the authorizer got
    AppSync's event (the token, the API and account, the query, its operation name and
    variables, the request's headers), and the caller's identity is the resolverContext
    it answered, as a resolver Lambda sees it."""
    function = FakeAuthorizerFunction()
    authorizer = lambda_authorizer(function, api_id="gatewaylocaluseast1")
    operation = Operation(PRODUCTS.query, {"c": "toys"}, "Shelf")

    caller = caller_for(authorizer, operation=operation)

    [event] = function.events
    assert event["authorizationToken"] == PUBLIC_TOKEN
    context = event["requestContext"]
    assert (context["apiId"], context["accountId"]) == ("gatewaylocaluseast1", LOCAL_ACCOUNT_ID)
    assert context["requestId"]
    assert (context["queryString"], context["operationName"], context["variables"]) == (
        PRODUCTS.query,
        "Shelf",
        {"c": "toys"},
    )
    assert event["requestHeaders"] == HEADERS
    assert caller is not None
    assert (caller.mode, caller.identity) == (AWS_LAMBDA, {"resolverContext": {"access": "public"}})
    assert caller.credential == PUBLIC_TOKEN


def test_an_answer_is_kept_per_token_for_the_apis_ttl_whatever_is_asked() -> None:
    """GIVEN an authorizer with the deployed 300 s TTL WHEN the same token comes with
    other queries within it THEN the function ran once; after the TTL it runs again."""
    function = FakeAuthorizerFunction()
    clock = ManualClock()
    authorizer = lambda_authorizer(function, clock)

    for query in ("{ region { name } }", "{ products { items { id } } }"):
        assert caller_for(authorizer, operation=Operation(query)) is not None
    clock.advance(299)
    assert caller_for(authorizer) is not None
    runs_within = len(function.events)
    clock.advance(1)
    assert caller_for(authorizer) is not None

    assert (runs_within, len(function.events)) == (1, 2)


def test_a_refusal_is_kept_too_so_a_wrong_token_costs_one_run_per_ttl() -> None:
    """GIVEN a wrong client token WHEN it is sent again and again THEN every request is
    refused and the function ran once."""
    function = FakeAuthorizerFunction()
    authorizer = lambda_authorizer(function)

    refused = [caller_for(authorizer, WRONG_TOKEN) for _ in range(5)]

    assert refused == [None] * 5
    assert len(function.events) == 1


@pytest.mark.parametrize(("ttl_override", "runs"), [(0, 3), (10, 1)])
def test_ttl_override_replaces_the_apis_ttl(ttl_override: int, runs: int) -> None:
    """GIVEN the function answers ttlOverride WHEN three requests come within 5 s THEN 0
    keeps nothing (three runs), 10 keeps the answer (one run)."""
    function = FakeAuthorizerFunction(ttlOverride=ttl_override)
    clock = ManualClock()
    authorizer = lambda_authorizer(function, clock)

    for _ in range(3):
        assert caller_for(authorizer) is not None
        clock.advance(2)

    assert len(function.events) == runs


def test_denied_fields_become_the_callers_refused_fields() -> None:
    """GIVEN the function denies fields by short name, by this API's field ARN, and by
    another API's ARN WHEN the caller is made THEN it is refused the first two, and the
    other API's field means nothing here."""
    denied = [
        "Query.region",
        "arn:aws:appsync:us-east-1:123456789012:apis/gatewaylocalapi/types/Product/fields/stock",
        "arn:aws:appsync:us-east-1:123456789012:apis/someotherapi/types/Query/fields/product",
    ]
    authorizer = lambda_authorizer(FakeAuthorizerFunction(deniedFields=denied))

    caller = caller_for(authorizer)

    assert caller is not None
    assert caller.denied_fields == frozenset({"Query.region", "Product.stock"})
    assert caller.denies("Product", "stock") and not caller.denies("Query", "product")


def answering(response: Any) -> Any:
    def function(event: dict[str, Any]) -> Any:
        function.runs += 1  # type: ignore[attr-defined]
        if isinstance(response, Exception):
            raise response
        return response

    function.runs = 0  # type: ignore[attr-defined]
    return function


@pytest.mark.parametrize(
    "response",
    [
        RuntimeError("the function timed out"),
        None,
        {"authorized": True},
        {"isAuthorized": "yes"},
        {"isAuthorized": True, "resolverContext": ["not", "an", "object"]},
        {"isAuthorized": True, "deniedFields": "Query.region"},
        {"isAuthorized": True, "ttlOverride": -1},
    ],
    ids=[
        "raises",
        "null",
        "no isAuthorized",
        "not a boolean",
        "context not an object",
        "denied not a list",
        "negative ttl",
    ],
)
def test_a_failing_or_malformed_authorizer_refuses_and_keeps_nothing(response: Any) -> None:
    """GIVEN an authorizer function that fails or answers outside AppSync's shape WHEN a
    request comes twice THEN both are refused (401, never a 5xx), and the function is
    asked again the second time: nothing wrong is kept."""
    function = answering(response)
    authorizer = lambda_authorizer(function)

    assert [caller_for(authorizer), caller_for(authorizer)] == [None, None]
    assert function.runs == 2


def test_only_what_matches_the_pattern_goes_to_the_authorizer() -> None:
    """GIVEN an API with the authorizer and a user pool WHEN a user-pool JWT, a Bearer
    JWT, an API key or nothing comes THEN the authorizer never runs: the JWTs are
    user-pool callers, the rest nobody."""
    function = FakeAuthorizerFunction()
    authorizer = lambda_authorizer(function)
    issuer = LocalIssuer(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    jwt = issuer.mint("ana", ["customers"])

    raw = caller_for(authorizer, jwt, issuer=issuer)
    bearer = caller_for(authorizer, f"Bearer {jwt}", issuer=issuer)
    api_key = asyncio.run(
        authenticate(
            LocalCredentials(), "us-east-1", {"x-api-key": "da2-x"}, None, issuer, authorizer
        )
    )

    assert raw is not None and bearer is not None
    assert (raw.mode, bearer.mode) == (COGNITO, COGNITO)
    assert api_key is None
    assert function.events == []


def deployed_region(secret_value: str) -> LambdaAuthorizer:
    """A region's AWS_LAMBDA mode running the real authorizer over its own replica of
    the client-token secret."""
    replica = FakeSecretsManager("gateway-client-tokens", secret_value)
    function = Authorizer(ClientTokens(CachedSecret(lambda: replica, replica.secret_id, 300.0)))
    return lambda_authorizer(lambda event: function(event))


def test_one_client_token_works_in_every_region_that_reads_the_same_secret() -> None:
    """GIVEN two regions, each reading its own replica of the one client-token secret
    WHEN the same token reaches either THEN both let it in; a wrong token neither."""
    value = json.dumps({"tokens": PUBLIC_TOKEN})
    regions = [deployed_region(value), deployed_region(value)]

    assert [caller_for(region) is not None for region in regions] == [True, True]
    assert [caller_for(region, WRONG_TOKEN) for region in regions] == [None, None]
