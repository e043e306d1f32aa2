"""The state directory's files are the owner's alone, from the moment they exist."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.appsync.auth import LocalCredentials
from emulator.cloud.jwt_issuer import KEY_FILE, LocalIssuer
from emulator.private_files import private_dir, write_private
from emulator.statefile import FILE_NAME, NotRunning, RunningDev, announce, find


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that takes nothing away, as some shells and containers have."""
    previous = os.umask(0)
    yield
    os.umask(previous)


RUNNING = RunningDev(
    endpoint_url="http://127.0.0.1:9",
    regions=["us-east-1"],
    urls=["http://127.0.0.1:4000/graphql"],
    credentials=LocalCredentials(),
    operator_token="operator-token",
)


def test_dev_json_is_0600_in_a_0700_directory_and_carries_the_operator_token(
    tmp_path: Path, open_umask: None
) -> None:
    """GIVEN an open umask WHEN gateway dev announces itself THEN dev.json (the IAM secret,
    the API key, the operator token) is 0600, its new directory 0700, and the commands
    read the token back from it."""
    state_dir = tmp_path / "state"

    path = announce(state_dir, RUNNING)

    assert (mode(path), mode(state_dir)) == (0o600, 0o700)
    assert json.loads(path.read_text())["operator_token"] == "operator-token"
    assert find(state_dir).operator_token == "operator-token"


def test_a_file_an_older_version_left_readable_is_replaced_by_a_private_one(
    tmp_path: Path, open_umask: None
) -> None:
    """GIVEN a dev.json left 0644 and a state directory left 0755 WHEN announced again
    THEN both are narrowed, and no temporary file is left beside it."""
    state_dir = tmp_path / "state"
    state_dir.mkdir(mode=0o755)
    (state_dir / FILE_NAME).write_text("{}")
    (state_dir / FILE_NAME).chmod(0o644)

    announce(state_dir, RUNNING)

    assert (mode(state_dir / FILE_NAME), mode(state_dir)) == (0o600, 0o700)
    assert [p.name for p in state_dir.iterdir()] == [FILE_NAME]


def test_the_signing_key_is_created_0600(tmp_path: Path, open_umask: None) -> None:
    """GIVEN no signing key WHEN `gateway token` or `gateway dev` makes one THEN it is
    0600 in a 0700 directory."""
    LocalIssuer.in_state_dir(tmp_path / "state")

    assert mode(tmp_path / "state" / KEY_FILE) == 0o600
    assert mode(tmp_path / "state") == 0o700


def test_a_shared_directory_is_left_as_it_is(tmp_path: Path) -> None:
    """GIVEN a sticky, world-writable directory (as /tmp is) named as the state directory
    WHEN it is made private THEN its mode is kept (others rely on it), while the files
    written in it are still 0600."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)

    private_dir(shared)
    write_private(shared / "secret", b"s")

    assert mode(shared) == 0o1777
    assert mode(shared / "secret") == 0o600


def test_a_state_file_without_the_operator_token_is_not_a_running_gateway(tmp_path: Path) -> None:
    """GIVEN a dev.json from before the operator token WHEN a command looks for gateway
    dev THEN NotRunning says the file is not a gateway dev state file."""
    body = {"endpoint_url": "e", "regions": [], "urls": [], "credentials": {}, "pid": os.getpid()}
    write_private(tmp_path / FILE_NAME, json.dumps(body).encode())

    with pytest.raises(NotRunning, match="not a gateway dev state file"):
        find(tmp_path)
