"""Pagination tokens: a client can pass them back, and can neither read nor forge them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest

from domain.errors import ValidationError
from resolvers.tokens import TokenSigner

SECRET = "unit-test-token-secret"
SCOPE = "products#toys"
KEY = {"pk": "PRODUCT", "sk": "PRODUCT#p-0042"}


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def forged(payload: Any, secret: str = SECRET) -> str:
    """A token with any payload, correctly signed with ``secret``."""
    body = b64(json.dumps(payload).encode())
    mac = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
    return f"{body}.{b64(mac)}"


def changed_at(token: str, index: int) -> str:
    """``token`` with the character at ``index`` swapped for another base64url character."""
    replacement = "A" if token[index] != "A" else "B"
    return token[:index] + replacement + token[index + 1 :]


def test_a_token_gives_back_the_key_it_was_issued_for() -> None:
    """
    GIVEN a token issued for a listing's last key
    WHEN the same listing reads it
    THEN it gets that key back, unchanged
    """
    signer = TokenSigner(SECRET)

    token = signer.issue(SCOPE, KEY)

    assert token is not None
    assert signer.read(SCOPE, token) == KEY


def test_no_key_means_no_token_and_no_token_means_the_first_page() -> None:
    """
    GIVEN a last page (no key) and a first request (no token)
    WHEN they are issued and read
    THEN both are None
    """
    signer = TokenSigner(SECRET)

    assert signer.issue(SCOPE, None) is None
    assert signer.read(SCOPE, None) is None


def test_a_token_from_one_listing_cannot_page_another() -> None:
    """
    GIVEN a token issued while listing toys
    WHEN it is passed while listing books
    THEN it is refused with a ValidationError
    """
    signer = TokenSigner(SECRET)
    token = signer.issue(SCOPE, KEY)

    with pytest.raises(ValidationError) as raised:
        signer.read("products#books", token)

    assert "nextToken" in raised.value.message


def test_the_token_can_travel_in_a_url_unescaped() -> None:
    """
    GIVEN a token
    WHEN a client puts it in a query string
    THEN it needs no escaping: URL-safe characters, no padding
    """
    token = TokenSigner(SECRET).issue(SCOPE, KEY)

    assert token is not None
    assert "=" not in token
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


@pytest.mark.parametrize("where", ["body", "signature"])
def test_a_token_with_one_character_changed_is_refused(where: str) -> None:
    """
    GIVEN a valid token
    WHEN one character of its body or its signature is changed
    THEN it is refused with a ValidationError
    """
    signer = TokenSigner(SECRET)
    token = signer.issue(SCOPE, KEY)
    assert token is not None
    body, _, mac = token.partition(".")
    index = len(body) // 2 if where == "body" else len(body) + 1 + len(mac) // 2

    with pytest.raises(ValidationError):
        signer.read(SCOPE, changed_at(token, index))


def test_a_token_signed_with_another_secret_is_refused() -> None:
    """
    GIVEN a token issued by a signer with another secret
    WHEN this signer reads it
    THEN it is refused with a ValidationError
    """
    token = TokenSigner("someone-elses-secret").issue(SCOPE, KEY)

    with pytest.raises(ValidationError):
        TokenSigner(SECRET).read(SCOPE, token)


@pytest.mark.parametrize(
    "token",
    ["", "....", ".", "not-a-token", "ñandú.ñandú", "💥", "eyJzIjoi.Zm9v"],
)
def test_garbage_is_refused_as_a_validation_error(token: str) -> None:
    """
    GIVEN text that is not a token: empty, dots, non-ASCII, truncated
    WHEN it is read
    THEN it is refused with a ValidationError, never a crash
    """
    with pytest.raises(ValidationError):
        TokenSigner(SECRET).read(SCOPE, token)


@pytest.mark.parametrize(
    "payload",
    [
        {"s": SCOPE, "k": ["PRODUCT", "p-0042"]},
        {"s": SCOPE, "k": "PRODUCT#p-0042"},
        {"s": SCOPE, "k": None},
        {"s": SCOPE},
        [SCOPE, KEY],
        "just a string",
    ],
)
def test_a_correctly_signed_token_with_a_malformed_payload_is_refused(payload: Any) -> None:
    """
    GIVEN a token with a valid signature whose payload is not ``{s: scope, k: {...}}``
    WHEN it is read
    THEN it is refused with a ValidationError instead of handing a non-key to the reader
    """
    with pytest.raises(ValidationError):
        TokenSigner(SECRET).read(SCOPE, forged(payload))


def test_a_correctly_signed_well_formed_payload_is_accepted() -> None:
    """
    GIVEN a payload crafted by hand in the documented shape and signed with the secret
    WHEN it is read
    THEN its key comes back, so the malformed cases above fail for their shape alone
    """
    assert TokenSigner(SECRET).read(SCOPE, forged({"s": SCOPE, "k": KEY})) == KEY
