"""`gateway smoke --username` signs in through a user pool's app client (moto's Cognito),
as a browser app without SRP does, and takes the ID token."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import boto3
import pytest
from moto import mock_aws

from cli.smoke_signin import SignInFailed, password_sign_in

PASSWORD = "Correct-Horse-9-Battery"


class Pool(NamedTuple):
    cognito: Any
    client_id: str


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[Pool]:
    """A pool with groups and an app client allowing USER_PASSWORD_AUTH; ana is staff."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        cognito = boto3.client("cognito-idp", region_name="us-east-1")
        pool_id = cognito.create_user_pool(PoolName="gateway-users-test")["UserPool"]["Id"]
        for group in ("customers", "staff"):
            cognito.create_group(UserPoolId=pool_id, GroupName=group)
        client_id = cognito.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName="web",
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]
        for name in ("ana", "new"):
            cognito.admin_create_user(UserPoolId=pool_id, Username=name)
        cognito.admin_set_user_password(
            UserPoolId=pool_id, Username="ana", Password=PASSWORD, Permanent=True
        )
        cognito.admin_set_user_password(
            UserPoolId=pool_id, Username="new", Password=PASSWORD, Permanent=False
        )
        cognito.admin_add_user_to_group(UserPoolId=pool_id, Username="ana", GroupName="staff")
        yield Pool(cognito, client_id)


def test_a_staff_user_signs_in_with_a_password_and_gets_an_id_token(pool: Pool) -> None:
    """GIVEN ana, confirmed and in staff WHEN the smoke signs in as her THEN it holds an
    ID token that names her and her group."""
    signed_in = password_sign_in(pool.cognito, pool.client_id, "ana", PASSWORD)

    assert (signed_in.subject, signed_in.groups) == ("ana", ("staff",))
    assert signed_in.token.count(".") == 2


@pytest.mark.parametrize(
    ("username", "password", "why"),
    [
        ("ana", "wrong-Password-1", "NotAuthorizedException"),
        ("nobody", PASSWORD, "UserNotFoundException"),
        ("new", PASSWORD, "NEW_PASSWORD_REQUIRED"),
    ],
)
def test_a_sign_in_the_pool_refuses_fails_with_its_reason(
    pool: Pool, username: str, password: str, why: str
) -> None:
    """GIVEN a wrong password, an unknown user, or a user who must first set a password
    WHEN the smoke signs in THEN it fails, naming what the pool said."""
    with pytest.raises(SignInFailed, match=why):
        password_sign_in(pool.cognito, pool.client_id, username, password)
