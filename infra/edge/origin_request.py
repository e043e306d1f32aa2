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
    answers 502 instead of sending the request somewhere unknown.
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


def target_host(api_host: str, uri: str) -> str:
    """The host for this request: the real-time host for WebSocket paths."""
    if uri.startswith(REALTIME_PATH):
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
            try:
                header = json.loads(base64.b64decode(value, validate=True))
            except (binascii.Error, ValueError):
                header = None
            if isinstance(header, dict) and "host" in header:
                header["host"] = host
                value = base64.b64encode(json.dumps(header).encode()).decode()
        rewritten.append((key, value))
    return urlencode(rewritten)


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
    if request["uri"].startswith(REALTIME_PATH):
        request["uri"] = REALTIME_ORIGIN_PATH
        if request.get("querystring"):
            request["querystring"] = realtime_query(request["querystring"], api_host)
    return request
