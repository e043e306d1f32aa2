"""A region's HTTP endpoint, driven as an ASGI app: what it reads before it refuses, and
the error metadata clients name a refusal by (Amplify JS reads x-amzn-ErrorType; without
it a wrong token is reported as "Unknown error")."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from emulator.appsync.auth import AWS_LAMBDA, Caller, LocalCredentials
from emulator.appsync.executor import Outcome
from emulator.appsync.http import MAX_BODY_BYTES, build_app
from emulator.appsync.lambda_auth import Operation
from emulator.appsync.limits import Limits

CHUNK = 64 * 1024


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """One event loop for the module, made before the conftest's ``no_sockets`` runs."""
    event_loop = asyncio.new_event_loop()
    yield event_loop
    event_loop.close()


class FakeRegion:
    """A region that notes each authentication and answers every request alike."""

    name = "us-east-1"
    credentials = LocalCredentials()
    limits = Limits()
    # What the Host check (emulator.appsync.host_check) reads: the URL this region serves.
    settings = SimpleNamespace(appsync_url="http://127.0.0.1:4000/graphql")

    def __init__(self) -> None:
        self.authenticated: list[dict[str, str]] = []

    async def authenticate(
        self,
        headers: dict[str, str],
        request: tuple[str, str, bytes] | None = None,
        operation: Operation | None = None,
    ) -> Caller | None:
        self.authenticated.append(headers)
        return Caller(AWS_LAMBDA, {"resolverContext": {}}, headers, credential="token")

    async def execute(
        self,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        caller: Caller,
    ) -> Outcome:
        return Outcome({"data": {"region": {"name": self.name}}})


class Upload:
    """A client sending ``total`` bytes of zeros in 64 KB chunks; counts what was read."""

    def __init__(self, total: int) -> None:
        self.left = total
        self.chunks_read = 0

    async def receive(self) -> dict[str, Any]:
        size = min(CHUNK, self.left)
        self.left -= size
        self.chunks_read += 1
        return {"type": "http.request", "body": b"\0" * size, "more_body": self.left > 0}


async def _asgi(
    region: FakeRegion, upload: Upload, headers: dict[str, str]
) -> list[dict[str, Any]]:
    """POST /graphql through the ASGI app; every message it sent back."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1:4000"),
            *((k.lower().encode(), v.encode()) for k, v in headers.items()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 4000),
    }
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    app = build_app(region)  # type: ignore[arg-type]
    await app(scope, upload.receive, send)
    return sent


def post(
    loop: asyncio.AbstractEventLoop,
    region: FakeRegion,
    upload: Upload,
    headers: dict[str, str],
) -> tuple[int, dict[str, Any]]:
    """POST /graphql through the ASGI app; ``(status, JSON body)``."""
    sent = loop.run_until_complete(_asgi(region, upload, headers))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(body)


def test_a_declared_oversized_body_is_refused_before_a_byte_is_read(
    loop: asyncio.AbstractEventLoop,
) -> None:
    """
    GIVEN a POST declaring 200 MB in Content-Length, with no credentials
    WHEN it reaches /graphql
    THEN HTTP 413 with a LimitExceeded error in AppSync's shape, not one byte of the body
         was read, and no authentication was attempted
    """
    region = FakeRegion()
    upload = Upload(200 * 1024 * 1024)

    status, body = post(loop, region, upload, {"content-length": str(200 * 1024 * 1024)})

    assert status == 413
    [error] = body["errors"]
    assert error["errorType"] == "LimitExceeded"
    assert str(MAX_BODY_BYTES) in error["message"]
    assert upload.chunks_read == 0
    assert region.authenticated == []


def test_a_chunked_body_is_cut_off_once_it_passes_the_limit(
    loop: asyncio.AbstractEventLoop,
) -> None:
    """
    GIVEN a chunked POST (no Content-Length) of 50 MB
    WHEN it reaches /graphql
    THEN HTTP 413 LimitExceeded after reading no more than the limit and one chunk, with
         no authentication attempted
    """
    region = FakeRegion()
    upload = Upload(50 * 1024 * 1024)

    status, body = post(loop, region, upload, {"transfer-encoding": "chunked"})

    assert status == 413
    assert body["errors"][0]["errorType"] == "LimitExceeded"
    assert upload.chunks_read * CHUNK <= MAX_BODY_BYTES + CHUNK
    assert region.authenticated == []


@pytest.mark.parametrize("length", ["many", "-1", "1e3"])
def test_a_content_length_that_is_not_a_size_is_a_bad_request(
    loop: asyncio.AbstractEventLoop, length: str
) -> None:
    """GIVEN a Content-Length that is not a whole number of bytes THEN HTTP 400, unread."""
    region = FakeRegion()
    upload = Upload(10)

    status, body = post(loop, region, upload, {"content-length": length})

    assert status == 400
    assert body["errors"][0]["errorType"] == "MalformedHttpRequestException"
    assert (upload.chunks_read, region.authenticated) == (0, [])


def test_a_body_within_the_limit_is_read_whole_and_answered(
    loop: asyncio.AbstractEventLoop,
) -> None:
    """GIVEN a small GraphQL request WHEN posted THEN it is authenticated and answered."""
    region = FakeRegion()
    request = json.dumps({"query": "{ region { name } }"}).encode()

    class Small(Upload):
        async def receive(self) -> dict[str, Any]:
            self.chunks_read += 1
            if self.chunks_read > 1:  # the client stays, as uvicorn says by waiting
                await asyncio.Event().wait()
            return {"type": "http.request", "body": request, "more_body": False}

    status, body = post(
        loop,
        region,
        Small(len(request)),
        {"content-length": str(len(request)), "authorization": "token"},
    )

    assert (status, body) == (200, {"data": {"region": {"name": "us-east-1"}}})
    assert len(region.authenticated) == 1


def test_a_client_that_leaves_stops_its_request(loop: asyncio.AbstractEventLoop) -> None:
    """
    GIVEN a query whose execution would take as long as it is let run
    WHEN its client disconnects while it runs
    THEN the execution is cancelled: nothing goes on working for nobody
    """
    cancelled = asyncio.Event()
    started = asyncio.Event()

    class Endless(FakeRegion):
        async def execute(self, *args: Any) -> Outcome:  # type: ignore[override]
            started.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.set()
                raise
            raise AssertionError("never answered")

    request = json.dumps({"query": "{ region { name } }"}).encode()
    messages: list[dict[str, Any]] = [{"type": "http.request", "body": request, "more_body": False}]

    class Leaving(Upload):
        async def receive(self) -> dict[str, Any]:
            if messages:
                return messages.pop(0)
            await started.wait()
            return {"type": "http.disconnect"}

    async def leave() -> None:
        region = Endless()
        headers = {"content-length": str(len(request)), "authorization": "token"}
        task = asyncio.ensure_future(_asgi(region, Leaving(0), headers))
        await asyncio.wait_for(cancelled.wait(), 2.0)
        await asyncio.wait_for(task, 2.0)

    loop.run_until_complete(leave())
    assert cancelled.is_set()


REQUEST = json.dumps({"query": "{ region { name } }"}).encode()
REQUEST_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class Whole(Upload):
    """A client that sends ``REQUEST`` at once, then stays."""

    def __init__(self) -> None:
        super().__init__(len(REQUEST))

    async def receive(self) -> dict[str, Any]:
        self.chunks_read += 1
        if self.chunks_read > 1:
            await asyncio.Event().wait()
        return {"type": "http.request", "body": REQUEST, "more_body": False}


class Stranger(FakeRegion):
    """A region that recognises no credential."""

    async def authenticate(
        self,
        headers: dict[str, str],
        request: tuple[str, str, bytes] | None = None,
        operation: Operation | None = None,
    ) -> Caller | None:
        return None


class Throttled(FakeRegion):
    """A region whose rate limit refuses every request."""

    async def execute(self, *args: Any) -> Outcome:
        error = {"errorType": "LimitExceededException", "message": "Rate exceeded"}
        return Outcome({"data": None, "errors": [error]}, status=429)


def answer(
    loop: asyncio.AbstractEventLoop,
    region: FakeRegion,
    upload: Upload,
    headers: dict[str, str],
) -> tuple[int, dict[str, str], dict[str, Any]]:
    """``(status, lower-cased headers, JSON body)`` of one POST /graphql."""
    sent = loop.run_until_complete(_asgi(region, upload, headers))
    start = next(m for m in sent if m["type"] == "http.response.start")
    names = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], names, json.loads(body)


SENT = {"content-length": str(len(REQUEST)), "authorization": "token"}


@pytest.mark.parametrize(
    ("region", "upload", "headers", "status", "error_type"),
    [
        (Stranger(), Whole(), SENT, 401, "UnauthorizedException"),
        (
            FakeRegion(),
            Upload(10),
            {"content-length": "many"},
            400,
            "MalformedHttpRequestException",
        ),
        (FakeRegion(), Upload(10**8), {"content-length": str(10**8)}, 413, "LimitExceeded"),
        (Throttled(), Whole(), SENT, 429, "LimitExceededException"),
    ],
    ids=["wrong credential", "malformed", "too large", "throttled"],
)
def test_a_refusal_names_its_error_type_in_the_header_clients_read(
    loop: asyncio.AbstractEventLoop,
    region: FakeRegion,
    upload: Upload,
    headers: dict[str, str],
    status: int,
    error_type: str,
) -> None:
    """GIVEN a request the endpoint refuses WHEN it answers THEN the x-amzn-ErrorType
    header carries the same error type as the body, and a request id comes with it."""
    got_status, got_headers, body = answer(loop, region, upload, headers)

    assert got_status == status
    assert got_headers["x-amzn-errortype"] == error_type == body["errors"][0]["errorType"]
    assert REQUEST_ID.match(got_headers["x-amzn-requestid"])


def test_an_answer_carries_a_request_id_and_no_error_type(
    loop: asyncio.AbstractEventLoop,
) -> None:
    """GIVEN a request that is answered WHEN it returns THEN HTTP 200 with a fresh
    request id for each request, and no error type for a client to report."""
    first = answer(loop, FakeRegion(), Whole(), SENT)
    second = answer(loop, FakeRegion(), Whole(), SENT)

    assert first[0] == 200 and "x-amzn-errortype" not in first[1]
    assert first[1]["x-amzn-requestid"] != second[1]["x-amzn-requestid"]
