"""The Lambda@Edge origin router: the nearest healthy region, for HTTP and real time."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qs

import pytest

from infra.edge import origin_request

EU_API = "abcdefghijklmnopqrstuvwxyz.appsync-api.eu-west-1.amazonaws.com"


@pytest.fixture(autouse=True)
def eu_is_nearest(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Route 53's latency record for this edge answers with the eu-west-1 API."""
    asked: list[str] = []
    origin_request._cache.clear()

    def resolve(name: str) -> tuple[str, list[str], list[str]]:
        asked.append(name)
        if name != "origin.api.shop.example.com":
            raise OSError("no such name")
        return (EU_API + ".", [name], ["192.0.2.10"])

    monkeypatch.setattr(origin_request.socket, "gethostbyname_ex", resolve)
    return asked


def _event(uri: str, querystring: str = "") -> dict[str, Any]:
    request = {
        "uri": uri,
        "querystring": querystring,
        "method": "POST",
        "headers": {"host": [{"key": "Host", "value": "API.shop.example.com"}]},
        "origin": {"custom": {"domainName": "origin.api.shop.example.com"}},
    }
    return {"Records": [{"cf": {"request": request}}]}


def test_a_query_goes_to_the_nearest_regions_api(eu_is_nearest: list[str]) -> None:
    """GIVEN the latency record answers eu-west-1 WHEN a POST /graphql arrives THEN
    CloudFront forwards it there with AppSync's own Host."""
    request = origin_request.handler(_event("/graphql"), None)
    assert request["origin"]["custom"]["domainName"] == EU_API
    assert request["origin"]["custom"]["protocol"] == "https"
    assert request["headers"]["host"] == [{"key": "Host", "value": EU_API}]
    assert eu_is_nearest == ["origin.api.shop.example.com"]


def test_a_realtime_connection_goes_to_the_same_regions_realtime_host() -> None:
    """GIVEN a WebSocket handshake on /graphql/realtime with a header= naming our domain
    WHEN routed THEN it reaches the region's real-time host and header.host names the
    region's API host, which AppSync checks."""
    header = base64.b64encode(
        json.dumps({"host": "api.shop.example.com", "x-api-key": "da2-key"}).encode()
    ).decode()
    query = f"header={header}&payload=e30%3D"
    request = origin_request.handler(_event("/graphql/realtime", query), None)
    realtime = EU_API.replace(".appsync-api.", ".appsync-realtime-api.")
    assert request["origin"]["custom"]["domainName"] == realtime
    sent = parse_qs(request["querystring"])
    assert json.loads(base64.b64decode(sent["header"][0])) == {
        "host": EU_API,
        "x-api-key": "da2-key",
    }
    assert sent["payload"] == ["e30="]


def test_a_realtime_connection_reaches_the_path_appsyncs_realtime_host_serves() -> None:
    """GIVEN a WebSocket handshake on the custom domain's /graphql/realtime WHEN routed to
    the region's own real-time host THEN the path is /graphql: AppSync's real-time host
    serves /graphql, and /graphql/realtime exists only on AppSync custom domains."""
    request = origin_request.handler(_event("/graphql/realtime", "payload=e30%3D"), None)
    assert request["uri"] == "/graphql"
    assert request["querystring"] == "payload=e30%3D"


def test_a_plain_graphql_request_keeps_its_path() -> None:
    """GIVEN a POST /graphql WHEN routed THEN its path is unchanged."""
    assert origin_request.handler(_event("/graphql"), None)["uri"] == "/graphql"


def test_a_header_that_does_not_decode_is_passed_on_for_appsync_to_refuse() -> None:
    """GIVEN a hostile header= parameter WHEN routed THEN the router does not crash."""
    request = origin_request.handler(_event("/graphql/realtime", "header=%%%not-base64"), None)
    assert "header=" in request["querystring"]


def test_the_answer_is_cached_briefly(eu_is_nearest: list[str]) -> None:
    """GIVEN two requests within the cache time THEN DNS is asked once; after it, again."""
    origin_request.regional_api_host("origin.api.shop.example.com", now=100.0)
    origin_request.regional_api_host("origin.api.shop.example.com", now=110.0)
    assert len(eu_is_nearest) == 1
    origin_request.regional_api_host(
        "origin.api.shop.example.com", now=100.0 + origin_request.CACHE_SECONDS + 1
    )
    assert len(eu_is_nearest) == 2


def test_a_name_that_leads_nowhere_known_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """GIVEN the origin name resolves to something that is not AppSync WHEN routed THEN
    the router refuses (CloudFront answers 503, the function failed) rather than
    forwarding credentials."""
    monkeypatch.setattr(
        origin_request.socket,
        "gethostbyname_ex",
        lambda name: ("x.appsync-api.eu-west-1.amazonaws.com.evil.net", [name], ["198.51.100.1"]),
    )
    with pytest.raises(LookupError, match="does not lead to an AppSync endpoint"):
        origin_request.handler(_event("/graphql"), None)


def _header(headers: dict[str, str]) -> str:
    return base64.b64encode(json.dumps(headers).encode()).decode()


def test_a_header_sent_unescaped_as_gql_sends_it_is_rewritten_too() -> None:
    """GIVEN a handshake whose header= is standard base64 put in the query string
    unescaped (gql does), so its "+" reads as a space WHEN routed THEN header.host still
    names the region's API host and the other headers are kept: AppSync checks host."""
    headers = {"host": "api.shop.example.com", "x-api-key": "da2-key10>?"}
    encoded = _header(headers)
    assert "+" in encoded  # the case in point
    request = origin_request.handler(_event("/graphql/realtime", f"header={encoded}"), None)
    sent = parse_qs(request["querystring"])
    assert json.loads(base64.b64decode(sent["header"][0])) == {**headers, "host": EU_API}


def test_a_url_safe_unpadded_header_is_rewritten_too() -> None:
    """GIVEN header= in URL-safe base64 without padding (as some clients encode it) WHEN
    routed THEN header.host names the region's API host."""
    headers = {"host": "api.shop.example.com", "x-api-key": "da2-key10>?"}
    encoded = base64.urlsafe_b64encode(json.dumps(headers).encode()).decode().rstrip("=")
    request = origin_request.handler(_event("/graphql/realtime", f"header={encoded}"), None)
    sent = parse_qs(request["querystring"])
    assert json.loads(base64.b64decode(sent["header"][0])) == {**headers, "host": EU_API}


@pytest.mark.parametrize(
    "uri", ["/graphql/realtimex", "/graphql/realtime-admin", "/graphql/realtime/../../etc"]
)
def test_only_the_realtime_path_itself_goes_to_the_realtime_host(uri: str) -> None:
    """GIVEN a path that only begins like /graphql/realtime WHEN routed THEN it keeps its
    path and goes to the API host, which answers it as it answers any unknown path: it
    is not turned into a real-time handshake on /graphql."""
    request = origin_request.handler(_event(uri, "header=abc"), None)
    assert request["uri"] == uri
    assert request["origin"]["custom"]["domainName"] == EU_API
    assert request["querystring"] == "header=abc"


def test_a_header_of_deeply_nested_json_is_passed_on_for_appsync_to_refuse() -> None:
    """GIVEN header= holding JSON nested deeper than Python's parser recurses WHEN routed
    THEN the router does not fail (CloudFront would answer 503, an error the client
    caused); the parameter goes on unchanged."""
    encoded = base64.b64encode(b"[" * 5000 + b"]" * 5000).decode()
    request = origin_request.handler(_event("/graphql/realtime", f"header={encoded}"), None)
    assert parse_qs(request["querystring"])["header"] == [encoded]
