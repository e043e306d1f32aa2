"""AppSync's AWS_LAMBDA mode for one API: which tokens go to the authorizer function,
the event it gets, how its answer is honoured, and how long the answer is kept.

As AppSync documents it ("AWS Lambda authorization"):

* Only an ``Authorization`` value matching the API's ``identityValidationExpression``
  goes to the function; anything else is left to the other modes.
* The function gets ``authorizationToken``, ``requestContext`` (``apiId``,
  ``accountId``, ``requestId``, ``queryString``, ``operationName``, ``variables``) and
  ``requestHeaders``.
* It answers ``isAuthorized``; ``resolverContext`` becomes ``identity.resolverContext``
  in every resolver's event; ``deniedFields`` (``Type.field`` or a field's ARN) are
  refused for this caller; ``ttlOverride`` replaces the API's result TTL (0: keep nothing).
* Answers are kept per token for the TTL, refusals included, so a cached answer is
  reused whatever the next request asks.

A function that fails, times out or answers something else is a refusal that is not
kept (401 to the client; AppSync's exact answer then could not be checked without an
account, see docs/decisions.md).
"""

from __future__ import annotations

import inspect
import logging
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from emulator.appsync.auth import AWS_LAMBDA, Caller

logger = logging.getLogger("gateway.authorizer")

# AppSync caps a result TTL at an hour.
MAX_TTL_S = 3600
# Answers kept at once: a flood of distinct made-up tokens evicts the oldest answers
# instead of growing without bound.
MAX_KEPT = 10_000
_FIELD_ARN = re.compile(
    r"^arn:[^:]+:appsync:[^:]*:[^:]*:apis/([^/]+)/types/([^/]+)/fields/([^/]+)$"
)

Invoke = Callable[[dict[str, Any]], Awaitable[Any] | Any]


class Operation(NamedTuple):
    """What AppSync tells the authorizer of the request: empty for a connection."""

    query: str = ""
    variables: dict[str, Any] | None = None
    operation_name: str | None = None


@dataclass(frozen=True)
class _Answer:
    authorized: bool
    resolver_context: dict[str, Any]
    denied_fields: frozenset[str]


class LambdaAuthorizer:
    """The authorizer of one API.

    Parameters
    ----------
    invoke
        Calls the authorizer function with one event; may return an awaitable.
    api_id, account_id
        This API's, as the event's ``requestContext`` names them.
    pattern
        The API's ``identityValidationExpression``.
    ttl_s
        The API's ``authorizerResultTtlInSeconds``.
    clock
        Monotonic seconds; tests pass their own.
    """

    def __init__(
        self,
        invoke: Invoke,
        *,
        api_id: str,
        account_id: str,
        pattern: str,
        ttl_s: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._invoke = invoke
        self.api_id = api_id
        self._account_id = account_id
        self._pattern = re.compile(pattern)
        self._ttl_s = ttl_s
        self._clock = clock
        self._kept: OrderedDict[str, tuple[_Answer, float]] = OrderedDict()

    def claims(self, authorization: str) -> bool:
        """Whether this token is the authorizer's to judge."""
        return bool(authorization) and self._pattern.search(authorization) is not None

    async def authorize(
        self, token: str, headers: dict[str, str], operation: Operation | None = None
    ) -> Caller | None:
        """The caller the function lets in with ``token``, or None when it refuses."""
        answer = self._kept_answer(token)
        if answer is None:
            answer, ttl_s = await self._ask(token, headers, operation or Operation())
            if ttl_s > 0:
                self._keep(token, answer, ttl_s)
        if not answer.authorized:
            return None
        return Caller(
            AWS_LAMBDA,
            {"resolverContext": answer.resolver_context},
            headers,
            credential=token,
            denied_fields=answer.denied_fields,
        )

    async def _ask(
        self, token: str, headers: dict[str, str], operation: Operation
    ) -> tuple[_Answer, int]:
        event = {
            "authorizationToken": token,
            "requestContext": {
                "apiId": self.api_id,
                "accountId": self._account_id,
                "requestId": str(uuid.uuid4()),
                "queryString": operation.query,
                "operationName": operation.operation_name,
                "variables": dict(operation.variables or {}),
            },
            "requestHeaders": dict(headers),
        }
        try:
            response = self._invoke(event)
            if inspect.isawaitable(response):
                response = await response
            return self._read(response)
        except Exception:
            logger.exception("the Lambda authorizer failed; the request is refused")
            return _Answer(False, {}, frozenset()), 0

    def _read(self, response: Any) -> tuple[_Answer, int]:
        """The answer and how long to keep it.

        Raises
        ------
        ValueError
            The response is not AppSync's shape.
        """
        if not isinstance(response, dict) or not isinstance(response.get("isAuthorized"), bool):
            raise ValueError(f"an authorizer response needs a boolean isAuthorized: {response!r}")
        context = response.get("resolverContext") or {}
        denied = response.get("deniedFields") or []
        ttl = response.get("ttlOverride", self._ttl_s)
        if not isinstance(context, dict):
            raise ValueError("resolverContext must be a JSON object")
        if not isinstance(denied, list) or not all(isinstance(name, str) for name in denied):
            raise ValueError("deniedFields must be a list of strings")
        if isinstance(ttl, bool) or not isinstance(ttl, int | float) or ttl < 0:
            raise ValueError("ttlOverride must be a number of seconds, 0 or more")
        fields = frozenset(name for name in map(self._field_name, denied) if name)
        return _Answer(response["isAuthorized"], context, fields), min(int(ttl), MAX_TTL_S)

    def _field_name(self, denied: str) -> str | None:
        """``Type.field`` for a short name, or for a field ARN of this API."""
        match = _FIELD_ARN.match(denied)
        if match is None:
            return denied
        api_id, type_name, field_name = match.groups()
        return f"{type_name}.{field_name}" if api_id == self.api_id else None

    def _kept_answer(self, token: str) -> _Answer | None:
        kept = self._kept.get(token)
        if kept is None:
            return None
        if self._clock() >= kept[1]:
            del self._kept[token]
            return None
        return kept[0]

    def _keep(self, token: str, answer: _Answer, ttl_s: int) -> None:
        self._kept[token] = (answer, self._clock() + ttl_s)
        self._kept.move_to_end(token)
        while len(self._kept) > MAX_KEPT:
            self._kept.popitem(last=False)
