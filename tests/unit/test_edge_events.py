"""The global endpoint's CloudFront side: the event the edge function gets, how its answer
is read, and what is answered when it fails. No sockets: the function runs, nothing is
forwarded."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qs

import pytest

from emulator.edge.cloudfront import (
    EdgeFunction,
    EdgeFunctionFailed,
    InvalidEdgeAnswer,
    forwarded_request,
)
from emulator.edge.proxy import GlobalEndpoint
from emulator.edge.route53 import LatencyRecords, RegionalEndpoint
from infra import edge

from .asgi import call

DOMAIN = "api.shop.example.com"
US = RegionalEndpoint("us-east-1", ("127.0.0.1", 4000))
EU = RegionalEndpoint("eu-west-1", ("127.0.0.1", 4001))


class Recording:
    """The real edge function, remembering every event it was given."""

    def __init__(self, function: EdgeFunction) -> None:
        self.function = function
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any]) -> Any:
        self.events.append(json.loads(json.dumps(event)))
        return self.function(event)


def endpoint(unhealthy: frozenset[str] = frozenset()) -> tuple[GlobalEndpoint, Recording]:
    records = LatencyRecords("origin." + DOMAIN, [US, EU], lambda region: region not in unhealthy)
    recording = Recording(EdgeFunction(edge.CODE, edge.HANDLER, records, cache_s=0))
    return GlobalEndpoint(recording, records, DOMAIN), recording


def scope(raw_path: bytes, query: bytes = b"", **headers: str) -> dict[str, Any]:
    return {
        "type": "websocket" if "upgrade" in headers else "http",
        "method": "GET" if "upgrade" in headers else "POST",
        "path": raw_path.decode(),
        "raw_path": raw_path,
        "query_string": query,
        "headers": [(b"host", b"127.0.0.1:4002")]
        + [(name.replace("_", "-").encode(), value.encode()) for name, value in headers.items()],
        "client": ("127.0.0.1", 51000),
    }


def test_a_request_becomes_the_origin_request_event_cloudfront_sends() -> None:
    """GIVEN a POST to the global endpoint WHEN routed THEN the function gets an
    origin-request event: the distribution's name as Host, the path and query as sent,
    every other header as [{key, value}], the client's address, the origin name."""
    global_endpoint, recording = endpoint()

    global_endpoint._route(scope(b"/graphql", b"a=1", x_api_key="da2-key"))

    [event] = recording.events
    cf = event["Records"][0]["cf"]
    request = cf["request"]
    assert cf["config"]["eventType"] == "origin-request"
    assert cf["config"]["distributionDomainName"] == DOMAIN
    assert request["headers"]["host"] == [{"key": "Host", "value": DOMAIN}]
    assert request["headers"]["x-api-key"] == [{"key": "x-api-key", "value": "da2-key"}]
    assert (request["method"], request["uri"], request["querystring"]) == (
        "POST",
        "/graphql",
        "a=1",
    )
    assert request["clientIp"] == "127.0.0.1"
    assert request["origin"]["custom"]["domainName"] == "origin." + DOMAIN


def test_a_query_goes_to_the_nearest_regions_port_with_its_own_host() -> None:
    """GIVEN us-east-1 nearest and healthy WHEN a POST /graphql is routed THEN it goes to
    us-east-1's port, its Host that region's loopback name, its headers kept."""
    route = endpoint()[0]._route(scope(b"/graphql", x_api_key="da2-key"))

    assert route.address == US.address
    assert route.host == "127.0.0.1:4000"
    assert route.target == b"/graphql"
    assert ("x-api-key", "da2-key") in route.headers
    assert all(name.lower() != "host" for name, _ in route.headers)


def test_a_realtime_handshake_is_rewritten_for_the_healthy_regions_realtime_host() -> None:
    """GIVEN us-east-1 unhealthy WHEN an AppSync handshake on /graphql/realtime is routed
    THEN it goes to eu-west-1 on /graphql, its header= naming eu-west-1's API host."""
    header = base64.b64encode(json.dumps({"host": "127.0.0.1:4002", "x-api-key": "k"}).encode())
    raw = scope(
        b"/graphql/realtime",
        b"header=" + header + b"&payload=e30=",
        upgrade="websocket",
        sec_websocket_protocol="graphql-ws",
    )

    route = endpoint(frozenset({"us-east-1"}))[0]._route(raw)

    path, _, query = route.target.decode().partition("?")
    sent = json.loads(base64.b64decode(parse_qs(query)["header"][0]))
    assert route.address == EU.address
    assert path == "/graphql"
    assert sent == {"host": EU.api_host, "x-api-key": "k"}


def test_a_bad_path_reaches_the_region_as_it_was_sent() -> None:
    """GIVEN a path with escapes and dot segments WHEN routed THEN the region gets it
    byte for byte, to answer it as it answers it directly."""
    route = endpoint()[0]._route(scope(b"/%2e%2e/graphql/../x%00", b"q=%ZZ"))
    assert route.target == b"/%2e%2e/graphql/../x%00?q=%ZZ"


@pytest.mark.parametrize(
    "answer",
    [
        None,
        {"uri": "/graphql", "headers": {}},
        {"uri": "graphql", "headers": {}, "origin": {"custom": {"domainName": US.api_host}}},
        {"uri": "/graphql", "headers": {}, "origin": {"custom": {"domainName": "evil.net"}}},
        {
            "uri": "/graphql",
            "headers": {"x": [{}]},
            "origin": {"custom": {"domainName": US.api_host}},
        },
    ],
    ids=["nothing", "no-origin", "relative-uri", "unknown-origin", "header-without-value"],
)
def test_an_answer_cloudfront_could_not_forward_is_refused(answer: Any) -> None:
    """GIVEN the function answered something that is not a forwardable request, or an
    origin no region serves WHEN CloudFront reads it THEN it is refused (a 502)."""
    records = LatencyRecords("origin." + DOMAIN, [US, EU], lambda region: True)
    with pytest.raises(InvalidEdgeAnswer):
        forwarded_request(answer, records)


class Failing:
    def __call__(self, event: dict[str, Any]) -> Any:
        raise EdgeFunctionFailed("LookupError")


class Invalid:
    def __call__(self, event: dict[str, Any]) -> Any:
        return {"uri": "/graphql"}


@pytest.mark.parametrize(
    ("function", "status", "error_type"),
    [(Failing(), 503, "LambdaExecutionError"), (Invalid(), 502, "LambdaValidationError")],
)
def test_a_failing_function_is_answered_as_cloudfront_answers_it(
    function: Any, status: int, error_type: str
) -> None:
    """GIVEN the edge function raises, or answers what cannot be forwarded WHEN a request
    arrives THEN 503 or 502, with a GraphQL error in AppSync's shape naming no internals."""
    records = LatencyRecords("origin." + DOMAIN, [US], lambda region: True)
    answer = call(GlobalEndpoint(function, records, DOMAIN), "/graphql", method="POST")

    [error] = json.loads(answer.body)["errors"]
    assert answer.status == status
    assert answer.headers["x-amzn-errortype"] == error_type
    assert error["errorType"] == error_type
    assert error.keys() >= {"message", "path", "locations", "errorInfo"}
    assert "Lookup" not in error["message"]


def test_each_loaded_function_keeps_its_own_answers() -> None:
    """GIVEN two endpoints loading the same function WHEN each resolves THEN each uses its
    own name service and cache: they are separate copies, as separate edge locations."""
    first = endpoint()[0]._route(scope(b"/graphql"))
    second = endpoint(frozenset({"us-east-1"}))[0]._route(scope(b"/graphql"))
    assert (first.address, second.address) == (US.address, EU.address)


def test_a_handler_that_names_nothing_is_refused_at_load() -> None:
    records = LatencyRecords("origin." + DOMAIN, [US], lambda region: True)
    with pytest.raises(EdgeFunctionFailed):
        EdgeFunction(edge.CODE, "origin_request.nothing_here", records, cache_s=0)
