"""The read canary: a synthetic GraphQL read of this region's API, on a schedule.

Route 53 took a region out of the latency records only when AppSync answered 5XX. But a
resolver or DynamoDB failure answers HTTP 200 with errors, and a region that answers
nothing sends no 5XX either: clients kept being sent to a region that could not serve
a read. So each region reads itself as an anonymous client does (the public client
token, read from the region's secret as the authorizer reads it; a query that reaches
the projection table) and counts a success only for HTTP 200 with data and no errors
(:func:`probe`). The verdict goes out as ``CanarySuccess`` (1 or 0); the region's alarm
on it, with missing data breaching, feeds its health check
(:meth:`infra.observability.Alarms.read_canary`). ``gateway dev`` runs the same canary
per region and routes its global endpoint by the result.

It lives beside the authorizer, whose token list it reads. A Lambda code path: the
standard library, boto3 and powertools.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from projections.observability import Observability
from projections.settings import CLIENT_TOKEN_SECRET_VARIABLE, Settings
from resolvers.authorizer import ClientTokens
from resolvers.secret_values import CachedSecret, SecretUnavailable

SERVICE = "gateway-canary"
# One cheap read through the projection table (products) and the region's identity.
QUERY = "query Canary { region { name } products(first: 1) { items { id } } }"
TIMEOUT_S = 10.0

Post = Callable[[str, bytes, dict[str, str], float], tuple[int, bytes]]


class CanarySettings(NamedTuple):
    """Where the canary reads.

    ``url`` is the region's GraphQL endpoint (``GATEWAY_APPSYNC_URL``); ``timeout_s``
    bounds the answer (``GATEWAY_CANARY_TIMEOUT_MS``): no answer in time is a failure.
    Who it reads as comes from the region's settings: the client-token secret.
    """

    url: str
    timeout_s: float = TIMEOUT_S

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CanarySettings:
        """Parse the canary's variables once.

        Raises
        ------
        ValueError
            Naming the variable that is missing or wrong.
        """
        env = os.environ if env is None else env
        url = env.get("GATEWAY_APPSYNC_URL", "").strip()
        if not url.startswith(("https://", "http://")):
            raise ValueError(f"GATEWAY_APPSYNC_URL must be the API's URL; got {url!r}")
        raw = env.get("GATEWAY_CANARY_TIMEOUT_MS", "").strip()
        if not raw:
            return cls(url)
        if not raw.isdigit() or int(raw) == 0:
            raise ValueError(
                f"GATEWAY_CANARY_TIMEOUT_MS must be a whole number over 0; got {raw!r}"
            )
        return cls(url, int(raw) / 1000)


class Verdict(NamedTuple):
    """One probe's outcome: healthy or not, why, how long it took, who answered."""

    healthy: bool
    reason: str
    latency_ms: float
    region: str | None = None


class Canary:
    """One region's canary: the newest accepted client token, then one read with it.

    ``tokens`` is the authorizer's own view of the client-token secret, so the canary
    reads with what clients are told to send; during a rotation, the first listed (new)
    token. No token to read with is a failed read, not an error of the function.
    """

    def __init__(self, settings: CanarySettings, tokens: ClientTokens) -> None:
        self.settings = settings
        self._tokens = tokens

    def run(self, post: Post | None = None) -> Verdict:
        try:
            token = self._tokens.accepted()[0].decode()
        except SecretUnavailable:
            return Verdict(False, "no client token to read with", 0.0)
        return probe(self.settings, token, post)


def build_canary(canary: CanarySettings, settings: Settings) -> Canary:
    """The canary of the region ``settings`` names, reading its client-token secret.

    Raises
    ------
    ValueError
        The settings name no client-token secret.
    """
    if settings.client_token_secret_id is None:
        raise ValueError(f"{CLIENT_TOKEN_SECRET_VARIABLE} must name the client-token secret")
    secret = CachedSecret(
        settings.secretsmanager, settings.client_token_secret_id, settings.secret_cache_ms / 1000
    )
    return Canary(canary, ClientTokens(secret))


def probe(settings: CanarySettings, token: str, post: Post | None = None) -> Verdict:
    """Read the region once with ``token``; healthy only for HTTP 200 with data and no
    errors."""
    body = json.dumps({"query": QUERY, "operationName": "Canary"}).encode()
    headers = {"content-type": "application/json", "authorization": token}
    started = time.perf_counter()
    try:
        status, raw = (post or _post)(settings.url, body, headers, settings.timeout_s)
    except (OSError, ValueError) as error:  # refused, reset, timed out, a bad answer line
        return Verdict(False, f"no answer: {type(error).__name__}", _since(started))
    latency_ms = _since(started)
    if status != 200:
        return Verdict(False, f"HTTP {status}", latency_ms)
    try:
        answer = json.loads(raw)
    except (ValueError, RecursionError):
        return Verdict(False, "not JSON", latency_ms)
    if not isinstance(answer, dict):
        return Verdict(False, "not a GraphQL answer", latency_ms)
    errors, data = answer.get("errors"), answer.get("data")
    if errors:
        return Verdict(False, f"errors: {_error_types(errors)}", latency_ms)
    if not isinstance(data, dict) or not isinstance(data.get("products"), dict):
        return Verdict(False, "no data", latency_ms)
    region = data.get("region")
    name = region.get("name") if isinstance(region, dict) else None
    return Verdict(True, "ok", latency_ms, name if isinstance(name, str) else None)


def _post(url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as error:
        return int(error.code), bytes(error.read())


def _error_types(errors: Any) -> str:
    """The answer's error types, for the log line (never their messages)."""
    if not isinstance(errors, list):
        return "malformed"
    types = {
        str(error.get("errorType") or "unknown") if isinstance(error, dict) else "malformed"
        for error in errors
    }
    return ", ".join(sorted(types))


def _since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


_canary: tuple[Canary, Observability] | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point (the scheduled rule's target): one read, one metric.

    A failed read is a result, not an error of the function: it is reported in the
    metric, and the invocation succeeds.
    """
    global _canary
    if _canary is None:
        settings = Settings.from_env()
        observability = Observability.for_lambda(SERVICE, settings)
        _canary = (build_canary(CanarySettings.from_env(), settings), observability)
    canary, observability = _canary
    verdict = canary.run()
    observability.canary(verdict.healthy, verdict.latency_ms, verdict.reason)
    return verdict._asdict()
