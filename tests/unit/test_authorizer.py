"""The Lambda authorizer: one public client token, read from the region's secret."""

from __future__ import annotations

import json
from typing import Any

import pytest

from projections.settings import Settings
from resolvers.authorizer import RESOLVER_CONTEXT, Authorizer, ClientTokens, build_authorizer
from resolvers.secret_values import RETRY_AFTER_FAILURE_S, CachedSecret
from tests.unit.fakes import FakeSecretsManager, ManualClock, client_error

SECRET = "gateway-client-tokens-test"
TOKEN = "PublicClientToken0000000000000000000000001"
NEXT_TOKEN = "PublicClientToken0000000000000000000000002"
CACHE_S = 300.0


def authorizer_over(secrets: FakeSecretsManager, clock: ManualClock | None = None) -> Authorizer:
    cached = CachedSecret(lambda: secrets, SECRET, CACHE_S, clock or ManualClock())
    return Authorizer(ClientTokens(cached))


def listing(*tokens: str) -> str:
    return json.dumps({"tokens": list(tokens)})


def event(token: Any) -> dict[str, Any]:
    """What AppSync sends: the token, the request's context and its headers."""
    return {
        "authorizationToken": token,
        "requestContext": {
            "apiId": "localapi",
            "accountId": "123456789012",
            "requestId": "r-1",
            "queryString": "{ products { items { id } } }",
            "operationName": None,
            "variables": {},
        },
        "requestHeaders": {"authorization": str(token)},
    }


def test_the_deployed_token_is_authorized_as_a_public_caller() -> None:
    """GIVEN the secret as deployed, one generated token as a plain string WHEN a client
    sends that token THEN it is authorized, and the resolvers will see a public caller."""
    authorizer = authorizer_over(FakeSecretsManager(SECRET, json.dumps({"tokens": TOKEN})))

    answer = authorizer(event(TOKEN))

    assert answer == {"isAuthorized": True, "resolverContext": RESOLVER_CONTEXT}


def test_during_a_rotation_both_tokens_work_and_after_it_only_the_new_one() -> None:
    """GIVEN the secret lists the new token and the old WHEN clients send either THEN both
    are authorized; once the operator drops the old one and the cache time has passed,
    the old token is refused and the new one still works."""
    secrets = FakeSecretsManager(SECRET, listing(NEXT_TOKEN, TOKEN))
    clock = ManualClock()
    authorizer = authorizer_over(secrets, clock)

    assert authorizer(event(TOKEN))["isAuthorized"] is True
    assert authorizer(event(NEXT_TOKEN))["isAuthorized"] is True

    secrets.rotate(listing(NEXT_TOKEN))
    clock.advance(CACHE_S)

    assert authorizer(event(TOKEN)) == {"isAuthorized": False}
    assert authorizer(event(NEXT_TOKEN))["isAuthorized"] is True


def test_the_secret_is_read_once_per_cache_time_not_per_request() -> None:
    """GIVEN a warm authorizer WHEN many requests arrive within the cache time THEN the
    secret was read once: Secrets Manager is not on every request's path."""
    secrets = FakeSecretsManager(SECRET, listing(TOKEN))
    authorizer = authorizer_over(secrets)

    answers = [authorizer(event(TOKEN))["isAuthorized"] for _ in range(50)]

    assert answers == [True] * 50
    assert secrets.reads == 1


@pytest.mark.parametrize(
    "token",
    [
        "WrongClientToken00000000000000000000000001",
        TOKEN[:-1],
        TOKEN + "0",
        TOKEN.lower(),
        f" {TOKEN}",
        f"Bearer {TOKEN}",
        "",
        None,
        42,
        ["list"],
        {"tokens": [TOKEN]},
        TOKEN + "\ud800",
        "é" * 40,
        "x" * 100_000,
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl",
    ],
    ids=[
        "another token",
        "one character short",
        "one character more",
        "other case",
        "padded",
        "bearer prefix",
        "empty",
        "none",
        "a number",
        "a list",
        "an object",
        "lone surrogate",
        "non-ascii",
        "huge",
        "a jwt",
    ],
)
def test_a_wrong_or_hostile_token_is_refused_and_the_refusal_may_be_cached(token: Any) -> None:
    """GIVEN the accepted token WHEN anything else arrives as the token THEN it is
    refused without an error, and without ttlOverride: AppSync may keep the refusal."""
    authorizer = authorizer_over(FakeSecretsManager(SECRET, listing(TOKEN)))

    assert authorizer(event(token)) == {"isAuthorized": False}


@pytest.mark.parametrize("hostile", [None, "text", [1, 2], {"requestContext": {}}])
def test_an_event_that_is_not_appsyncs_is_refused(hostile: Any) -> None:
    """GIVEN an event of the wrong shape WHEN the authorizer runs THEN it refuses."""
    authorizer = authorizer_over(FakeSecretsManager(SECRET, listing(TOKEN)))

    assert authorizer(hostile) == {"isAuthorized": False}


def test_a_cold_secret_read_that_fails_refuses_without_caching_and_recovers() -> None:
    """GIVEN a cold authorizer whose region cannot read the secret WHEN the right token
    arrives THEN it is refused with ttlOverride 0 (AppSync keeps nothing, so no client
    stays refused), the next read waits a few seconds, and once the secret can be read
    the same token is authorized."""
    secrets = FakeSecretsManager(SECRET, listing(TOKEN))
    secrets.failure = client_error("ThrottlingException", "Rate exceeded")
    clock = ManualClock()
    authorizer = authorizer_over(secrets, clock)

    first = authorizer(event(TOKEN))
    again = authorizer(event(TOKEN))
    secrets.failure = None
    clock.advance(RETRY_AFTER_FAILURE_S)
    recovered = authorizer(event(TOKEN))

    assert first == again == {"isAuthorized": False, "ttlOverride": 0}
    assert secrets.reads == 2
    assert recovered["isAuthorized"] is True


@pytest.mark.parametrize(
    "value",
    ["not json", "[]", "{}", '{"tokens": []}', '{"tokens": [""]}', '{"tokens": [7]}'],
)
def test_a_secret_without_a_token_list_refuses_everyone_without_caching(value: str) -> None:
    """GIVEN an operator wrote the secret in the wrong shape WHEN a token arrives THEN
    it is refused with ttlOverride 0, so fixing the secret lets clients in at once."""
    authorizer = authorizer_over(FakeSecretsManager(SECRET, value))

    assert authorizer(event(TOKEN)) == {"isAuthorized": False, "ttlOverride": 0}


def test_an_authorizer_needs_the_name_of_its_secret() -> None:
    """GIVEN settings naming no client-token secret WHEN the authorizer is built THEN it
    says which variable is missing, at the first cold start, not on every request."""
    with pytest.raises(ValueError, match="GATEWAY_CLIENT_TOKEN_SECRET"):
        build_authorizer(Settings(region="us-east-1", primary_region="us-east-1"))
