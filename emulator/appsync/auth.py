"""Who is calling: the API key, or a SigV4 signature checked as AppSync checks it.

Each mode yields the ``identity`` AppSync hands a Lambda for it: ``None`` for API_KEY,
and the IAM shape for AWS_IAM.
"""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.credentials import Credentials

from emulator.appsync import sigv4
from emulator.cloud.jwt_issuer import LocalIssuer
from emulator.cloud.server import LOCAL_ACCOUNT_ID

API_KEY = "API_KEY"
AWS_IAM = "AWS_IAM"
COGNITO = "AMAZON_COGNITO_USER_POOLS"
DEFAULT_API_KEY = "da2-gatewaylocaldevelopmentkey"
DEFAULT_ACCESS_KEY_ID = "AKIAGATEWAYLOCAL0001"
DEFAULT_SECRET_ACCESS_KEY = "gateway-local-secret-access-key"


@dataclass(frozen=True)
class Caller:
    """An authenticated request: its mode, its identity and its headers."""

    mode: str
    identity: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    source_ip: str = "127.0.0.1"
    credential: str = ""  # what rate limits count by: the key, or the signer's key id


@dataclass(frozen=True)
class LocalCredentials:
    """The credentials one ``gateway dev`` accepts: an API key and one IAM key pair."""

    api_key: str = DEFAULT_API_KEY
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


def authenticate(
    credentials: LocalCredentials,
    region: str,
    headers: dict[str, str],
    request: tuple[str, str, bytes] | None = None,
    issuer: LocalIssuer | None = None,
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
    """
    authorization = headers.get("authorization", "")
    if issuer is not None and authorization and not authorization.startswith("AWS4-"):
        token = authorization.removeprefix("Bearer ").strip()
        claims = issuer.verify(token)
        if claims is None:
            return None
        return Caller(COGNITO, cognito_identity(claims), headers, credential=claims["sub"])
    api_key = headers.get("x-api-key")
    if api_key is not None:
        if hmac.compare_digest(api_key.encode(), credentials.api_key.encode()):
            return Caller(API_KEY, None, headers, credential=api_key)
        return None
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
