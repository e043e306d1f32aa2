"""Limits the emulator enforces, each answered with LimitExceeded and never a crash.

* query depth (default 15) and document size, before anything runs;
* subscriptions per connection;
* requests per second per credential (off unless ``--rate-limit`` is given).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

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

DEFAULT_MAX_DEPTH = 15
MAX_DOCUMENT_CHARS = 100_000
MAX_SUBSCRIPTIONS_PER_CONNECTION = 100


@dataclass
class Limits:
    max_depth: int = DEFAULT_MAX_DEPTH
    max_document_chars: int = MAX_DOCUMENT_CHARS
    max_subscriptions_per_connection: int = MAX_SUBSCRIPTIONS_PER_CONNECTION
    rate_per_second: float | None = None
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def for_region(self) -> Limits:
        """The same limits, counting on their own."""
        return Limits(
            self.max_depth,
            self.max_document_chars,
            self.max_subscriptions_per_connection,
            self.rate_per_second,
        )

    def check_size(self, query: str) -> None:
        if len(query) > self.max_document_chars:
            raise LimitExceeded(
                f"The document is {len(query)} characters; the limit is {self.max_document_chars}."
            )

    def check_depth(self, document: DocumentNode) -> None:
        """Refuse an operation nested deeper than ``max_depth`` (run after validation,
        which has already refused fragment cycles)."""
        fragments = {
            node.name.value: node
            for node in document.definitions
            if isinstance(node, FragmentDefinitionNode)
        }
        known: dict[str, int] = {}
        for node in document.definitions:
            if isinstance(node, OperationDefinitionNode):
                depth = _depth(node.selection_set, fragments, known)
                if depth > self.max_depth:
                    raise LimitExceeded(
                        f"The query is {depth} levels deep; the limit is {self.max_depth}."
                    )

    def check_subscriptions(self, active: int) -> None:
        if active >= self.max_subscriptions_per_connection:
            raise LimitExceeded(
                f"A connection may hold {self.max_subscriptions_per_connection} subscriptions."
            )

    def check_rate(self, credential: str, clock: Callable[[], float] = time.monotonic) -> None:
        """A token bucket per credential: ``rate_per_second`` sustained, one second's burst."""
        if self.rate_per_second is None:
            return
        now = clock()
        with self._lock:
            tokens, at = self._buckets.get(credential, (self.rate_per_second, now))
            tokens = min(self.rate_per_second, tokens + (now - at) * self.rate_per_second)
            if tokens < 1:
                self._buckets[credential] = (tokens, now)
                raise LimitExceeded(
                    f"More than {self.rate_per_second:g} requests per second with this credential."
                )
            self._buckets[credential] = (tokens - 1, now)


def _depth(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    known: dict[str, int],
) -> int:
    """How deep ``selection_set`` nests; ``known`` holds each fragment's depth once measured.

    A fragment's depth does not depend on where it is spread, and measuring it once keeps
    a small document that spreads each fragment twice in a chain from costing 2^n steps.
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
                known[name] = _depth(fragments[name].selection_set, fragments, known)
            deepest = max(deepest, known[name])
    return deepest
