"""Lambda@Edge: send each request to the nearest healthy region's AppSync endpoint.

CloudFront serves the one client-facing name. Route 53 answers ``origin.<that name>``
with latency records, one per region, each a CNAME to that region's AppSync host and
each guarded by the region's health check. This function runs at the edge nearest the
client, so resolving that name picks the region nearest the client that is healthy.
Real-time connections (``/graphql/realtime``) go to the same region's real-time host,
on the path that host serves (``/graphql``).

Lambda@Edge takes no environment variables: the origin name follows from the Host
header. Stdlib only, and nothing from the gateway's own packages.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import socket
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode

ORIGIN_PREFIX = "origin."
REALTIME_PATH = "/graphql/realtime"
# AppSync's own real-time host serves its WebSocket on /graphql; the /graphql/realtime
# path that clients use here exists only on AppSync's custom domains.
REALTIME_ORIGIN_PATH = "/graphql"
CACHE_SECONDS = 30.0
_API_HOST_MARK = ".appsync-api."
_API_HOST = re.compile(r"^[a-z0-9]+\.appsync-api\.[a-z]{2}(-[a-z]+)+-\d\.amazonaws\.com$")
_REALTIME_HOST_MARK = ".appsync-realtime-api."

_cache: dict[str, tuple[float, str]] = {}


def regional_api_host(origin_name: str, now: float | None = None) -> str:
    """The AppSync host that ``origin_name`` currently resolves to, cached briefly.

    Raises LookupError when the name does not lead to an AppSync host, so CloudFront
    answers with an error (503, the function failed) instead of sending the request
    somewhere unknown.
    """
    now = time.monotonic() if now is None else now
    cached = _cache.get(origin_name)
    if cached is not None and cached[0] > now:
        return cached[1]
    canonical, aliases, _ = socket.gethostbyname_ex(origin_name)
    host = next(
        (name for name in (canonical, *aliases) if _API_HOST.match(name.rstrip(".").lower())),
        None,
    )
    if host is None:
        raise LookupError(f"{origin_name} does not lead to an AppSync endpoint")
    _cache[origin_name] = (now + CACHE_SECONDS, host.rstrip("."))
    return host.rstrip(".")


def is_realtime(uri: str) -> bool:
    """Whether this is the real-time path itself; a path that only begins like it is
    not, and goes to the API host as it is."""
    return uri == REALTIME_PATH


def target_host(api_host: str, uri: str) -> str:
    """The host for this request: the real-time host for the real-time path."""
    if is_realtime(uri):
        return api_host.replace(_API_HOST_MARK, _REALTIME_HOST_MARK, 1)
    return api_host


def realtime_query(querystring: str, host: str) -> str:
    """The real-time handshake's query string, with its ``header`` naming ``host``.

    Clients put the host they connected to in the base64 ``header`` parameter; AppSync
    expects its own GraphQL host there. A parameter that does not decode is left for
    AppSync to refuse.
    """
    pairs = parse_qsl(querystring, keep_blank_values=True)
    rewritten = []
    for key, value in pairs:
        if key == "header":
            header = _decoded_header(value)
            if isinstance(header, dict) and "host" in header:
                header["host"] = host
                value = base64.b64encode(json.dumps(header).encode()).decode()
        rewritten.append((key, value))
    return urlencode(rewritten)


def _decoded_header(value: str) -> object:
    """The JSON in a ``header`` parameter, or None when it is not base64 JSON.

    Read as leniently as AppSync's clients write it: standard or URL-safe base64,
    padded or not, and with a "+" that arrived as a space (gql puts standard base64 in
    the query string unescaped).
    """
    encoded = value.replace(" ", "+").replace("-", "+").replace("_", "/")
    try:
        return json.loads(base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True))
    except (binascii.Error, ValueError, RecursionError):
        return None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request: dict[str, Any] = event["Records"][0]["cf"]["request"]
    viewer_host = request["headers"]["host"][0]["value"].lower()
    api_host = regional_api_host(ORIGIN_PREFIX + viewer_host)
    host = target_host(api_host, request["uri"])
    request["origin"] = {
        "custom": {
            "domainName": host,
            "port": 443,
            "protocol": "https",
            "path": "",
            "sslProtocols": ["TLSv1.2"],
            "readTimeout": 30,
            "keepaliveTimeout": 5,
            "customHeaders": {},
        }
    }
    # AppSync routes by Host. SigV4 callers (the stream handler) sign for the regional
    # endpoint and call it directly, never through this name.
    request["headers"]["host"] = [{"key": "Host", "value": host}]
    if is_realtime(request["uri"]):
        request["uri"] = REALTIME_ORIGIN_PATH
        if request.get("querystring"):
            request["querystring"] = realtime_query(request["querystring"], api_host)
    return request
