"""The shared secrets as Secrets Manager keeps them (moto): what a rotation does to the
resolvers' page tokens and to the authorizer's client tokens."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from projections.settings import Settings
from resolvers.authorizer import build_authorizer
from resolvers.bootstrap import page_token_keys
from resolvers.tokens import TokenSigner

REGION = "eu-west-1"
PAGE_SECRET = "gateway-token-secret-test"
CLIENT_SECRET = "gateway-client-tokens-test"
OLD_TOKEN = "OldPublicClientToken00000000000000000001"
NEW_TOKEN = "NewPublicClientToken00000000000000000001"
SCOPE = "products#toys"
KEY = {"pk": "PRODUCT", "sk": "PRODUCT#p-1"}


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """This region's Secrets Manager, holding both secrets as infra creates them."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("secretsmanager", region_name=REGION)
        client.create_secret(Name=PAGE_SECRET, SecretString="first-page-key")
        client.create_secret(Name=CLIENT_SECRET, SecretString=json.dumps({"tokens": OLD_TOKEN}))
        yield client


def settings(cache_ms: int) -> Settings:
    """A region's settings as the deployed functions parse them from their environment."""
    return Settings.from_env(
        {
            "AWS_REGION": REGION,
            "GATEWAY_PAGE_TOKEN_SECRET": PAGE_SECRET,
            "GATEWAY_CLIENT_TOKEN_SECRET": CLIENT_SECRET,
            "GATEWAY_SECRET_CACHE_MS": str(cache_ms),
        }
    )


def test_a_put_secret_value_rotation_keeps_page_tokens_working(secrets: Any) -> None:
    """GIVEN a page token issued by a resolver WHEN the operator rotates the page-token
    secret with put-secret-value THEN a fresh execution environment signs with the new
    value and still reads the old token (Secrets Manager labels the old value
    AWSPREVIOUS)."""
    before = TokenSigner(page_token_keys(settings(0))).issue(SCOPE, KEY)

    secrets.put_secret_value(SecretId=PAGE_SECRET, SecretString="second-page-key")
    after = TokenSigner(page_token_keys(settings(0)))

    assert after.read(SCOPE, before) == KEY
    assert after.issue(SCOPE, KEY) != before


def test_a_client_token_rotated_with_overlap_never_refuses_a_client(secrets: Any) -> None:
    """GIVEN the deployed client token WHEN the operator lists the new token beside it,
    then drops the old THEN during the overlap both are authorized, and afterwards only
    the new one."""
    authorizer = build_authorizer(settings(0))

    def authorized(token: str) -> bool:
        return bool(authorizer({"authorizationToken": token})["isAuthorized"])

    deployed = (authorized(OLD_TOKEN), authorized(NEW_TOKEN))
    secrets.put_secret_value(
        SecretId=CLIENT_SECRET, SecretString=json.dumps({"tokens": [NEW_TOKEN, OLD_TOKEN]})
    )
    overlap = (authorized(OLD_TOKEN), authorized(NEW_TOKEN))
    secrets.put_secret_value(
        SecretId=CLIENT_SECRET, SecretString=json.dumps({"tokens": [NEW_TOKEN]})
    )
    rotated = (authorized(OLD_TOKEN), authorized(NEW_TOKEN))

    assert (deployed, overlap, rotated) == ((True, False), (True, True), (False, True))
