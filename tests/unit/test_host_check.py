"""The Host check in front of every endpoint: loopback names with the bound port only."""

from __future__ import annotations

import pytest

from emulator.appsync.host_check import LoopbackHostOnly, host_allowed, loopback_only
from tests.unit.asgi import Reached, call

PORT = 4000


@pytest.mark.parametrize(
    "host", ["127.0.0.1:4000", "localhost:4000", "[::1]:4000", "LOCALHOST:4000"]
)
def test_the_loopback_names_with_the_bound_port_reach_the_app(host: str) -> None:
    """GIVEN a request for a loopback name and this port WHEN it arrives THEN the app answers."""
    app = Reached()

    answer = call(LoopbackHostOnly(app, PORT), "/graphql", headers=[("host", host)])

    assert (answer.status, answer.body) == (200, b"reached")


@pytest.mark.parametrize(
    "headers",
    [
        [("host", "rebound.attacker.example:4000")],
        [("host", "127.0.0.1:4001")],
        [("host", "127.0.0.1")],
        [("host", "127.0.0.1.nip.io:4000")],
        [],
        [("host", "127.0.0.1:4000"), ("host", "rebound.attacker.example:4000")],
    ],
    ids=["rebound-name", "other-port", "no-port", "lookalike", "no-host", "two-hosts"],
)
def test_any_other_host_gets_403_and_the_app_is_never_reached(
    headers: list[tuple[str, str]],
) -> None:
    """GIVEN a request whose Host is a rebound name, another port, none, or two WHEN it
    arrives THEN 403 with a JSON reason, and the app (GraphiQL, the admin) never runs."""
    app = Reached()

    answer = call(LoopbackHostOnly(app, PORT), "/graphql", headers=headers)

    assert answer.status == 403
    assert "gateway dev" in answer.body.decode()
    assert app.scopes == []


def test_a_websocket_for_another_host_is_closed_before_it_is_accepted() -> None:
    """GIVEN a WebSocket upgrade for a rebound name WHEN it arrives THEN the middleware
    closes it unaccepted (the server answers the upgrade 403) and the app never runs."""
    app = Reached()

    answer = call(
        LoopbackHostOnly(app, PORT), "/graphql", headers=[("host", "evil:4000")], kind="websocket"
    )

    assert answer.messages == [{"type": "websocket.close", "code": 1008}]
    assert app.scopes == []


def test_the_middleware_takes_its_port_from_the_printed_url() -> None:
    """GIVEN a region's URL WHEN its middleware is made THEN it checks that URL's port;
    a URL without one is refused at start-up, not silently let through."""
    middleware = loopback_only("http://127.0.0.1:4321/graphql")

    assert middleware.kwargs == {"port": 4321}
    assert host_allowed("localhost:4321", 4321) and not host_allowed("localhost:4000", 4321)
    with pytest.raises(ValueError):
        loopback_only(None)
