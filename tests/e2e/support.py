"""Helpers for e2e tests: start ``gateway dev``, talk to it over HTTP, wait on conditions."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

REPO_ROOT = Path(__file__).resolve().parents[2]
READY = "gateway dev: ready"
STOPPED = "gateway dev: stopped"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
LEAK_MARKERS = ("Traceback", "botocore", 'File "', "/work/")
ERROR_KEYS = {"message", "errorType", "path", "locations", "errorInfo"}

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float, what: str = "condition") -> T:
    """Poll ``predicate`` until it returns something truthy, with bounded waits between polls.

    Returns the truthy value, so a test can wait for and read a result in one step.
    """
    pause = threading.Event()
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        pause.wait(0.05)


def post(
    url: str,
    query: str,
    variables: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    """POST one GraphQL request; ``(HTTP status, JSON body)`` whatever the status."""
    body = json.dumps({"query": query, "variables": variables}).encode()
    return post_raw(url, body, headers)


def post_raw(
    url: str, body: bytes, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    """POST bytes as they are, so tests can send what no client library would."""
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"content-type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def unique(prefix: str) -> str:
    """A name no other test (or earlier run against the same state) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def port_is_free(port: int, host: str = "127.0.0.1", *, as_a_server: bool = False) -> bool:
    """Whether ``port`` can be bound now.

    ``as_a_server`` binds as uvicorn does, with SO_REUSEADDR: connections the old server
    closed linger in TIME_WAIT, which stops a plain bind but not a restarted server.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        if as_a_server:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


# Below Linux's ephemeral range (32768 and up): a port the kernel hands out to any
# outgoing connection, or to the moto server gateway dev starts on port 0, could be taken
# between this choice and the bind.
_PORTS = range(20_000, 32_000)


def free_base_port(count: int = 2, attempts: int = 200) -> int:
    """A port P such that P .. P+count are all free on loopback right now: ``count``
    regions, and the global endpoint that gateway dev puts after them."""
    for _ in range(attempts):
        base = random.randrange(_PORTS.start, _PORTS.stop - count - 1)
        if all(port_is_free(base + i) for i in range(count + 1)):
            return base
    raise RuntimeError(f"no {count} consecutive free ports found")


@dataclass
class Gateway:
    """A running ``gateway dev``: its process, its output, and what it announced."""

    process: subprocess.Popen[bytes]
    output: Path
    port: int
    urls: dict[str, str] = field(default_factory=dict)
    # The global endpoint: every region behind the edge function.
    global_url: str = ""
    public_token: str = ""
    state_dir: Path | None = None

    @property
    def primary(self) -> str:
        return self.urls["us-east-1"]

    @property
    def replica(self) -> str:
        return self.urls["eu-west-1"]

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def ws_url(self, region: str) -> str:
        return self.urls[region].replace("http://", "ws://", 1)

    def public(self) -> dict[str, str]:
        """The public client token alone: what a front end holds, the same in every region."""
        return {"Authorization": self.public_token}

    def operator(self) -> dict[str, str]:
        """The operator's proof for the admin endpoints, as the `gateway` commands send
        it: this run's token, from dev.json in the state directory."""
        return {"Authorization": f"Bearer {self.operator_token()}"}

    def operator_token(self) -> str:
        assert self.state_dir is not None
        return str(json.loads((self.state_dir / "dev.json").read_text())["operator_token"])

    def admin_url(self, path: str, region: str = "us-east-1") -> str:
        """``/_emulator<path>`` on ``region``'s port."""
        return self.urls[region].removesuffix("/graphql") + "/_emulator" + path

    def staff(self) -> dict[str, str]:
        """A staff member's user-pool token (staff may do everything but publish)."""
        return {"Authorization": self.token("staff-e2e", "staff")}

    def token(self, sub: str, *groups: str) -> str:
        """A token from `gateway token`, signed with this gateway's key."""
        assert self.state_dir is not None
        from emulator.cloud.jwt_issuer import LocalIssuer

        return LocalIssuer.in_state_dir(self.state_dir).mint(sub, list(groups))

    def query(self, url: str, query: str, variables: dict[str, Any] | None = None) -> Any:
        """Run a request as staff that must succeed; return its ``data``."""
        status, body = post(url, query, variables, self.staff())
        assert status == 200, (status, body)
        assert not body.get("errors"), body
        return body["data"]


def start_gateway(
    output: Path, port: int, *extra: str, env: dict[str, str] | None = None
) -> Gateway:
    """Start ``gateway dev`` on ``port`` and wait until it says it is ready.

    ``env`` adds to this process's environment, for the runtime's own variables (such as
    ``GATEWAY_CONTROL_CACHE_MS``).
    """
    # Its own state directory, so that a developer's running `make dev` keeps its own.
    state_dir = output.parent / f"state-{port}"
    command = [sys.executable, "-m", "cli", "dev", "--port", str(port)]
    command += ["--state-dir", str(state_dir), *extra]
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    with output.open("wb") as sink:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, stdout=sink, stderr=subprocess.STDOUT, env=environment
        )
    gateway = Gateway(process, output, port, state_dir=state_dir)

    def announced() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"gateway dev exited with {process.returncode}:\n{gateway.text()}")
        return READY in gateway.text() and "public token" in gateway.text()

    try:
        wait_until(announced, START_TIMEOUT_S, "gateway dev to be ready")
    except BaseException:
        stop_gateway(gateway)
        raise
    for line in gateway.text().splitlines():
        words = line.split()
        if len(words) == 3 and words[1] in ("primary", "replica"):
            gateway.urls[words[0]] = words[2]
        elif words and words[0] == "global":
            gateway.global_url = words[-1]
        elif line.strip().startswith("public token:"):
            gateway.public_token = words[2]
    return gateway


def stop_gateway(gateway: Gateway) -> int:
    """Ctrl-C the gateway and wait for it; return its exit code."""
    if gateway.process.poll() is None:
        gateway.process.send_signal(signal.SIGINT)
    try:
        return gateway.process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        gateway.process.kill()
        gateway.process.wait(STOP_TIMEOUT_S)
        raise AssertionError(f"gateway dev ignored SIGINT for {STOP_TIMEOUT_S} s") from None


def assert_clean_error(error: dict[str, Any]) -> None:
    """An error in AppSync's shape that tells a client nothing about our insides."""
    assert error.keys() >= ERROR_KEYS, error
    for marker in LEAK_MARKERS:
        assert marker not in str(error.get("message")), error
        assert marker not in json.dumps(error.get("errorInfo")), error


def error_type(status: int, body: dict[str, Any]) -> str:
    """The single error's type, after checking the answer is well-formed and not a 5xx."""
    assert status < 500, (status, body)
    errors = body.get("errors") or []
    assert len(errors) == 1, body
    assert_clean_error(errors[0])
    return str(errors[0]["errorType"])


def restart_gateway(gateway: Gateway, output: Path, *extra: str) -> Gateway:
    """Start ``gateway dev`` again once ``gateway`` has stopped, with its state directory.

    It listens on new free ports: the old ones may be taken by then (a client's
    ephemeral port, say). The state directory moves along, since :func:`start_gateway`
    names it after the port; nothing in it depends on where it is.
    """
    assert gateway.process.poll() is not None, "stop or kill the gateway first"
    assert gateway.state_dir is not None
    assert output.parent == gateway.output.parent, "the state directory sits beside the output"
    port = free_base_port(max(len(gateway.urls), 2))
    gateway.state_dir.rename(output.parent / f"state-{port}")
    return start_gateway(output, port, *extra)


def gateway_cli(gateway: Gateway, *words: str) -> subprocess.CompletedProcess[str]:
    """Run ``gateway WORDS`` against the running ``gateway``, as an operator would."""
    return subprocess.run(
        [sys.executable, "-m", "cli", *words, "--state-dir", str(gateway.state_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
