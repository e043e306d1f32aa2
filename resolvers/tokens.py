"""Pagination tokens: opaque to clients, and signed so they cannot be forged.

A token is ``base64url(json({scope, key})) + "." + base64url(hmac)``. The scope binds
it to the listing that issued it, so a token from one category cannot page another.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from domain.errors import ValidationError

_INVALID = "after is not a nextToken this API issued; start again without it."


class TokenSigner:
    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()

    def issue(self, scope: str, key: dict[str, Any] | None) -> str | None:
        """The token for the page after ``key``; None when there is no next page."""
        if key is None:
            return None
        body = _b64(json.dumps({"s": scope, "k": key}, separators=(",", ":")).encode())
        return f"{body}.{_b64(self._mac(body))}"

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
            valid = hmac.compare_digest(_unb64(mac), self._mac(body))
            payload = json.loads(_unb64(body)) if valid else None
        except (binascii.Error, ValueError, UnicodeDecodeError):
            payload = None
        if not isinstance(payload, dict) or payload.get("s") != scope:
            raise ValidationError(_INVALID)
        key = payload.get("k")
        if not isinstance(key, dict):
            raise ValidationError(_INVALID)
        return key

    def _mac(self, body: str) -> bytes:
        return hmac.new(self._secret, body.encode(), hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
