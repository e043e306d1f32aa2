"""What one connection may hold over real sockets: bodies are refused before they are
read, and nothing sent to `gateway dev` stays in its memory."""

from __future__ import annotations

import json
import select
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.e2e.support import (
    Gateway,
    free_base_port,
    post,
    post_raw,
    start_gateway,
    stop_gateway,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

MIB = 1024 * 1024
ANSWER_TIMEOUT_S = 30.0
# What Python may keep of a refused request: buffers, a response, allocator slack.
RSS_GROWTH_BOUND_MIB = 32


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A gateway of its own: its memory is measured, so no other test may use it."""
    output: Path = tmp_path_factory.mktemp("limits") / "gateway-dev.log"
    running = start_gateway(output, free_base_port(2))
    yield running
    assert stop_gateway(running) == 0
    assert "Traceback" not in running.text(), running.text()


def rss_mib(pid: int) -> float:
    """The process's resident memory now, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for process {pid}")


def send_zeros(url: str, total: int, *, chunked: bool) -> tuple[int, dict[str, object]]:
    """POST ``total`` zero bytes without credentials, with a Content-Length or chunked,
    stopping as soon as the server answers; ``(status, JSON body)``."""
    address = urlsplit(url)
    headers = [f"POST {address.path} HTTP/1.1", f"Host: {address.netloc}"]
    headers += ["Content-Type: application/json"]
    headers += ["Transfer-Encoding: chunked"] if chunked else [f"Content-Length: {total}"]
    chunk = b"\0" * (256 * 1024)
    framed = b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk
    answer = b""
    with socket.create_connection((address.hostname, address.port), ANSWER_TIMEOUT_S) as conn:
        conn.sendall(("\r\n".join(headers) + "\r\n\r\n").encode())
        sent = 0
        try:
            while sent < total and not select.select([conn], [], [], 0)[0]:
                conn.sendall(framed)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused and closed mid-body: the answer is already in the buffer
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            data = conn.recv(65536)
            if not data:
                break
            answer += data
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_200_mb_without_credentials_is_refused_and_not_kept(
    gateway: Gateway, chunked: bool
) -> None:
    """
    GIVEN a running gateway and its resident memory
    WHEN 200 MB of zeros is posted to /graphql with no credentials, declared in
         Content-Length or chunked with no length
    THEN it is answered HTTP 413 LimitExceeded, the process grew by no more than a few
         megabytes (it never read the body), and the region answers the next query
    """
    pid = gateway.process.pid
    before = rss_mib(pid)

    status, body = send_zeros(gateway.primary, 200 * MIB, chunked=chunked)

    assert status == 413, body
    assert body["errors"][0]["errorType"] == "LimitExceeded"  # type: ignore[index]
    assert rss_mib(pid) - before < RSS_GROWTH_BOUND_MIB
    status, answer = post(gateway.primary, "{ region { name } }", None, gateway.key())
    assert (status, answer) == (200, {"data": {"region": {"name": "us-east-1"}}})


def test_a_client_that_sends_its_whole_body_before_reading_gets_the_413(
    gateway: Gateway,
) -> None:
    """
    GIVEN a client such as urllib, which sends all of a request body before it reads
    WHEN it posts 8 MB, ten times over
    THEN it reads HTTP 413 LimitExceeded every time: the server answers without reading
         the body, then discards what is still coming instead of resetting the
         connection (which would lose the answer)
    """
    body = b"\0" * (8 * MIB)
    answers = [post_raw(gateway.primary, body, gateway.key())[0] for _ in range(10)]

    assert answers == [413] * 10
