"""CloudFront, as the edge function sees it locally: its event in, its answer checked.

The distribution runs the origin router (``infra/edge``) on every origin request, HTTP
and WebSocket handshake alike. :func:`origin_request_event` builds the event Lambda@Edge
gets (``Records[0].cf``: ``config`` and ``request``: ``clientIp``, ``headers`` keyed
by lowercase name as ``[{key, value}]``, ``method``, ``querystring`` without ``?``,
``uri`` as the viewer sent it, ``origin.custom``); the viewer's Host is the
distribution's name, as the all-viewer origin request policy passes it.
:class:`EdgeFunction` loads the handler as Lambda does, by name from its code
directory, and :func:`forwarded_request` reads its answer the way CloudFront does,
refusing what CloudFront would refuse (a 502, "Lambda validation error").
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

from emulator.edge.route53 import LatencyRecords

DISTRIBUTION_ID = "EGATEWAYDEVLOCAL"
# The origin's own defaults when the function does not say (CloudFront's custom origin).
READ_TIMEOUT_S = 30.0
# Headers the function may not see changed into the request CloudFront forwards, and
# hop-by-hop headers no proxy forwards; the framing of the body is the viewer's.
_NOT_FORWARDED = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "expect",
        "host",
    }
)
_loaded = itertools.count(1)


class EdgeFunctionFailed(Exception):
    """The function raised, or could not be loaded: CloudFront answers 503."""


class InvalidEdgeAnswer(Exception):
    """The function returned something CloudFront cannot forward: a 502."""


class ForwardedRequest(NamedTuple):
    """Where CloudFront sends the request after the function, and what it sends."""

    address: tuple[str, int]
    host: str
    target: bytes
    headers: list[tuple[str, str]]
    read_timeout_s: float


def origin_request_event(
    *,
    method: str,
    uri: str,
    querystring: str,
    headers: Iterable[tuple[str, str]],
    client_ip: str,
    domain_name: str,
    origin_name: str,
    request_id: str,
) -> dict[str, Any]:
    """The origin-request event for one viewer request to the distribution."""
    grouped: dict[str, list[dict[str, str]]] = {}
    for name, value in headers:
        if name.lower() != "host":
            grouped.setdefault(name.lower(), []).append({"key": name, "value": value})
    grouped["host"] = [{"key": "Host", "value": domain_name}]
    request = {
        "clientIp": client_ip,
        "headers": grouped,
        "method": method,
        "querystring": querystring,
        "uri": uri,
        "origin": {
            "custom": {
                "customHeaders": {},
                "domainName": origin_name,
                "keepaliveTimeout": 5,
                "path": "",
                "port": 443,
                "protocol": "https",
                "readTimeout": int(READ_TIMEOUT_S),
                "sslProtocols": ["TLSv1.2"],
            }
        },
    }
    config = {
        "distributionDomainName": domain_name,
        "distributionId": DISTRIBUTION_ID,
        "eventType": "origin-request",
        "requestId": request_id,
    }
    return {"Records": [{"cf": {"config": config, "request": request}}]}


class EdgeFunction:
    """The origin router, loaded as Lambda@Edge loads it: ``handler`` (``module.function``)
    from the files in ``code``, as a module of its own that nothing else shares.

    Two things of that copy are set here, as the machine it runs on would set them: its
    name service (``socket``, which it resolves the origin name with) is ``records``,
    and it keeps an answer for ``cache_s`` (its ``CACHE_SECONDS``: Route 53's TTL).
    """

    def __init__(self, code: Path, handler: str, records: LatencyRecords, cache_s: float) -> None:
        module_name, _, function_name = handler.rpartition(".")
        self.module = _load(code / f"{module_name.replace('.', '/')}.py", module_name)
        setattr(self.module, "socket", _NameService(records))  # noqa: B010
        setattr(self.module, "CACHE_SECONDS", cache_s)  # noqa: B010
        handler_function = getattr(self.module, function_name, None)
        if not callable(handler_function):
            raise EdgeFunctionFailed(f"{handler} names no function in {code}")
        self._handler: Callable[[dict[str, Any], Any], Any] = handler_function

    def __call__(self, event: dict[str, Any]) -> Any:
        """Run the function on ``event``; any exception is the function failing."""
        try:
            return self._handler(event, None)
        except Exception as error:
            raise EdgeFunctionFailed(type(error).__name__) from error


def forwarded_request(answer: Any, records: LatencyRecords) -> ForwardedRequest:
    """The request CloudFront forwards after the function answered ``answer``.

    Raises
    ------
    InvalidEdgeAnswer
        Not a request with a custom origin, a path and headers; or an origin no region
        serves (CloudFront could not resolve it: also a 502).
    """
    try:
        custom = answer["origin"]["custom"]
        domain = custom["domainName"]
        path, uri = custom.get("path", ""), answer["uri"]
        querystring = answer.get("querystring", "")
        headers = answer["headers"]
        timeout = custom.get("readTimeout", READ_TIMEOUT_S)
    except (KeyError, TypeError) as error:
        raise InvalidEdgeAnswer(f"the function's request lacks {error}") from None
    if not all(isinstance(value, str) for value in (domain, path, uri, querystring)):
        raise InvalidEdgeAnswer("the function's origin, path or query string is not text")
    if not uri.startswith("/") or not isinstance(headers, dict):
        raise InvalidEdgeAnswer("the function's uri or headers are not a request's")
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0:
        raise InvalidEdgeAnswer("the function's readTimeout is not a number of seconds")
    endpoint = records.origin(domain)
    if endpoint is None:
        raise InvalidEdgeAnswer(f"no region serves {domain}")
    forwarded = []
    for name, values in headers.items():
        if not isinstance(name, str) or not isinstance(values, list):
            raise InvalidEdgeAnswer("the function's headers are not CloudFront's shape")
        if name.lower() in _NOT_FORWARDED:
            continue
        for entry in values:
            value = entry.get("value") if isinstance(entry, dict) else None
            if not isinstance(value, str):
                raise InvalidEdgeAnswer(f"the function's {name} header has no value")
            forwarded.append((str(entry.get("key") or name), value))
    target = path + uri + (f"?{querystring}" if querystring else "")
    host, port = endpoint.address
    return ForwardedRequest(
        endpoint.address,
        f"{host}:{port}",
        target.encode("latin-1", errors="replace"),
        forwarded,
        float(timeout),
    )


def error_body(error_type: str, message: str) -> bytes:
    """What CloudFront answers itself (the function failed, the origin cannot be
    reached): a GraphQL error in AppSync's shape, naming no internals."""
    error: dict[str, Any] = {
        "message": message,
        "errorType": error_type,
        "path": None,
        "locations": [],
        "errorInfo": None,
    }
    return json.dumps({"data": None, "errors": [error]}).encode()


class _NameService:
    """The one function of ``socket`` the edge function calls, answered by Route 53's
    stand-in instead of the machine's resolver."""

    def __init__(self, records: LatencyRecords) -> None:
        self.gethostbyname_ex = records.gethostbyname_ex


def _load(path: Path, name: str) -> ModuleType:
    """A fresh module from ``path``, under a name no import will ever ask for."""
    spec = importlib.util.spec_from_file_location(f"_gateway_edge_{next(_loaded)}_{name}", path)
    if spec is None or spec.loader is None or not path.is_file():
        raise EdgeFunctionFailed(f"no edge function at {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and typing look a module up by name
    spec.loader.exec_module(module)
    return module
