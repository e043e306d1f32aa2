"""The admin surface answers the local operator alone: a web page, another local user or
a stray client gets nothing from it, and cannot change anything through it.

A web page reaches loopback through the browser, and with DNS rebinding its own
hostname resolves to 127.0.0.1: every endpoint checks the Host header. The admin
endpoints want the per-run operator token from the state directory; the moto endpoint
wants requests signed with the local IAM key pair. The state files are the owner's.
"""

from __future__ import annotations

import http.client
import json
import re
import stat
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.support import Gateway, gateway_cli

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

HARMLESS_FAULT = {"kind": "crash", "region": "eu-west-1", "match": "NO-SUCH-PK-admin-surface"}
JSON = {"content-type": "application/json"}


@pytest.fixture(autouse=True)
def no_fault_left(gateway: Gateway) -> Iterator[None]:
    """Whatever a test switched on is off again for the tests after it."""
    yield
    status, _, answer = request(
        base(gateway) + "/_emulator/faults", "DELETE", None, gateway.operator()
    )
    assert status == 200, answer


def state(gateway: Gateway) -> dict[str, Any]:
    assert gateway.state_dir is not None
    return dict(json.loads((gateway.state_dir / "dev.json").read_text()))


def request(
    url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """``(status, headers, body)`` of one request, sent as given; redirects not followed."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=15)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request(method, path, body=body, headers=headers or {})
        answer = connection.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        connection.close()


def base(gateway: Gateway) -> str:
    return gateway.primary.removesuffix("/graphql")


ADMIN_CALLS = [
    ("GET", "/_emulator/status", None),
    ("GET", "/_emulator/faults", None),
    ("POST", "/_emulator/faults", json.dumps(HARMLESS_FAULT).encode()),
    ("DELETE", "/_emulator/faults", None),
    ("DELETE", "/_emulator/faults/crash-1", None),
    ("GET", "/_emulator/mock/", None),
    ("POST", "/_emulator/mock/emit", b'{"subscription": "onProductChanged"}'),
]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_CALLS)
@pytest.mark.parametrize(
    "credential",
    [{}, {"Authorization": "Bearer not-the-operator-token"}, {"Cookie": "gateway-operator=x"}],
    ids=["none", "wrong-token", "wrong-cookie"],
)
def test_an_admin_call_without_the_operator_token_is_refused_and_changes_nothing(
    gateway: Gateway, method: str, path: str, body: bytes | None, credential: dict[str, str]
) -> None:
    """GIVEN a running gateway dev WHEN an admin endpoint is called with no token, a wrong
    one, or a made-up cookie THEN 401 or 403 with a JSON reason, no status or client token in
    the answer, and no fault is switched on."""
    status, _, answer = request(base(gateway) + path, method, body, {**JSON, **credential})

    assert status in (401, 403), answer
    assert "error" in json.loads(answer)
    assert gateway.public_token.encode() not in answer and b"regions" not in answer
    listed = request(base(gateway) + "/_emulator/faults", headers=gateway.operator())
    assert (listed[0], json.loads(listed[2])) == (200, {"faults": []})


@pytest.mark.parametrize(
    ("method", "path", "accept"),
    [
        ("GET", "/graphql", "text/html"),
        ("POST", "/graphql", "application/json"),
        ("GET", "/_emulator/status", "text/html"),
        ("GET", "/_emulator/faults", "application/json"),
    ],
)
@pytest.mark.parametrize(
    "host",
    ["rebound.example.com:{port}", "127.0.0.1:1", "localhost"],
    ids=["rebound", "port", "bare"],
)
def test_a_request_for_another_host_is_refused_before_it_is_read(
    gateway: Gateway, method: str, path: str, accept: str, host: str
) -> None:
    """GIVEN a web page whose own name was rebound to 127.0.0.1 (or a Host naming another
    port, or none) WHEN it asks for GraphiQL, the API, the status page or the faults,
    with the credential each takes (the client token, or the operator token) THEN 403,
    and the answer holds neither the client token nor the status."""
    body = json.dumps({"query": "{ region { name } }"}).encode() if method == "POST" else None
    operator = f"Bearer {state(gateway).get('operator_token', '')}"
    headers = {
        "Host": host.format(port=gateway.port),
        "accept": accept,
        "Authorization": operator if path.startswith("/_emulator") else gateway.public_token,
        **JSON,
    }

    status, _, answer = request(base(gateway) + path, method, body, headers)

    assert status == 403, answer
    assert gateway.public_token.encode() not in answer
    assert b"regions" not in answer and b"us-east-1" not in answer


def test_a_websocket_for_another_host_is_refused(gateway: Gateway) -> None:
    """GIVEN a rebound page WHEN it opens the real-time WebSocket with the client token THEN
    the upgrade is refused with 403."""
    headers = {
        "Host": f"rebound.example.com:{gateway.port}",
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Protocol": "graphql-ws",
        "Authorization": gateway.public_token,
    }

    status, _, _ = request(gateway.primary, "GET", None, headers)

    assert status == 403


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "[::1]:{port}"])
def test_the_loopback_names_of_the_bound_port_are_served(gateway: Gateway, host: str) -> None:
    """GIVEN each loopback name with the region's port WHEN the API is asked THEN it answers."""
    body = json.dumps({"query": "{ region { name } }"}).encode()
    headers = {
        "Host": host.format(port=gateway.port),
        "Authorization": gateway.public_token,
        **JSON,
    }

    status, _, answer = request(gateway.primary, "POST", body, headers)

    assert status == 200
    assert json.loads(answer)["data"] == {"region": {"name": "us-east-1"}}


@pytest.mark.parametrize(
    ("key_id", "secret"),
    [("{key_id}", "not-the-local-secret"), ("AKIAANYONEELSE000000", "{secret}")],
    ids=["wrong-secret", "another-key-id"],
)
def test_the_dynamodb_endpoint_refuses_other_credentials(
    gateway: Gateway, key_id: str, secret: str
) -> None:
    """GIVEN the moto endpoint named in dev.json WHEN a boto3 client signs with another
    secret or another key id THEN every call is refused, and nothing is listed; the
    local key pair still lists the gateway's tables."""
    running = state(gateway)
    local = running["credentials"]

    def client(key: str, secret_key: str) -> Any:
        return boto3.client(
            "dynamodb",
            region_name="us-east-1",
            endpoint_url=running["endpoint_url"],
            aws_access_key_id=key.format(key_id=local["access_key_id"]),
            aws_secret_access_key=secret_key.format(secret=local["secret_access_key"]),
            config=Config(retries={"total_max_attempts": 1}),
        )

    with pytest.raises(ClientError) as refused:
        client(key_id, secret).list_tables()

    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 403)
    assert "TableNames" not in refused.value.response
    mine = client(local["access_key_id"], local["secret_access_key"]).list_tables()
    assert "gateway-write" in mine["TableNames"]


def test_the_dynamodb_endpoint_refuses_unsigned_and_rebound_requests(gateway: Gateway) -> None:
    """GIVEN the moto endpoint WHEN asked unsigned (moto's own reset API, a table list),
    or with another Host THEN refused with 4xx, and the tables are still there."""
    endpoint = state(gateway)["endpoint_url"]
    target = {"X-Amz-Target": "DynamoDB_20120810.ListTables", **JSON}
    host = {"Host": "rebound.example.com:" + str(urlsplit(endpoint).port)}

    for method, path, headers in (
        ("POST", "/", target),
        ("POST", "/moto-api/reset", {}),
        ("GET", "/moto-api/data.json", {}),
        ("POST", "/", {**target, **host}),
    ):
        status, _, answer = request(endpoint + path, method, b"{}", headers)
        assert 400 <= status < 500, (path, status, answer)
        assert b"gateway-write" not in answer
    assert gateway.query(gateway.primary, "{ region { name } }") == {
        "region": {"name": "us-east-1"}
    }


def test_the_state_files_are_the_owners_alone(gateway: Gateway) -> None:
    """GIVEN a running gateway dev WHEN its state directory is listed THEN the directory
    is 0700 and every file in it (dev.json with the secrets, the journal, the signing
    key) is 0600."""
    assert gateway.state_dir is not None
    files = {path.name: path for path in gateway.state_dir.iterdir()}

    assert {"dev.json", "dynamodb.journal", "jwt-signing-key.pem"} <= files.keys()
    assert stat.S_IMODE(gateway.state_dir.stat().st_mode) == 0o700
    modes = {name: oct(stat.S_IMODE(path.stat().st_mode)) for name, path in files.items()}
    assert modes == dict.fromkeys(files, oct(0o600))


def test_the_printed_status_url_signs_a_browser_in_with_a_cookie(gateway: Gateway) -> None:
    """GIVEN the status URL gateway dev printed, with its token WHEN a browser opens it
    THEN a 303 to the same page without the token, setting an HttpOnly SameSite=Strict
    cookie for /_emulator; with that cookie the page and its JSON answer, and the
    cookie does not open the API."""
    printed = re.search(r"status and faults:\s+(\S+)", gateway.text())
    assert printed is not None
    url = printed.group(1)
    assert "token=" in url

    status, headers, _ = request(url, headers={"accept": "text/html"})

    assert status == 303
    assert headers["location"].endswith("/_emulator/status")
    cookie = headers["set-cookie"]
    for attribute in ("HttpOnly", "SameSite=Strict", "Path=/_emulator"):
        assert attribute.lower() in cookie.lower(), cookie
    sent = {"Cookie": cookie.split(";")[0]}
    page = request(base(gateway) + "/_emulator/status", headers={**sent, "accept": "text/html"})
    assert page[0] == 200 and b"<html" in page[2].lower()
    data = request(base(gateway) + "/_emulator/status?history=1", headers=sent)
    assert data[0] == 200 and "regions" in json.loads(data[2])
    api = request(gateway.primary, "POST", b'{"query": "{ region { name } }"}', {**sent, **JSON})
    assert api[0] == 401


def test_the_operator_commands_still_reach_the_admin_endpoint(gateway: Gateway) -> None:
    """GIVEN the operator token in dev.json WHEN `gateway chaos` switches a fault on,
    lists and clears it, and `gateway status` reads THEN each works as before."""
    added = gateway_cli(
        gateway, "chaos", "crash", "--region", "eu-west-1", "--match", "NO-SUCH-PK-cli"
    )
    assert added.returncode == 0, added.stderr
    fault_id = added.stdout.split()[0]
    listed = gateway_cli(gateway, "chaos", "list")
    assert fault_id in listed.stdout
    cleared = gateway_cli(gateway, "chaos", "clear", fault_id)
    assert cleared.returncode == 0 and fault_id in cleared.stdout, cleared.stderr
    read = gateway_cli(gateway, "status", "--json")
    assert read.returncode == 0 and json.loads(read.stdout)["faults"] == []
