"""The guard in front of moto: the local key pair's signature, on a loopback Host."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from emulator.appsync.auth import LocalCredentials
from emulator.cloud.guard import guard

LOCAL = LocalCredentials()
PORT = "45678"
HOST = f"127.0.0.1:{PORT}"
BODY = b'{"TableName": "gateway-write"}'


class Moto:
    """Stands in for moto: remembers the bodies it was handed."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        self.bodies.append(environ["wsgi.input"].read())
        start_response("200 OK", [("Content-Type", "application/x-amz-json-1.0")])
        return [b"{}"]


def environ(
    *,
    secret: str = LOCAL.secret_access_key,
    key_id: str = LOCAL.access_key_id,
    host: str = HOST,
    body: bytes = BODY,
    sent_body: bytes | None = None,
    signed: bool = True,
) -> dict[str, Any]:
    """A WSGI environ for a DynamoDB call as botocore signs it, as werkzeug hands it on."""
    request = AWSRequest(
        method="POST",
        url=f"http://{HOST}/",
        data=body,
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "DynamoDB_20120810.DescribeTable",
        },
    )
    if signed:
        SigV4Auth(Credentials(key_id, secret), "dynamodb", "eu-west-1").add_auth(request)
    sent = body if sent_body is None else sent_body
    wsgi: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "RAW_URI": "/",
        "SERVER_PORT": PORT,
        "CONTENT_LENGTH": str(len(sent)),
        "wsgi.input": io.BytesIO(sent),
        "HTTP_HOST": host,
    }
    for name, value in request.headers.items():
        key = name.upper().replace("-", "_")
        if key == "CONTENT_TYPE":
            wsgi[key] = value
        else:
            wsgi["HTTP_" + key] = value.decode() if isinstance(value, bytes) else value
    return wsgi


def answer(env: dict[str, Any]) -> tuple[str, dict[str, Any], Moto]:
    moto = Moto()
    started: list[str] = []
    app = guard(moto, LOCAL.access_key_id, LOCAL.secret_access_key)
    body = b"".join(app(env, lambda status, headers: started.append(status)))
    return started[0], json.loads(body), moto


def test_a_call_signed_with_the_local_pair_reaches_moto_with_its_body() -> None:
    """GIVEN a DynamoDB call signed with the local key pair WHEN it arrives THEN moto
    answers it, and reads the whole body the guard had to read to check it."""
    status, _, moto = answer(environ())

    assert status == "200 OK"
    assert moto.bodies == [BODY]


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"secret": "another-secret"}, "UnrecognizedClientException"),
        ({"key_id": "AKIAANYONEELSE000000"}, "UnrecognizedClientException"),
        ({"sent_body": b'{"TableName": "gateway-projection"}'}, "UnrecognizedClientException"),
        ({"signed": False}, "MissingAuthenticationTokenException"),
    ],
    ids=["another-secret", "another-key-id", "body-changed", "unsigned"],
)
def test_any_other_caller_gets_dynamodbs_own_refusal_and_moto_never_sees_it(
    overrides: dict[str, Any], code: str
) -> None:
    """GIVEN a call signed with another secret or key id, one whose body was changed
    after signing, or an unsigned one (moto's own reset API is one) WHEN it arrives THEN
    400 with DynamoDB's error code, so an SDK reports it as AWS's, and moto never runs."""
    status, refusal, moto = answer(environ(**overrides))

    assert status.startswith("400")
    assert refusal["__type"].endswith("#" + code)
    assert moto.bodies == []


def test_a_rebound_host_gets_403_even_when_signed() -> None:
    """GIVEN a correctly signed call whose Host names another server WHEN it arrives
    THEN 403, and moto never runs."""
    status, _, moto = answer(environ(host=f"rebound.example.com:{PORT}"))

    assert status.startswith("403")
    assert moto.bodies == []
