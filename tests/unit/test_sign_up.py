"""The post-confirmation trigger: who confirms a sign-up becomes a customer, nothing more."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from infra.api import USER_GROUPS
from resolvers.access import CUSTOMERS
from resolvers.sign_up import CUSTOMERS_GROUP, SignUpTrigger
from tests.unit.fakes import client_error

POOL = "us-east-1_Local0001"


class FakeCognito:
    """Records AdminAddUserToGroup calls; fails them when told to."""

    def __init__(self, error: Exception | None = None) -> None:
        self.added: list[tuple[str, str, str]] = []
        self.error = error

    def admin_add_user_to_group(self, *, UserPoolId: str, Username: str, GroupName: str) -> None:
        if self.error is not None:
            raise self.error
        self.added.append((UserPoolId, Username, GroupName))


def confirmation(
    source: str = "PostConfirmation_ConfirmSignUp", **overrides: Any
) -> dict[str, Any]:
    """What Cognito sends a post-confirmation trigger."""
    event: dict[str, Any] = {
        "version": "1",
        "region": "us-east-1",
        "userPoolId": POOL,
        "userName": "7f1c0e2a-5b1d-4c3e-9a0f-2d6b8e4c1a90",
        "triggerSource": source,
        "callerContext": {"awsSdkVersion": "aws-sdk-js-3", "clientId": "storefront"},
        "request": {"userAttributes": {"email": "ada@example.com", "email_verified": "true"}},
        "response": {},
    }
    event.update(overrides)
    return event


def test_a_confirmed_sign_up_joins_the_customers_group_and_returns_the_event() -> None:
    """GIVEN a person who just confirmed their sign-up WHEN Cognito calls the trigger
    THEN they are in the customers group, and Cognito gets its event back unchanged."""
    cognito = FakeCognito()
    event = confirmation()

    answer = SignUpTrigger(cognito)(event)

    assert cognito.added == [(POOL, event["userName"], "customers")]
    assert answer == confirmation()


def test_a_confirmed_password_reset_changes_no_group() -> None:
    """GIVEN a member of staff who reset a forgotten password WHEN Cognito calls the
    trigger for that confirmation THEN they are not made a customer."""
    cognito = FakeCognito()

    SignUpTrigger(cognito)(confirmation("PostConfirmation_ConfirmForgotPassword"))

    assert cognito.added == []


@pytest.mark.parametrize(
    "overrides",
    [{"userPoolId": None}, {"userName": ""}, {"userName": ["a"]}, {"userPoolId": 7}],
)
def test_an_event_that_names_no_user_is_refused_and_adds_no_one(overrides: dict[str, Any]) -> None:
    """GIVEN a malformed confirmation event WHEN the trigger runs THEN it raises a clear
    error (Cognito fails the confirmation) and adds nobody to any group."""
    cognito = FakeCognito()

    with pytest.raises(ValueError, match="names its user pool and user"):
        SignUpTrigger(cognito)(confirmation(**overrides))

    assert cognito.added == []


def test_a_failed_group_change_fails_the_trigger_and_is_logged_with_the_user(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """GIVEN Cognito refusing AdminAddUserToGroup WHEN a sign-up is confirmed THEN the
    trigger fails (Cognito answers the confirmation with an error) and the log names
    the user an administrator must add by hand."""
    cognito = FakeCognito(error=client_error("TooManyRequestsException", "Rate exceeded"))
    event = confirmation()

    with (
        caplog.at_level(logging.ERROR, logger="gateway.sign_up"),
        pytest.raises(Exception, match="Rate exceeded"),
    ):
        SignUpTrigger(cognito)(event)

    assert event["userName"] in caplog.text and "not made a customer" in caplog.text


def test_the_trigger_grants_the_group_the_resolvers_and_the_pool_know() -> None:
    """GIVEN the trigger's group, the owner rules' group and the pool's groups THEN they
    are one name: a new customer gets exactly the powers the resolvers give customers."""
    assert CUSTOMERS_GROUP == CUSTOMERS
    assert CUSTOMERS_GROUP in USER_GROUPS
