"""Who a request proves to be: a SigV4 signature checked as AppSync checks it; no API key."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from emulator.appsync.auth import (
    AWS_IAM,
    Caller,
    LocalCredentials,
    authenticate,
    verify_sigv4,
)
from emulator.cloud.server import LOCAL_ACCOUNT_ID

CREDENTIALS = LocalCredentials()
REGION = "us-east-1"
HOST = "127.0.0.1:4000"
URL = f"http://{HOST}/graphql"
BODY = b'{"query":"mutation { publishProductChanged { id } }"}'


def authenticated(
    credentials: LocalCredentials,
    region: str,
    headers: dict[str, str],
    request: tuple[str, str, bytes] | None = None,
) -> Caller | None:
    """:func:`authenticate`, awaited: no authorizer or user pool, only what is left."""
    return asyncio.run(authenticate(credentials, region, headers, request))


def signed_headers(
    *,
    secret: str = CREDENTIALS.secret_access_key,
    region: str = REGION,
    service: str = "appsync",
    body: bytes = BODY,
) -> dict[str, str]:
    """The lower-cased headers a SigV4 client sends, as the HTTP layer hands them over."""
    request = AWSRequest(
        method="POST", url=URL, data=body, headers={"content-type": "application/json"}
    )
    SigV4Auth(Credentials(CREDENTIALS.access_key_id, secret), service, region).add_auth(request)
    headers = {name.lower(): value for name, value in request.headers.items()}
    headers["host"] = HOST  # every HTTP/1.1 client sends it; botocore signs it without adding it
    return headers


def test_a_valid_signature_proves_the_iam_caller() -> None:
    """
    GIVEN a request signed by botocore with the local IAM key pair for this region
    WHEN it is authenticated
    THEN the caller is AWS_IAM with the identity AppSync hands a Lambda
    """
    headers = signed_headers()

    caller = authenticated(CREDENTIALS, REGION, headers, ("POST", URL, BODY))

    assert caller is not None
    assert caller.mode == AWS_IAM
    assert caller.identity is not None
    assert caller.identity["accountId"] == LOCAL_ACCOUNT_ID
    assert caller.identity["userArn"] == f"arn:aws:iam::{LOCAL_ACCOUNT_ID}:user/gateway-local"
    assert caller.identity["username"] == CREDENTIALS.access_key_id
    assert caller.headers == headers


def test_a_signed_request_whose_body_was_changed_proves_nobody() -> None:
    """
    GIVEN a validly signed request
    WHEN its body is altered after signing
    THEN nobody is authenticated
    """
    headers = signed_headers()
    tampered = BODY.replace(b"id", b"sku")

    assert authenticated(CREDENTIALS, REGION, headers, ("POST", URL, tampered)) is None


@pytest.mark.parametrize(
    ("why", "overrides"),
    [
        ("wrong secret", {"secret": "not-the-local-secret"}),
        ("another region", {"region": "eu-west-1"}),
        ("another service", {"service": "lambda"}),
    ],
)
def test_a_signature_made_for_something_else_proves_nobody(
    why: str, overrides: dict[str, Any]
) -> None:
    """
    GIVEN a request signed with the wrong secret, for another region, or another service
    WHEN it is authenticated in this region
    THEN nobody is authenticated
    """
    headers = signed_headers(**overrides)

    assert authenticated(CREDENTIALS, REGION, headers, ("POST", URL, BODY)) is None, why


@pytest.mark.parametrize("missing", ["content-type", "host", "x-amz-date"])
def test_a_signed_header_that_did_not_arrive_proves_nobody(missing: str) -> None:
    """
    GIVEN a validly signed request
    WHEN one of the headers it signed is not in the request
    THEN nobody is authenticated
    """
    headers = signed_headers()
    del headers[missing]

    assert authenticated(CREDENTIALS, REGION, headers, ("POST", URL, BODY)) is None


def test_a_signature_ten_minutes_old_is_refused() -> None:
    """
    GIVEN a validly signed request
    WHEN it is checked ten minutes after its x-amz-date
    THEN it is refused, as past AppSync's five-minute clock skew
    """
    headers = signed_headers()
    signed_at = datetime.strptime(headers["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)

    stale = verify_sigv4(
        CREDENTIALS, REGION, headers, "POST", URL, BODY, now=signed_at + timedelta(minutes=10)
    )
    fresh = verify_sigv4(
        CREDENTIALS, REGION, headers, "POST", URL, BODY, now=signed_at + timedelta(minutes=4)
    )

    assert stale is False
    assert fresh is True


@pytest.mark.parametrize(
    "authorization",
    [
        "AWS4-HMAC-SHA256 garbage",
        "AWS4-HMAC-SHA256 Credential=AKIAGATEWAYLOCAL0001/20240101/us-east-1/appsync/"
        "aws4_request, SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
        "Bearer not-a-signature",
    ],
)
def test_a_garbage_authorization_header_proves_nobody(authorization: str) -> None:
    """
    GIVEN a request whose Authorization header is garbage or a forged signature
    WHEN it is authenticated
    THEN nobody is authenticated
    """
    headers = signed_headers()
    headers["authorization"] = authorization

    assert authenticated(CREDENTIALS, REGION, headers, ("POST", URL, BODY)) is None


def test_a_signature_without_the_request_to_check_it_against_proves_nobody() -> None:
    """
    GIVEN validly signed headers
    WHEN they arrive without the method, URL and body they sign
    THEN nobody is authenticated, since the signature cannot be checked
    """
    assert authenticated(CREDENTIALS, REGION, signed_headers()) is None


@pytest.mark.parametrize(
    "headers",
    [
        {"x-api-key": "da2-gatewaylocaldevelopmentkey"},
        {"x-api-key": "da2-someoneelseskey"},
        {"x-api-key": ""},
        {},
    ],
    ids=["the old local key", "another key", "empty", "nothing"],
)
def test_an_api_key_or_no_credential_proves_nobody(headers: dict[str, str]) -> None:
    """
    GIVEN an x-api-key (the deployment has no API key: its values differed per region)
    or no credential at all
    WHEN the request is authenticated
    THEN nobody is authenticated
    """
    assert authenticated(CREDENTIALS, REGION, headers, ("POST", URL, BODY)) is None


def signed_with_content_hash(content_hash: str, body: bytes = BODY) -> dict[str, str]:
    """Headers signed by botocore with ``x-amz-content-sha256: content_hash`` among them,
    as S3-style clients send it: botocore then signs that value, not the body."""
    request = AWSRequest(
        method="POST",
        url=URL,
        data=body,
        headers={"content-type": "application/json", "X-Amz-Content-SHA256": content_hash},
    )
    SigV4Auth(CREDENTIALS.botocore(), "appsync", REGION).add_auth(request)
    headers = {name.lower(): value for name, value in request.headers.items()}
    headers["host"] = HOST
    return headers


FORGED = b'{"query":"mutation { publishProductChanged(id: \\"p-1\\", stock: 0) { id } }"}'


@pytest.mark.parametrize(
    "content_hash",
    [hashlib.sha256(BODY).hexdigest(), "UNSIGNED-PAYLOAD"],
    ids=["hash-of-the-captured-body", "unsigned-payload"],
)
def test_a_signature_is_checked_over_the_body_received_whatever_the_content_hash_says(
    content_hash: str,
) -> None:
    """
    GIVEN a request signed with x-amz-content-sha256 naming the hash of one body (or
    UNSIGNED-PAYLOAD), captured on its way
    WHEN it is sent again with a forged body and the same headers
    THEN nobody is authenticated: the signature does not cover that body
    """
    headers = signed_with_content_hash(content_hash)

    assert authenticated(CREDENTIALS, REGION, headers, ("POST", URL, FORGED)) is None


def test_a_content_hash_that_matches_the_body_is_accepted() -> None:
    """
    GIVEN a request that signs x-amz-content-sha256, the true SHA-256 of its body
    WHEN it arrives as signed
    THEN the caller is AWS_IAM: clients that send the header keep working
    """
    headers = signed_with_content_hash(hashlib.sha256(BODY).hexdigest())

    caller = authenticated(CREDENTIALS, REGION, headers, ("POST", URL, BODY))

    assert caller is not None and caller.mode == AWS_IAM


def test_unsigned_payload_is_refused_even_with_the_body_it_came_with() -> None:
    """
    GIVEN a request signed with x-amz-content-sha256: UNSIGNED-PAYLOAD
    WHEN it arrives with its own body
    THEN nobody is authenticated: AppSync signs payloads, so a signature must cover one
    """
    headers = signed_with_content_hash("UNSIGNED-PAYLOAD")

    assert authenticated(CREDENTIALS, REGION, headers, ("POST", URL, BODY)) is None
