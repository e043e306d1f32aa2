"""Who is calling: the public client token, a user-pool JWT, or a SigV4 signature.

AppSync tells the modes apart by what the request carries, before any of them runs:

* an ``Authorization`` value matching the Lambda authorizer's validation pattern goes
  to the authorizer (AWS_LAMBDA, :mod:`emulator.appsync.lambda_auth`): the public client
  token, one value for every region;
* another ``Authorization`` value that is not a SigV4 signature is a user-pool JWT
  (AMAZON_COGNITO_USER_POOLS);
* a SigV4 signature is checked as AppSync checks it (AWS_IAM).

There is no API key: AppSync generates each API key's value per API, so no key can be
the credential that works in every region, and the deployment has none
(docs/decisions.md). An ``x-api-key`` header proves nothing here.

Each mode yields the ``identity`` AppSync hands a Lambda for it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.credentials import Credentials

from emulator.appsync import sigv4
from emulator.cloud.jwt_issuer import LocalIssuer
from emulator.cloud.server import LOCAL_ACCOUNT_ID

if TYPE_CHECKING:
    from emulator.appsync.lambda_auth import LambdaAuthorizer, Operation

AWS_LAMBDA = "AWS_LAMBDA"
API_KEY = "API_KEY"  # a mode AppSync has and this deployment does not use
AWS_IAM = "AWS_IAM"
COGNITO = "AMAZON_COGNITO_USER_POOLS"
# 40 letters and digits, as Secrets Manager generates the deployed one; local only.
DEFAULT_PUBLIC_TOKEN = "gatewayLocalPublicClientToken00000000001"
DEFAULT_ACCESS_KEY_ID = "AKIAGATEWAYLOCAL0001"
DEFAULT_SECRET_ACCESS_KEY = "gateway-local-secret-access-key"


@dataclass(frozen=True)
class Caller:
    """An authenticated request: its mode, its identity and its headers.

    ``denied_fields`` are the ``Type.field`` names a Lambda authorizer refused this
    caller (its ``deniedFields``); ``credential`` is what rate limits and socket caps
    count by: the client token, the user, or the signer's key id.
    """

    mode: str
    identity: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    source_ip: str = "127.0.0.1"
    credential: str = ""
    denied_fields: frozenset[str] = frozenset()

    def denies(self, type_name: str, field_name: str) -> bool:
        """Whether this caller's authorizer refused it ``type_name.field_name``."""
        return f"{type_name}.{field_name}" in self.denied_fields


@dataclass(frozen=True)
class LocalCredentials:
    """The credentials one ``gateway dev`` hands out: the public client token its
    authorizers accept (in every region, as deployed), and one IAM key pair."""

    public_token: str = DEFAULT_PUBLIC_TOKEN
    access_key_id: str = DEFAULT_ACCESS_KEY_ID
    secret_access_key: str = DEFAULT_SECRET_ACCESS_KEY

    def botocore(self) -> Credentials:
        return Credentials(self.access_key_id, self.secret_access_key)

    def install(self) -> None:
        """Make the local pair what this process's AWS SDK signs with: the local cloud
        serves that pair alone (:mod:`emulator.cloud.guard`), whatever the shell holds."""
        os.environ["AWS_ACCESS_KEY_ID"] = self.access_key_id
        os.environ["AWS_SECRET_ACCESS_KEY"] = self.secret_access_key
        os.environ.pop("AWS_SESSION_TOKEN", None)  # it belongs to some other key pair


async def authenticate(
    credentials: LocalCredentials,
    region: str,
    headers: dict[str, str],
    request: tuple[str, str, bytes] | None = None,
    issuer: LocalIssuer | None = None,
    authorizer: LambdaAuthorizer | None = None,
    operation: Operation | None = None,
) -> Caller | None:
    """The caller these headers prove, or None when they prove nobody.

    Parameters
    ----------
    headers
        Lower-cased request headers (for a WebSocket, the init payload's too).
    request
        ``(method, url, body)`` of an HTTP request, needed to check a signature.
    issuer
        The local user pool; without it, JWTs are not accepted.
    authorizer
        The API's Lambda authorizer; without it, client tokens are not accepted.
    operation
        What the request asks, for the authorizer's event (empty for a connection).
    """
    authorization = headers.get("authorization", "")
    if authorizer is not None and authorizer.claims(authorization):
        return await authorizer.authorize(authorization, headers, operation)
    if issuer is not None and authorization and not authorization.startswith("AWS4-"):
        token = authorization.removeprefix("Bearer ").strip()
        claims = issuer.verify(token)
        if claims is None:
            return None
        return Caller(COGNITO, cognito_identity(claims), headers, credential=claims["sub"])
    signed = authorization.startswith("AWS4-HMAC-SHA256")
    if signed and request is not None and verify_sigv4(credentials, region, headers, *request):
        return Caller(
            AWS_IAM, iam_identity(credentials), headers, credential=credentials.access_key_id
        )
    return None


def verify_sigv4(
    credentials: LocalCredentials,
    region: str,
    headers: dict[str, str],
    method: str,
    url: str,
    body: bytes,
    now: datetime | None = None,
) -> bool:
    """Whether the local key pair signed this request, for AppSync in ``region``, over
    the body that arrived (see :func:`emulator.appsync.sigv4.verify`)."""
    scope = sigv4.verify(
        credentials.access_key_id, credentials.secret_access_key, headers, method, url, body, now
    )
    return scope == sigv4.Scope(region, "appsync")


def cognito_identity(claims: dict[str, Any]) -> dict[str, Any]:
    """The identity AppSync gives a Lambda for a Cognito user-pool token."""
    groups = claims.get("cognito:groups") or []
    return {
        "sub": claims["sub"],
        "issuer": claims["iss"],
        "username": claims.get("cognito:username", claims["sub"]),
        "claims": claims,
        "sourceIp": ["127.0.0.1"],
        "defaultAuthStrategy": "ALLOW",
        "groups": list(groups) if isinstance(groups, list) else None,
    }


def iam_identity(credentials: LocalCredentials) -> dict[str, Any]:
    """The identity AppSync gives a Lambda for an IAM-signed request."""
    return {
        "accountId": LOCAL_ACCOUNT_ID,
        "cognitoIdentityAuthProvider": None,
        "cognitoIdentityAuthType": None,
        "cognitoIdentityId": None,
        "cognitoIdentityPoolId": None,
        "sourceIp": ["127.0.0.1"],
        "userArn": f"arn:aws:iam::{LOCAL_ACCOUNT_ID}:user/gateway-local",
        "username": credentials.access_key_id,
    }
