"""Limits the emulator enforces, each answered with LimitExceeded and never a crash.

* document size, before parsing;
* resolver count and query depth (AppSync's ``resolverCountLimit`` and
  ``queryDepthLimit``, the deployment's values from :class:`infra.config.ApiLimits`),
  after parsing and BEFORE validation: both are measured in one pass over the document,
  each fragment once, while graphql-core's validation can take quadratic time;
* subscriptions per connection; subscriber sockets per key (once acknowledged) and per
  client address (from the first byte); how long a socket may take to say
  ``connection_init``;
* resolvers per second per credential (off unless ``--rate-limit`` is given): a request
  costs the resolvers it runs, so a thousand aliases cost a thousand.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

from domain.errors import LimitExceeded
from infra.config import ApiLimits

_DEPLOYED = ApiLimits()
DEFAULT_MAX_DEPTH = _DEPLOYED.query_depth
DEFAULT_MAX_RESOLVERS = _DEPLOYED.resolver_count
# AppSync reads a resolver count limit of 0 as its own maximum.
APPSYNC_MAX_RESOLVERS = 10_000
MAX_DOCUMENT_CHARS = 100_000
MAX_SUBSCRIPTIONS_PER_CONNECTION = 100
# AppSync's real-time connectionTimeoutMs: the longest it lets a socket be silent.
CONNECTION_INIT_TIMEOUT_S = 300.0
# An API key is shared by every anonymous client of a front end, and on one machine
# every client has the same address, so both caps are generous: they bound what one
# key or address can hold, not what a busy page needs (a 1,000-subscriber fan-out).
MAX_SOCKETS_PER_CREDENTIAL = 2_000
MAX_SOCKETS_PER_ADDRESS = 4_000


@dataclass
class Limits:
    """What one region lets a request cost.

    Attributes
    ----------
    max_depth
        Levels a query may nest; 0 means no limit, as AppSync reads it.
    max_resolvers
        Resolvers (root fields: each is one Lambda invocation here) one request may
        run; 0 means AppSync's maximum, 10,000.
    rate_per_second
        Resolvers per second per credential, with one second's burst; None: no limit.
    connection_init_timeout_s
        How long a subscriber socket may stay open without saying ``connection_init``.
    max_sockets_per_credential, max_sockets_per_address
        Subscriber sockets one API key, user or IAM key may hold once acknowledged, and
        one client address may hold at all.
    """

    max_depth: int = DEFAULT_MAX_DEPTH
    max_document_chars: int = MAX_DOCUMENT_CHARS
    max_subscriptions_per_connection: int = MAX_SUBSCRIPTIONS_PER_CONNECTION
    rate_per_second: float | None = None
    max_resolvers: int = DEFAULT_MAX_RESOLVERS
    connection_init_timeout_s: float = CONNECTION_INIT_TIMEOUT_S
    max_sockets_per_credential: int = MAX_SOCKETS_PER_CREDENTIAL
    max_sockets_per_address: int = MAX_SOCKETS_PER_ADDRESS
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def for_region(self) -> Limits:
        """The same limits, counting on their own."""
        return replace(self, _buckets={}, _lock=threading.Lock())

    def check_size(self, query: str) -> None:
        if len(query) > self.max_document_chars:
            raise LimitExceeded(
                f"The document is {len(query)} characters; the limit is {self.max_document_chars}."
            )

    def check_document(self, document: DocumentNode, operation_name: str | None) -> int:
        """Refuse an operation that would run more resolvers, or nest deeper, than
        allowed; return how many resolvers it runs (what it costs).

        Runs before validation, in time linear in the document: each fragment is
        measured once, and a fragment cycle (which validation refuses next) ends the
        walk instead of looping. Fields repeated under one response key, or a fragment
        spread twice, count once: graphql-core merges them into one execution, as
        AppSync does.
        """
        fragments = {
            node.name.value: node
            for node in document.definitions
            if isinstance(node, FragmentDefinitionNode)
        }
        operations = [
            node
            for node in document.definitions
            if isinstance(node, OperationDefinitionNode)
            and (operation_name is None or (node.name and node.name.value == operation_name))
        ]
        depths: dict[str, int] = {}
        cost = 0
        for operation in operations:
            resolvers = len(_response_keys(operation.selection_set, fragments, set()))
            allowed = self.max_resolvers or APPSYNC_MAX_RESOLVERS
            if resolvers > allowed:
                raise LimitExceeded(
                    f"The query runs {resolvers} resolvers; the limit is {allowed}.",
                    {"resolverCount": resolvers, "resolverCountLimit": allowed},
                )
            depth = _depth(operation.selection_set, fragments, depths)
            if self.max_depth and depth > self.max_depth:
                raise LimitExceeded(
                    f"The query is {depth} levels deep; the limit is {self.max_depth}.",
                    {"queryDepth": depth, "queryDepthLimit": self.max_depth},
                )
            cost = max(cost, resolvers)
        return cost

    def check_subscriptions(self, active: int) -> None:
        if active >= self.max_subscriptions_per_connection:
            raise LimitExceeded(
                f"A connection may hold {self.max_subscriptions_per_connection} subscriptions."
            )

    def check_rate(
        self, credential: str, cost: int = 1, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """A token bucket per credential: ``rate_per_second`` resolvers sustained, one
        second's burst. A request takes its ``cost`` (its resolver count, at least 1).

        A request is let through when the bucket holds its cost, or when the bucket is
        full and the request costs more than it can ever hold; the bucket then goes into
        debt, which refills before anything else passes. So the sustained rate holds
        for any mix of sizes, and no request within the resolver count limit is refused
        for ever.
        """
        rate = self.rate_per_second
        if rate is None:
            return
        cost = max(cost, 1)
        now = clock()
        with self._lock:
            tokens, at = self._buckets.get(credential, (rate, now))
            tokens = min(rate, tokens + (now - at) * rate)
            if tokens < min(cost, rate):
                self._buckets[credential] = (tokens, now)
                raise LimitExceeded(
                    f"More than {rate:g} resolvers per second with this credential; "
                    f"this request runs {cost}.",
                    {"resolverCount": cost, "ratePerSecond": rate},
                )
            self._buckets[credential] = (tokens - cost, now)


def _response_keys(
    selection_set: SelectionSetNode,
    fragments: dict[str, FragmentDefinitionNode],
    visited: set[str],
) -> set[str]:
    """The response keys of a root selection set: one resolver each.

    ``visited`` holds the fragments already walked: at the root a fragment adds the same
    keys wherever it is spread, so it is walked once (as graphql-core collects fields).
    ``__typename`` and introspection have no resolver.
    """
    keys: set[str] = set()
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            if not selection.name.value.startswith("__"):
                keys.add(selection.alias.value if selection.alias else selection.name.value)
        elif isinstance(selection, InlineFragmentNode):
            keys |= _response_keys(selection.selection_set, fragments, visited)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in fragments and name not in visited:
                visited.add(name)
                keys |= _response_keys(fragments[name].selection_set, fragments, visited)
    return keys


def _depth(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    known: dict[str, int],
) -> int:
    """How deep ``selection_set`` nests; ``known`` holds each fragment's depth once measured.

    A fragment's depth does not depend on where it is spread, and measuring it once keeps
    a small document that spreads each fragment twice in a chain from costing 2^n steps.
    A fragment being measured counts 0 where it spreads itself: the cycle is validation's
    to refuse.
    """
    if selection_set is None:
        return 0
    deepest = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            deepest = max(deepest, 1 + _depth(selection.selection_set, fragments, known))
        elif isinstance(selection, InlineFragmentNode):
            deepest = max(deepest, _depth(selection.selection_set, fragments, known))
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value in fragments:
            name = selection.name.value
            if name not in known:
                known[name] = 0
                known[name] = _depth(fragments[name].selection_set, fragments, known)
            deepest = max(deepest, known[name])
    return deepest
