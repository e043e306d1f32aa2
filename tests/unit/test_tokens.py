"""Pagination tokens: a client can pass them back, and can neither read nor forge them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest

from domain.errors import ValidationError
from resolvers.secret_values import CachedSecret, SecretUnavailable
from resolvers.tokens import SecretKeys, TokenSigner
from tests.unit.fakes import FakeSecretsManager, ManualClock, client_error

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


def secret_signer(secrets: FakeSecretsManager, clock: ManualClock) -> TokenSigner:
    """A signer reading its key from the region's page-token secret, as deployed."""
    return TokenSigner(SecretKeys(CachedSecret(lambda: secrets, "page-keys", 300.0, clock)))


def test_a_token_issued_before_a_rotation_still_pages_after_it() -> None:
    """
    GIVEN a token issued with the page-token secret's value
    WHEN an operator rotates the secret and the cache time passes
    THEN the token still pages (the previous value is accepted), and new tokens are
    signed with the new value: a client paging across the rotation never starts over
    """
    secrets = FakeSecretsManager("page-keys", "first-key")
    clock = ManualClock()
    signer = secret_signer(secrets, clock)
    before = signer.issue(SCOPE, KEY)

    secrets.rotate("second-key")
    clock.advance(300)
    after = signer.issue(SCOPE, KEY)

    assert signer.read(SCOPE, before) == KEY
    assert after != before
    assert TokenSigner("second-key").read(SCOPE, after) == KEY


def test_regions_reading_the_same_secret_read_each_others_tokens() -> None:
    """
    GIVEN two regions, each reading its own replica of the page-token secret
    WHEN one issues a token and the other reads it
    THEN it pages there too, whenever each region was deployed
    """
    here = secret_signer(FakeSecretsManager("page-keys", "shared-key"), ManualClock())
    there = secret_signer(FakeSecretsManager("page-keys", "shared-key"), ManualClock())

    assert there.read(SCOPE, here.issue(SCOPE, KEY)) == KEY


def test_a_token_two_rotations_old_is_refused() -> None:
    """
    GIVEN a token signed with a value rotated out twice since
    WHEN it is read
    THEN it is refused as any forged token is
    """
    secrets = FakeSecretsManager("page-keys", "first-key")
    clock = ManualClock()
    signer = secret_signer(secrets, clock)
    old = signer.issue(SCOPE, KEY)
    for value in ("second-key", "third-key"):
        secrets.rotate(value)
    clock.advance(300)

    with pytest.raises(ValidationError):
        signer.read(SCOPE, old)


def test_the_key_is_read_on_first_use_not_when_the_signer_is_built() -> None:
    """
    GIVEN a signer over the page-token secret
    WHEN it is built (at a cold start) THEN nothing is read; the first token reads it
    once, and a listing's second page reads nothing more: the cold start stays lean
    """
    secrets = FakeSecretsManager("page-keys", "first-key")
    signer = secret_signer(secrets, ManualClock())
    built = secrets.reads

    token = signer.issue(SCOPE, KEY)
    signer.read(SCOPE, token)

    assert (built, secrets.reads) == (0, 1)


def test_a_page_token_key_that_cannot_be_read_is_an_error_not_a_forgery() -> None:
    """
    GIVEN the page-token secret cannot be read
    WHEN a token is read
    THEN the failure is SecretUnavailable (an internal error to the client), never a
    ValidationError telling the client its valid token was forged
    """
    secrets = FakeSecretsManager("page-keys", "first-key")
    token = secret_signer(secrets, ManualClock()).issue(SCOPE, KEY)
    secrets.failure = client_error("AccessDeniedException")

    with pytest.raises(SecretUnavailable):
        secret_signer(secrets, ManualClock()).read(SCOPE, token)
