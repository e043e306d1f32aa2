"""The read canary: healthy only for HTTP 200 with data and no errors."""

from __future__ import annotations

import json
from typing import Any

import pytest

from projections.observability import CANARY_SUCCESS, Observability
from resolvers.authorizer import ClientTokens
from resolvers.canary import QUERY, Canary, CanarySettings, probe
from resolvers.secret_values import SecretUnavailable

SETTINGS = CanarySettings("https://abc.appsync-api.eu-west-1.amazonaws.com/graphql")
TOKEN = "publicClientToken0000000000000000000001"
HEALTHY = {"data": {"region": {"name": "eu-west-1"}, "products": {"items": [{"id": "p1"}]}}}


class FakeApi:
    """Answers every POST with one status and body; keeps what was sent."""

    def __init__(self, status: int, body: Any, error: Exception | None = None) -> None:
        self.status = status
        self.body = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.error = error
        self.sent: list[tuple[str, dict[str, Any], dict[str, str], float]] = []

    def __call__(
        self, url: str, body: bytes, headers: dict[str, str], timeout_s: float
    ) -> tuple[int, bytes]:
        self.sent.append((url, json.loads(body), headers, timeout_s))
        if self.error is not None:
            raise self.error
        return self.status, self.body


def test_a_read_with_data_and_no_errors_is_healthy() -> None:
    """GIVEN the region answers 200 with products and its name WHEN probed THEN healthy,
    and the request was the canary query, with the client token, bounded in time."""
    api = FakeApi(200, HEALTHY)

    verdict = probe(SETTINGS, TOKEN, api)

    assert (verdict.healthy, verdict.reason, verdict.region) == (True, "ok", "eu-west-1")
    [(url, body, headers, timeout_s)] = api.sent
    assert (url, body["query"], headers["authorization"]) == (SETTINGS.url, QUERY, TOKEN)
    assert timeout_s == SETTINGS.timeout_s


def test_an_empty_catalogue_is_still_healthy() -> None:
    """GIVEN a fresh deployment with no products WHEN probed THEN healthy: the read
    worked, there is just nothing to read."""
    empty = {"data": {"region": {"name": "eu-west-1"}, "products": {"items": []}}}
    assert probe(SETTINGS, TOKEN, FakeApi(200, empty)).healthy


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (
            200,
            {
                "data": {"region": {"name": "us-east-1"}, "products": None},
                "errors": [{"errorType": "InternalFailure", "message": "x"}],
            },
            "errors: InternalFailure",
        ),
        (200, {"data": None}, "no data"),
        (200, {"data": {"region": {"name": "us-east-1"}}}, "no data"),
        (200, b"<html>", "not JSON"),
        (200, [1, 2], "not a GraphQL answer"),
        (401, {"errors": [{"errorType": "UnauthorizedException"}]}, "HTTP 401"),
        (503, b"Service Unavailable", "HTTP 503"),
    ],
)
def test_anything_but_data_without_errors_is_unhealthy(status: int, body: Any, reason: str) -> None:
    """GIVEN an answer a client could not use (errors in a 200, no data, not GraphQL, a
    4xx or 5xx) WHEN probed THEN unhealthy, saying why (error types, never messages)."""
    verdict = probe(SETTINGS, TOKEN, FakeApi(status, body))
    assert (verdict.healthy, verdict.reason) == (False, reason)


@pytest.mark.parametrize("error", [TimeoutError("timed out"), ConnectionRefusedError()])
def test_no_answer_is_unhealthy(error: Exception) -> None:
    """GIVEN the region does not answer in time, or refuses the connection WHEN probed
    THEN unhealthy: no answer at all is the failure a 5XX alarm never sees."""
    verdict = probe(SETTINGS, TOKEN, FakeApi(200, HEALTHY, error))
    assert not verdict.healthy
    assert verdict.reason == f"no answer: {type(error).__name__}"


def test_the_verdict_goes_out_as_a_metric_of_one_or_zero() -> None:
    """GIVEN a healthy and an unhealthy probe WHEN reported THEN CanarySuccess is 1, then
    0: the alarm takes the minimum of a minute, so one failure counts."""
    emitted: list[dict[str, Any]] = []
    observability = Observability("gateway-canary", emf_sink=emitted.append)

    observability.canary(True, 12.0, "ok")
    observability.canary(False, 3.0, "errors: InternalFailure")

    assert [blob[CANARY_SUCCESS] for blob in emitted] == [[1.0], [0.0]]
    assert all(blob["service"] == "gateway-canary" for blob in emitted)


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({}, "GATEWAY_APPSYNC_URL"),
        ({"GATEWAY_APPSYNC_URL": "graphql"}, "GATEWAY_APPSYNC_URL"),
        (
            {"GATEWAY_APPSYNC_URL": "https://x/graphql", "GATEWAY_CANARY_TIMEOUT_MS": "soon"},
            "GATEWAY_CANARY_TIMEOUT_MS",
        ),
    ],
)
def test_settings_that_cannot_work_name_their_variable(env: dict[str, str], names: str) -> None:
    """GIVEN a canary environment missing or spoiling a variable WHEN parsed THEN the
    error names it, at the first cold start."""
    with pytest.raises(ValueError, match=names):
        CanarySettings.from_env(env)


def test_settings_are_read_from_the_environment() -> None:
    """GIVEN the variables infra sets WHEN parsed THEN the URL and the timeout."""
    env = {"GATEWAY_APPSYNC_URL": "https://x/graphql", "GATEWAY_CANARY_TIMEOUT_MS": "2500"}
    assert CanarySettings.from_env(env) == CanarySettings("https://x/graphql", 2.5)


class FakeSecret:
    """The client-token secret as CachedSecret reads it: a value, or unavailable."""

    secret_id = "gateway-client-tokens-test"

    def __init__(self, value: str | None) -> None:
        self._value = value

    def value(self) -> str | None:
        if self._value is None:
            raise SecretUnavailable("Secrets Manager is out")
        return self._value


def test_the_canary_reads_with_the_newest_client_token() -> None:
    """GIVEN a token rotation under way (the secret lists the new token, then the old)
    WHEN the canary runs THEN it reads with the new one, as clients are told to."""
    api = FakeApi(200, HEALTHY)
    secret = FakeSecret(json.dumps({"tokens": [TOKEN, "oldPublicClientToken000000000000000001"]}))

    verdict = Canary(SETTINGS, ClientTokens(secret)).run(api)  # type: ignore[arg-type]

    assert verdict.healthy
    assert api.sent[0][2]["authorization"] == TOKEN


def test_no_token_to_read_with_is_a_failed_read() -> None:
    """GIVEN the client-token secret cannot be read WHEN the canary runs THEN it reads
    nothing and reports a failure: the authorizer could not check a token either."""
    api = FakeApi(200, HEALTHY)

    verdict = Canary(SETTINGS, ClientTokens(FakeSecret(None))).run(api)  # type: ignore[arg-type]

    assert (verdict.healthy, verdict.reason) == (False, "no client token to read with")
    assert api.sent == []
