"""`gateway chaos` over a real `gateway dev`: each fault on, its effect seen by clients,
then off, and the deployment whole again. `gateway status` shows what is going on."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from tests.e2e.support import (
    Gateway,
    error_type,
    free_base_port,
    gateway_cli,
    post,
    start_gateway,
    stop_gateway,
    unique,
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

PRIMARY, REPLICA = "us-east-1", "eu-west-1"
CREATE = """
mutation($s: String!, $c: String!) { createProduct(input: {sku: $s, name: "Lamp",
  category: $c, priceCents: 1200, currency: "EUR", stock: 4}) { id version } }"""
PRODUCT = "query($id: ID!) { product(id: $id) { id version } }"
LISTING = "query($c: String) { products(category: $c) { items { id } } }"
SUBSCRIBE = "subscription { onProductChanged { id } }"
# A write refused by a failed primary answers within the clients' own timeouts.
REFUSED_WITHIN_S = 10.0
REPLICATED_WITHIN_S = 15.0
HANG_CAP_S = 30.0


@pytest.fixture(scope="module")
def chaos_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A deployment of its own: the faults here must not reach the other e2e tests."""
    output = tmp_path_factory.mktemp("chaos") / "gateway-dev.log"
    running = start_gateway(output, free_base_port(2), "--regions", f"{PRIMARY},{REPLICA}")
    yield running
    assert stop_gateway(running) == 0, running.text()


@pytest.fixture
def gateway(chaos_gateway: Gateway) -> Iterator[Gateway]:
    """The deployment, with every fault switched off after each test, whatever happened."""
    yield chaos_gateway
    assert admin(chaos_gateway, "DELETE", "/faults")[0] == 200


def chaos(gateway: Gateway, *words: str) -> subprocess.CompletedProcess[str]:
    return gateway_cli(gateway, "chaos", *words)


def switch_on(gateway: Gateway, *words: str) -> str:
    """Run a chaos command that must succeed; the id of the fault it switched on."""
    result = chaos(gateway, *words)
    assert result.returncode == 0, result.stderr
    fault_id = result.stdout.split()[0]
    assert f"gateway chaos clear {fault_id}" in result.stdout
    return fault_id


def status(gateway: Gateway, *, through_cli: bool = False) -> dict[str, Any]:
    """`gateway status --json`, or the same from the admin endpoint (quicker to poll)."""
    if not through_cli:
        code, answer = admin(gateway, "GET", "/status")
        assert code == 200, answer
        return dict(answer)
    result = gateway_cli(gateway, "status", "--json")
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def region_status(gateway: Gateway, region: str, *, through_cli: bool = False) -> dict[str, Any]:
    regions = status(gateway, through_cli=through_cli)["regions"]
    return dict(next(entry for entry in regions if entry["name"] == region))


def create(gateway: Gateway, category: str, url: str | None = None) -> tuple[int, dict[str, Any]]:
    variables = {"s": unique("LAMP"), "c": category}
    return post(url or gateway.primary, CREATE, variables, gateway.staff())


def created_id(gateway: Gateway, category: str) -> str:
    status_code, body = create(gateway, category)
    assert status_code == 200 and not body.get("errors"), body
    return str(body["data"]["createProduct"]["id"])


def product_in(gateway: Gateway, region: str, product_id: str) -> Any:
    return gateway.query(gateway.urls[region], PRODUCT, {"id": product_id})["product"]


def test_an_outage_of_the_primary_refuses_writes_at_once_while_the_replica_reads(
    gateway: Gateway,
) -> None:
    """GIVEN a product in both regions WHEN us-east-1's DynamoDB fails THEN a write is
    refused with PrimaryUnavailable within the client timeouts, eu-west-1 still answers
    reads, and status shows the outage; WHEN cleared THEN writes land and replicate."""
    category = unique("outage")
    before = created_id(gateway, category)
    wait_until(lambda: product_in(gateway, REPLICA, before), REPLICATED_WITHIN_S, "replication")
    fault_id = switch_on(gateway, "outage", "--region", PRIMARY)

    started = time.monotonic()
    refused = create(gateway, category)
    took = time.monotonic() - started
    read = product_in(gateway, REPLICA, before)
    seen = status(gateway, through_cli=True)
    faults = seen["faults"]

    assert error_type(*refused) == "PrimaryUnavailable"
    assert took < REFUSED_WITHIN_S
    assert read == {"id": before, "version": 1}
    assert [(fault["id"], fault["kind"], fault["region"]) for fault in faults] == [
        (fault_id, "outage", PRIMARY)
    ]
    # The operator's view reads through the outage it reports.
    primary = seen["regions"][0]
    assert (primary["role"], primary["mode"], primary["deadLetters"]) == ("primary", "ACTIVE", 0)
    cleared = chaos(gateway, "clear", fault_id)
    assert (cleared.returncode, cleared.stdout.strip()) == (0, f"cleared {fault_id}")
    after = created_id(gateway, category)
    wait_until(lambda: product_in(gateway, REPLICA, after), REPLICATED_WITHIN_S, "replication")


def test_a_hanging_primary_is_refused_within_the_client_timeouts(gateway: Gateway) -> None:
    """GIVEN us-east-1's DynamoDB calls hang WHEN a write comes through eu-west-1 THEN it
    is refused with PrimaryUnavailable within seconds; through us-east-1 itself (whose
    own reads hang too) within the clients' timeouts, well before the 30 s hang would
    end; WHEN cleared THEN writes land again."""
    switch_on(gateway, "outage", "--region", PRIMARY, "--hang")

    started = time.monotonic()
    through_replica = create(gateway, unique("hang"), gateway.replica)
    replica_took = time.monotonic() - started
    through_primary = create(gateway, unique("hang"), gateway.primary)
    primary_took = time.monotonic() - started - replica_took

    assert error_type(*through_replica) == "PrimaryUnavailable"
    assert error_type(*through_primary) == "PrimaryUnavailable"
    assert replica_took < REFUSED_WITHIN_S
    assert primary_took < HANG_CAP_S - 5
    assert chaos(gateway, "clear", "--all").returncode == 0
    created_id(gateway, unique("hang"))


def test_paused_replication_keeps_changes_waiting_and_resume_delivers_them(
    gateway: Gateway,
) -> None:
    """GIVEN replication paused WHEN a product is created in us-east-1 THEN us-east-1
    shows it, eu-west-1 does not, and status reports eu-west-1's backlog with a growing
    lag; WHEN resumed THEN eu-west-1 shows it and the lag returns to 0."""
    switch_on(gateway, "replication", "--pause")
    product_id = created_id(gateway, unique("pause"))
    wait_until(lambda: product_in(gateway, PRIMARY, product_id), 15, "the primary's projection")

    def waiting() -> dict[str, Any] | None:
        lag = region_status(gateway, REPLICA, through_cli=True)["replication"]
        return lag if lag["backlog"] else None

    first = wait_until(waiting, 15, "a backlog toward eu-west-1")

    def grown() -> dict[str, Any] | None:
        lag = region_status(gateway, REPLICA)["replication"]
        return lag if lag["lagMs"] > first["lagMs"] else None

    second = wait_until(grown, 15, "the lag to grow")
    held_back = product_in(gateway, REPLICA, product_id)
    resumed = chaos(gateway, "replication", "--resume")

    assert first["backlog"] > 0
    # All of it from us-east-1: what eu-west-1 would never get if us-east-1 were lost.
    assert first["from"][PRIMARY]["backlog"] == first["backlog"]
    assert second["backlog"] >= first["backlog"]
    assert held_back is None
    assert resumed.returncode == 0 and resumed.stdout.startswith("replication resumed")
    wait_until(lambda: product_in(gateway, REPLICA, product_id), REPLICATED_WITHIN_S, "resume")
    wait_until(
        lambda: (
            region_status(gateway, REPLICA)["replication"]
            == {"lagMs": 0, "backlog": 0, "from": {PRIMARY: {"lagMs": 0, "backlog": 0}}}
        ),
        15,
        "the lag to return to 0",
    )


def test_a_replication_lag_holds_each_change_that_long(gateway: Gateway) -> None:
    """GIVEN a 1500 ms replication lag WHEN a product is created THEN eu-west-1 shows it
    no sooner than 1.5 s after the write; status shows the lag in force."""
    switch_on(gateway, "replication", "--lag-ms", "1500")
    replication = status(gateway)["replication"]
    written_at = time.monotonic()
    product_id = created_id(gateway, unique("lag"))

    wait_until(lambda: product_in(gateway, REPLICA, product_id), REPLICATED_WITHIN_S, "lag")

    assert time.monotonic() - written_at >= 1.5
    assert replication == {"paused": False, "lagMs": 1500, "configuredLagMs": 0}


def test_a_fully_throttled_primary_refuses_writes_until_cleared(gateway: Gateway) -> None:
    """GIVEN every table call to us-east-1 throttled WHEN a write comes THEN it is refused
    with PrimaryUnavailable (the gateway's one error for a primary it cannot write);
    WHEN cleared THEN writes land."""
    fault_id = switch_on(gateway, "throttle", "--region", PRIMARY, "--rate", "1.0")

    refused = create(gateway, unique("throttle"))

    assert error_type(*refused) == "PrimaryUnavailable"
    assert chaos(gateway, "clear", fault_id).returncode == 0
    created_id(gateway, unique("throttle"))


def test_a_crashing_stream_handler_dead_letters_its_record_and_a_redrive_applies_it(
    gateway: Gateway,
) -> None:
    """GIVEN two products waiting to replicate and a crash in eu-west-1 on one of them
    WHEN replication resumes THEN the other is projected there, the crashing one is
    listed as a dead letter; WHEN the crash is cleared and the letters redriven THEN
    eu-west-1 shows it too."""
    category = unique("crash")
    pause = switch_on(gateway, "replication", "--pause")
    poison, healthy = created_id(gateway, category), created_id(gateway, category)
    switch_on(gateway, "crash", "--region", REPLICA, "--match", f"PRODUCT#{poison}")
    assert chaos(gateway, "clear", pause).returncode == 0

    wait_until(lambda: product_in(gateway, REPLICA, healthy), REPLICATED_WITHIN_S, "healthy")
    wait_until(lambda: region_status(gateway, REPLICA)["deadLetters"] == 1, 15, "a dead letter")
    listed = gateway_cli(gateway, "dlq", "list", "--region", REPLICA)

    assert f"PRODUCT#{poison}" in listed.stdout
    assert product_in(gateway, REPLICA, poison) is None
    assert chaos(gateway, "clear", "--all").returncode == 0
    redriven = gateway_cli(gateway, "dlq", "redrive", "--region", REPLICA)
    assert (redriven.returncode, redriven.stdout.strip()) == (
        0,
        f"{REPLICA}: 1 applied, 0 still failing",
    )
    assert product_in(gateway, REPLICA, poison) == {"id": poison, "version": 1}


@contextlib.contextmanager
def subscriber(gateway: Gateway, region: str) -> Iterator[ClientConnection]:
    """A graphql-transport-ws client subscribed to product changes, known registered."""
    with connect(
        gateway.ws_url(region),
        subprotocols=[Subprotocol("graphql-transport-ws")],
        proxy=None,
        open_timeout=10,
    ) as socket:
        socket.send(json.dumps({"type": "connection_init", "payload": gateway.public()}))
        assert json.loads(socket.recv(timeout=10))["type"] == "connection_ack"
        subscribe = {"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}}
        socket.send(json.dumps(subscribe))
        # The server reads a connection's messages in order: a pong means it subscribed.
        socket.send(json.dumps({"type": "ping"}))
        assert json.loads(socket.recv(timeout=10))["type"] == "pong"
        yield socket


def closed_with(socket: ClientConnection) -> int | None:
    """The close code the server sent, once the socket closes (10 s at most)."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            socket.recv(timeout=10)
    return closed.value.rcvd.code if closed.value.rcvd else None


def test_a_disconnect_closes_a_regions_subscribers_abnormally_and_they_can_reconnect(
    gateway: Gateway,
) -> None:
    """GIVEN a subscriber in each region WHEN eu-west-1's subscribers are disconnected
    THEN that socket is closed with 1012 (service restart), the us-east-1 one still
    answers, and a new eu-west-1 subscriber connects."""
    with subscriber(gateway, REPLICA) as leaving, subscriber(gateway, PRIMARY) as staying:
        result = chaos(gateway, "disconnect", "--region", REPLICA)

        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f"closed 1 subscriber connections in {REPLICA}"
        assert closed_with(leaving) == 1012
        staying.send(json.dumps({"type": "ping"}))
        assert json.loads(staying.recv(timeout=10))["type"] == "pong"
        with subscriber(gateway, REPLICA) as returning:
            assert returning.state.name == "OPEN"


def listed(gateway: Gateway) -> str:
    result = chaos(gateway, "list")
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_lost_reply_applies_the_write_and_the_caller_cannot_tell(gateway: Gateway) -> None:
    """GIVEN us-east-1 loses the reply of its next write (listed with 1 to go)
    WHEN a product is created through eu-west-1 THEN the caller is refused with
    PrimaryUnavailable (its write timed out), yet the product was written, and the fault
    counted itself off; the next write is answered."""
    switch_on(gateway, "lost-reply", "--region", PRIMARY, "--times", "1")
    assert f"{PRIMARY}: writes are applied, then their replies lost (a timeout), 1 more times" in (
        listed(gateway)
    )
    category = unique("lost")

    refused = create(gateway, category, gateway.replica)

    assert error_type(*refused) == "PrimaryUnavailable"
    found = wait_until(
        lambda: gateway.query(gateway.replica, LISTING, {"c": category})["products"]["items"],
        REPLICATED_WITHIN_S,
        "the product whose reply was lost",
    )
    assert len(found) == 1
    assert listed(gateway).strip() == "no active faults"
    created_id(gateway, category)


def test_a_lost_reply_without_times_stays_until_cleared(gateway: Gateway) -> None:
    """GIVEN us-east-1 loses every reply WHEN two writes come THEN both are refused and
    both landed, and the fault is still listed, until cleared."""
    fault_id = switch_on(gateway, "lost-reply", "--region", PRIMARY)
    category = unique("lost")

    answers = [create(gateway, category) for _ in range(2)]

    assert [error_type(*answer) for answer in answers] == ["PrimaryUnavailable"] * 2
    assert "until cleared" in listed(gateway)
    cleared = chaos(gateway, "clear", fault_id)
    assert (cleared.returncode, cleared.stdout.strip()) == (0, f"cleared {fault_id}")
    assert listed(gateway).strip() == "no active faults"
    wait_until(
        lambda: (
            len(gateway.query(gateway.primary, LISTING, {"c": category})["products"]["items"]) == 2
        ),
        REPLICATED_WITHIN_S,
        "both products",
    )


@pytest.mark.parametrize(
    ("words", "complaint"),
    [
        (["outage", "--region", "mars-1"], "'region' must be one of this deployment's"),
        (["lost-reply", "--region", "mars-1"], "'region' must be one of this deployment's"),
        (["lost-reply", "--region", PRIMARY, "--times", "0"], "'times' must be from 1"),
        (["lost-reply", "--region", PRIMARY, "--times", "two"], "invalid int value"),
        (["lost-reply", "--times", "2"], "the following arguments are required: --region"),
        (["throttle", "--region", PRIMARY, "--rate", "2"], "at most 1"),
        (["throttle", "--region", PRIMARY, "--rate", "0"], "greater than 0"),
        (["throttle", "--region", PRIMARY, "--rate", "lots"], "invalid float value"),
        (["replication", "--lag-ms", "-5"], "'lagMs' must be from 0"),
        (["replication"], "one of the arguments"),
        (["replication", "--pause", "--resume"], "not allowed with"),
        (["crash", "--region", REPLICA, "--match", "x", "--times", "0"], "'times'"),
        (["disconnect", "--region", "mars-1"], "must be one of this deployment's"),
        (["clear"], "name one fault ID to clear, or --all"),
        (["clear", "outage-999"], "no active fault 'outage-999'"),
    ],
)
def test_bad_chaos_input_exits_2_with_the_reason(
    gateway: Gateway, words: list[str], complaint: str
) -> None:
    result = chaos(gateway, *words)
    assert (result.returncode, complaint in result.stderr) == (2, True), result.stderr
    assert "Traceback" not in result.stderr


def admin(
    gateway: Gateway, method: str, path: str, body: bytes | None = None, **headers: str
) -> tuple[int, Any]:
    request = urllib.request.Request(
        gateway.admin_url(path), data=body, method=method, headers={**gateway.operator(), **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.parametrize(
    ("body", "content_type", "complaint"),
    [
        (b"{not json", "application/json", "not valid JSON"),
        (b'{"kind": "meteor"}', "application/json", "'kind' must be one of"),
        (
            b'{"kind": "throttle", "region": "us-east-1", "rate": 1e400}',
            "application/json",
            "at most 1",
        ),
        (
            b'{"kind": "crash", "region": "us-east-1", "match": "\\ud800"}',
            "application/json",
            "surrogate",
        ),
        (
            b'{"kind": "replication-pause", "x": "' + b"y" * 20_000 + b'"}',
            "application/json",
            "over",
        ),
        (b'{"kind": "replication-pause"}', "text/plain", "Content-Type: application/json"),
        (b"[" * 100_000, "application/json", "over"),
    ],
)
def test_a_bad_fault_posted_to_the_admin_endpoint_is_a_400_with_the_reason(
    gateway: Gateway, body: bytes, content_type: str, complaint: str
) -> None:
    code, answer = admin(gateway, "POST", "/faults", body, **{"Content-Type": content_type})
    assert (code, complaint in answer["error"]) == (400, True), answer
    assert admin(gateway, "GET", "/faults") == (200, {"faults": []})


def test_the_admin_endpoint_adds_lists_and_clears_faults_on_every_regions_port(
    gateway: Gateway,
) -> None:
    """GIVEN the admin endpoint WHEN a fault is posted to one port THEN every port lists
    it, a DELETE of an unknown id is a 404, and the DELETE of its id clears it."""
    body = json.dumps({"kind": "throttle", "region": REPLICA, "rate": 0.25}).encode()
    code, added = admin(gateway, "POST", "/faults", body, **{"Content-Type": "application/json"})
    replica_faults = urllib.request.urlopen(
        urllib.request.Request(gateway.admin_url("/faults", REPLICA), headers=gateway.operator()),
        timeout=15,
    )

    assert code == 201
    assert added["kind"] == "throttle" and added["rate"] == 0.25
    assert json.loads(replica_faults.read())["faults"] == [added]
    assert admin(gateway, "DELETE", "/faults/nope-1")[0] == 404
    assert admin(gateway, "DELETE", f"/faults/{added['id']}") == (200, {"cleared": [added]})


def test_status_prints_roles_lags_dead_letters_and_faults(gateway: Gateway) -> None:
    """GIVEN a running gateway dev with a fault on WHEN `gateway status` prints THEN first
    what an operator reads on AWS too (each region's role, mode, epoch, dead letters and
    last projection), then, apart, what only the emulator knows (backlogs, subscribers,
    each region's health, metrics, faults)."""
    fault_id = switch_on(
        gateway, "crash", "--region", PRIMARY, "--match", "ORDER#o-1", "--times", "2"
    )

    result = gateway_cli(gateway, "status")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("gateway dev (state in ")
    assert lines[0].endswith(
        f"primary {PRIMARY}, ACTIVE, epoch 0 (the highest epoch of the copies read)"
    )
    assert lines[1].split() == [
        "region",
        "role",
        "mode",
        "epoch",
        "dead",
        "letters",
        "last",
        "projected",
    ]
    assert lines[2].split()[:5] == [PRIMARY, "primary", "ACTIVE", "0", "0"]
    assert lines[3].split()[:5] == [REPLICA, "replica", "ACTIVE", "0", "0"]
    emulator = lines.index("emulator only (gateway dev's own view):")
    assert lines[emulator + 1].split() == [
        "region",
        "replication",
        "projection",
        "subscribers",
        "health",
    ]
    assert lines[emulator + 2].split()[0] == PRIMARY
    assert lines[emulator + 2].split()[-1] == lines[emulator + 3].split()[-1] == "healthy"
    assert any(line.strip().startswith(fault_id) and "2 more times" in line for line in lines)


def test_without_a_running_gateway_chaos_and_status_say_how_to_start_one(tmp_path: Path) -> None:
    for words in (["chaos", "list"], ["status"]):
        result = subprocess.run(
            [sys.executable, "-m", "cli", *words, "--state-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert (result.returncode, "make dev" in result.stderr) == (1, True), result.stderr
