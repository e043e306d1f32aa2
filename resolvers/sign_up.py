"""Cognito's post-confirmation trigger: a person who confirmed their own sign-up is a customer.

The storefront lets anyone sign up (``infra.api.UserDirectory``); Cognito verifies the
email address with a code, then calls this function, which puts the new user in the
``customers`` group, the only group that gives customer powers (:mod:`resolvers.access`).
Staff are never made here: an administrator adds them to ``staff`` by hand.

Only ``PostConfirmation_ConfirmSignUp`` is acted on (an administrator's confirmation
sends it too); a confirmed password reset (``PostConfirmation_ConfirmForgotPassword``)
changes nothing. AdminAddUserToGroup is idempotent, so Cognito retrying the trigger
adds the user once. If it fails, Cognito answers the confirmation with an error while
the account stays confirmed: the user can sign in with no customer powers until an
administrator adds them (docs/deploy.md), so the failure is logged with the user's id.

stdlib and boto3 only: Cognito gives the trigger 5 s, cold start included.
"""

from __future__ import annotations

import logging
from typing import Any

from projections.settings import Settings

# resolvers.access.CUSTOMERS (that module brings powertools; tests check they agree).
CUSTOMERS_GROUP = "customers"
CONFIRMED_SIGN_UP = "PostConfirmation_ConfirmSignUp"

logger = logging.getLogger("gateway.sign_up")


class SignUpTrigger:
    """Adds each person who confirms a sign-up to the customers group."""

    def __init__(self, cognito: Any) -> None:
        self._cognito = cognito

    def __call__(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        """Cognito's trigger contract: the event comes back unchanged."""
        if event.get("triggerSource") != CONFIRMED_SIGN_UP:
            return event
        pool, user = event.get("userPoolId"), event.get("userName")
        if not isinstance(pool, str) or not isinstance(user, str) or not pool or not user:
            raise ValueError("a post-confirmation event names its user pool and user")
        try:
            self._cognito.admin_add_user_to_group(
                UserPoolId=pool, Username=user, GroupName=CUSTOMERS_GROUP
            )
        except Exception:
            logger.exception("user %s of %s was confirmed but not made a customer", user, pool)
            raise
        return event


_trigger: SignUpTrigger | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """AWS Lambda entry point; the client is built once per execution environment."""
    global _trigger
    if _trigger is None:
        _trigger = SignUpTrigger(Settings.from_env().cognito())
    return _trigger(event, context)
