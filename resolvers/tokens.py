"""Pagination tokens: opaque to clients, and signed so they cannot be forged.

A token is ``base64url(json({scope, key})) + "." + base64url(hmac)``. The scope binds
it to the listing that issued it, so a token from one category cannot page another.

The key comes from :class:`SigningKeys`: on AWS, the deployment's page-token secret,
read at run time from this region's replica (:class:`SecretKeys`), so every region and
every execution environment signs with the same key, and a rotation reaches them all
within the secret's cache time. Tokens are signed with the current key and accepted
with the current or the previous one, so a token issued just before a rotation, or by
an environment that has not yet seen it, still pages.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any, Protocol

from domain.errors import ValidationError
from resolvers.secret_values import CURRENT, PREVIOUS, CachedSecret, SecretUnavailable

_INVALID = "after is not a nextToken this API issued; start again without it."


class SigningKeys(Protocol):
    """Where the signing key comes from."""

    def current(self) -> bytes:
        """The key new tokens are signed with."""
        ...

    def previous(self) -> bytes | None:
        """The key before the last rotation, still accepted; None when there is none."""
        ...


class StaticKeys:
    """One key that never rotates: tests, and settings that give the key itself."""

    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()

    def current(self) -> bytes:
        return self._secret

    def previous(self) -> bytes | None:
        return None


class SecretKeys:
    """The page-token secret's current and previous versions, as Secrets Manager labels
    them after a rotation (``put-secret-value`` moves AWSCURRENT to the new value and
    AWSPREVIOUS to the old one).

    Raises :class:`~resolvers.secret_values.SecretUnavailable` when the secret cannot be
    read: the resolver then fails as an internal error, and no token is judged forged
    for want of its key.
    """

    def __init__(self, secret: CachedSecret) -> None:
        self._secret = secret

    def current(self) -> bytes:
        text = self._secret.value(CURRENT)
        if not text:
            raise SecretUnavailable(f"{self._secret.secret_id} has no current value")
        return text.encode()

    def previous(self) -> bytes | None:
        text = self._secret.value(PREVIOUS)
        return text.encode() if text else None


class TokenSigner:
    """Issues and reads page tokens with ``keys`` (a plain key, for tests and local use)."""

    def __init__(self, keys: SigningKeys | str) -> None:
        self._keys = StaticKeys(keys) if isinstance(keys, str) else keys

    def issue(self, scope: str, key: dict[str, Any] | None) -> str | None:
        """The token for the page after ``key``; None when there is no next page."""
        if key is None:
            return None
        body = _b64(json.dumps({"s": scope, "k": key}, separators=(",", ":")).encode())
        return f"{body}.{_b64(_mac(self._keys.current(), body))}"

    def read(self, scope: str, token: str | None) -> dict[str, Any] | None:
        """The key a token continues from.

        Raises
        ------
        ValidationError
            The token was altered, forged, or issued for another listing.
        """
        if token is None:
            return None
        body, _, mac = token.partition(".")
        try:
            valid = self._signed(body, _unb64(mac))
            payload = json.loads(_unb64(body)) if valid else None
        except (binascii.Error, ValueError, UnicodeDecodeError):
            payload = None
        if not isinstance(payload, dict) or payload.get("s") != scope:
            raise ValidationError(_INVALID)
        key = payload.get("k")
        if not isinstance(key, dict):
            raise ValidationError(_INVALID)
        return key

    def _signed(self, body: str, mac: bytes) -> bool:
        """Whether ``mac`` signs ``body`` with the current key or, failing that, the
        previous one (read only then, so a cold start reads one version)."""
        if hmac.compare_digest(mac, _mac(self._keys.current(), body)):
            return True
        previous = self._keys.previous()
        return previous is not None and hmac.compare_digest(mac, _mac(previous, body))


def _mac(key: bytes, body: str) -> bytes:
    return hmac.new(key, body.encode(), hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
