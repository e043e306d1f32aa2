"""The AppSync Lambda authorizer (AWS_LAMBDA): anonymous reads with the public client token.

One token works in every region: each region's authorizer reads the accepted tokens
from its own replica of one secret (:mod:`resolvers.secret_values`), unlike an AppSync
API key, whose value AppSync generates for each API. The token is public (a storefront
ships it); it identifies the client application, not a person, and gives only what the
schema's ``@aws_lambda`` fields give.

* AppSync calls this function only for an ``Authorization`` header that matches the
  API's ``identityValidationExpression`` (``infra.config.CLIENT_TOKEN_PATTERN``), so a
  user-pool JWT or a SigV4 signature never reaches it; it checks what it is given
  anyway, whatever its shape.
* The secret holds JSON: ``{"tokens": "<token>"}`` as deployed (Secrets Manager
  generates it), or ``{"tokens": ["<new>", "<old>"]}`` while a token is rotated: every
  listed token is accepted, so clients move to the new one before the old is dropped.
* A refusal is cached by AppSync for the API's result TTL, so a wrong token costs one
  invocation per TTL; a refusal for want of the secret says ``ttlOverride: 0``, so
  nobody stays refused once the secret can be read again.

stdlib and boto3 only (no powertools): this runs before every uncached request, so its
cold start stays short.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

from projections.settings import CLIENT_TOKEN_SECRET_VARIABLE, Settings
from resolvers.secret_values import CachedSecret, SecretUnavailable

# AppSync refuses a longer authorization token before any authorizer runs.
MAX_TOKEN_CHARS = 2048
# What the resolvers see as ``identity.resolverContext`` for a public caller.
RESOLVER_CONTEXT = {"access": "public"}
TOKENS_KEY = "tokens"

logger = logging.getLogger("gateway.authorizer")


class ClientTokens:
    """The public client tokens this region accepts, from the secret that lists them."""

    def __init__(self, secret: CachedSecret) -> None:
        self._secret = secret
        self._parsed: tuple[str, tuple[bytes, ...]] | None = None

    def accepted(self) -> tuple[bytes, ...]:
        """Every accepted token, as bytes to compare in constant time.

        Raises
        ------
        SecretUnavailable
            The secret cannot be read, or does not hold a token list.
        """
        text = self._secret.value()
        if self._parsed is not None and self._parsed[0] == text:
            return self._parsed[1]
        tokens = _token_list(text)
        if not tokens:
            logger.error(
                "secret %s must hold {%r: a token or a list of tokens}",
                self._secret.secret_id,
                TOKENS_KEY,
            )
            raise SecretUnavailable(f"{self._secret.secret_id} holds no token list")
        self._parsed = (text or "", tokens)
        return tokens


class Authorizer:
    """Answers AppSync's authorization requests for one region."""

    def __init__(self, tokens: ClientTokens) -> None:
        self._tokens = tokens

    def __call__(self, event: Any, context: Any = None) -> dict[str, Any]:
        """AppSync's Lambda authorizer response for ``event``."""
        token = event.get("authorizationToken") if isinstance(event, dict) else None
        if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_CHARS:
            return {"isAuthorized": False}
        try:
            accepted = self._tokens.accepted()
        except SecretUnavailable:
            # Logged where it failed. Not cached: the next request asks again.
            return {"isAuthorized": False, "ttlOverride": 0}
        given = token.encode("utf-8", "surrogatepass")
        # Every accepted token is compared, so the time taken says nothing about which.
        matches = [hmac.compare_digest(given, candidate) for candidate in accepted]
        if not any(matches):
            logger.info("a request with an unknown client token was refused")
            return {"isAuthorized": False}
        return {"isAuthorized": True, "resolverContext": dict(RESOLVER_CONTEXT)}


def _token_list(text: str | None) -> tuple[bytes, ...]:
    """The tokens ``{"tokens": ...}`` lists; empty when it is not that shape."""
    try:
        listed = json.loads(text or "").get(TOKENS_KEY)
    except (ValueError, AttributeError):
        return ()
    if isinstance(listed, str):
        listed = [listed]
    if not isinstance(listed, list) or not all(isinstance(t, str) and t for t in listed):
        return ()
    return tuple(token.encode() for token in listed)


def build_authorizer(settings: Settings) -> Authorizer:
    """The authorizer of the region ``settings`` names.

    Raises
    ------
    ValueError
        The settings name no client-token secret: nothing could ever be authorized.
    """
    if settings.client_token_secret_id is None:
        raise ValueError(f"{CLIENT_TOKEN_SECRET_VARIABLE} must name the client-token secret")
    secret = CachedSecret(
        settings.secretsmanager, settings.client_token_secret_id, settings.secret_cache_ms / 1000
    )
    return Authorizer(ClientTokens(secret))


_authorizer: Authorizer | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """AWS Lambda entry point; built once per execution environment, the secret read on
    the first request."""
    global _authorizer
    if _authorizer is None:
        _authorizer = build_authorizer(Settings.from_env())
    return _authorizer(event, context)
