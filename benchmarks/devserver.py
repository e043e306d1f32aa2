"""A ``gateway dev`` for one measurement: started on free loopback ports, asked over HTTP.

Every part that needs the emulator over real sockets starts its own, in a temporary
state directory, and stops it when done.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from emulator.appsync.auth import DEFAULT_PUBLIC_TOKEN
from emulator.cloud.jwt_issuer import LocalIssuer

# What anonymous clients send as Authorization to a default gateway dev.
PUBLIC_TOKEN = DEFAULT_PUBLIC_TOKEN
READY = b"gateway dev: ready"


def free_base_port(count: int) -> int:
    """A port P such that P .. P+count are all free on loopback: ``count`` regions, and
    the global endpoint gateway dev puts after them."""
    for _ in range(100):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = int(probe.getsockname()[1])
        if base + count < 65535 and all(_free(base + i) for i in range(count + 1)):
            return base
    raise RuntimeError("no free run of loopback ports")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def start_gateway(
    port: int, lag_ms: int, log: Path, state_dir: Path | None = None
) -> subprocess.Popen[bytes]:
    """Run `gateway dev` until it says it is ready (bounded)."""
    command = [
        sys.executable,
        "-m",
        "cli.main",
        "dev",
        f"--port={port}",
        f"--replication-lag-ms={lag_ms}",
        f"--state-dir={state_dir or log.parent / 'state'}",
    ]
    output = log.open("wb")
    process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while READY not in log.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"gateway dev did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.05)
    return process


def stop_gateway(process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Stop it as Ctrl-C does, and wait (bounded) until it has."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def staff_token(state_dir: Path) -> str:
    """A staff member's token, signed with the key of the gateway using ``state_dir``."""
    return LocalIssuer.in_state_dir(state_dir).mint("bench-staff", ["staff"])


def post(
    port: int, query: str, variables: dict[str, Any] | None, headers: dict[str, str]
) -> dict[str, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={**headers, "content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, Any] = json.loads(response.read())
    return answer
