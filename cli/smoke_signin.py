"""How ``gateway smoke`` proves who it is.

A user signs in with a token it is given, a user and password through the user pool's
app client, or, against ``gateway dev``, a token from its own signing key (what
``gateway token`` prints). Anonymous readers send the public client token: a stage's is
read from the secret its stack names (:func:`public_token`), as the authorizer reads it.

The password is never a command-line argument (shells keep those in their history):
it comes from ``GATEWAY_SMOKE_PASSWORD``, or is asked for on a terminal.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import getpass
import json
import os
import sys
from collections.abc import Callable
from typing import Any, NamedTuple

from botocore.exceptions import BotoCoreError, ClientError

from cli.targets import Target

PASSWORD_VARIABLE = "GATEWAY_SMOKE_PASSWORD"
LOCAL_SUBJECT = "gateway-smoke"
LOCAL_TTL_S = 900


class SignedIn(NamedTuple):
    token: str
    subject: str
    groups: tuple[str, ...]
    how: str


class SignInFailed(Exception):
    """The user could not sign in; the message says why."""


class NeedsInput(Exception):
    """The command line lacks what signing in needs; the message names it."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--token", help="a user-pool ID token, used as it is")
    who.add_argument(
        "--username",
        help=f"sign in through the pool's app client (USER_PASSWORD_AUTH); the password "
        f"comes from {PASSWORD_VARIABLE}, or is asked for",
    )
    parser.add_argument(
        "--client-id", help="the app client to sign in through (default: the stack's output)"
    )


def sign_in_step(target: Target, args: argparse.Namespace) -> Callable[[], SignedIn]:
    """The sign-in the command line asks for, ready to run as a timed check.

    Raises
    ------
    NeedsInput
        A stage with no user to sign in as, no password, or no app client.
    """
    if args.token:
        token = str(args.token)
        return lambda: from_token(token, "the token given")
    if args.username:
        username = str(args.username)
        password = _password()
        first = next(iter(target.resources.values()))
        client_id = args.client_id or first.user_pool_client_id
        pool = first.user_pool_id
        if not client_id or not pool:
            raise NeedsInput(
                "the stage names no user-pool app client (output UserPoolClientId): pass "
                "--client-id"
            )
        cognito = target.client("cognito-idp", pool.split("_", 1)[0])
        return lambda: password_sign_in(cognito, client_id, username, password)
    if target.state_dir is not None:
        return _local(target)
    raise NeedsInput(
        f"signing in needs a user in the staff group: pass --username (and the password "
        f"in {PASSWORD_VARIABLE}), or --token"
    )


def password_sign_in(cognito: Any, client_id: str, username: str, password: str) -> SignedIn:
    """Sign in as a browser app does without SRP, and take the ID token."""
    try:
        answer = cognito.initiate_auth(
            AuthFlow="USER_PASSWORD_AUTH",
            ClientId=client_id,
            AuthParameters={"USERNAME": username, "PASSWORD": password},
        )
    except ClientError as error:
        failure = error.response.get("Error", {})
        raise SignInFailed(f"{failure.get('Code')}: {failure.get('Message')}") from None
    except BotoCoreError as error:
        raise SignInFailed(f"the user pool did not answer: {error}") from None
    if "ChallengeName" in answer:
        raise SignInFailed(
            f"the pool asks {username} to answer {answer['ChallengeName']} first: sign in "
            "once interactively, then run the smoke again"
        )
    return from_token(answer["AuthenticationResult"]["IdToken"], f"signed in as {username}")


def from_token(token: str, how: str) -> SignedIn:
    """Who a token says it is; the API checks its signature, this only reads it."""
    parts = token.split(".")
    if len(parts) != 3:
        raise SignInFailed("the token is not a JWT")
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(padded))
    except (binascii.Error, ValueError):
        raise SignInFailed("the token's claims cannot be read") from None
    if not isinstance(claims, dict):
        raise SignInFailed("the token's claims cannot be read")
    groups = claims.get("cognito:groups") or []
    subject = claims.get("cognito:username") or claims.get("sub") or "?"
    return SignedIn(token, str(subject), tuple(str(group) for group in groups), how)


def _local(target: Target) -> Callable[[], SignedIn]:
    from emulator.cloud.jwt_issuer import LocalIssuer

    assert target.state_dir is not None
    state_dir = target.state_dir

    def mint() -> SignedIn:
        token = LocalIssuer.in_state_dir(state_dir).mint(LOCAL_SUBJECT, ["staff"], LOCAL_TTL_S)
        return from_token(token, "gateway token")

    return mint


def _password() -> str:
    password = os.environ.get(PASSWORD_VARIABLE)
    if password:
        return password
    if sys.stdin.isatty():
        return getpass.getpass("password: ")
    raise NeedsInput(f"--username needs the password in {PASSWORD_VARIABLE}")


def public_token(target: Target) -> tuple[str, str]:
    """The public client token from the secret the stage names, as its authorizer reads
    it (``{"tokens": token or [newest, ...]}``); and where it came from."""
    resources = next(iter(target.resources.values()))
    name = resources.client_token_secret
    if not name:
        raise SignInFailed("the stage names no client-token secret: pass --public-token")
    answer = target.client("secretsmanager", resources.region).get_secret_value(SecretId=name)
    try:
        tokens = json.loads(answer.get("SecretString") or "")["tokens"]
    except (ValueError, KeyError, TypeError):
        raise SignInFailed(f"{name} holds no token list") from None
    token = tokens[0] if isinstance(tokens, list) and tokens else tokens
    if not isinstance(token, str) or not token:
        raise SignInFailed(f"{name} holds no token list")
    return token, f"from secret {name} in {resources.region}"
