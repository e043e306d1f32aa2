"""One ``gateway dev`` for the whole e2e session, on free loopback ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.support import Gateway, free_base_port, start_gateway, stop_gateway


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """Two regions, us-east-1 (primary) on P and eu-west-1 on P+1; stopped with Ctrl-C."""
    output: Path = tmp_path_factory.mktemp("gateway") / "gateway-dev.log"
    running = start_gateway(output, free_base_port(2), "--regions", "us-east-1,eu-west-1")
    yield running
    exit_code = stop_gateway(running)
    text = running.text()
    assert exit_code == 0, text
    assert "Traceback" not in text, text
