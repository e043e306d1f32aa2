"""Idempotency keys: a retry answers with the first result and applies nothing again.

A command that carries a key claims ``IDEMPOTENCY#<scope>#<key>`` / ``STATE`` in the
same transaction as its write. The scope is the caller, which the resolvers name and
the domain takes as plain text, so one caller's key never meets another's. The claim
holds a fingerprint of the request and where its result is: the event item at
(``aggregateType``, ``aggregateId``, ``version``), which carries the aggregate as the
command left it (events carry the whole aggregate).

The claim is read only when the write is refused. A new key costs nothing: the
transaction's not-exists condition on the claim already stops a repeat. A repeat of a
command that landed is refused on the claim itself, or earlier, on what the first
write changed (the version it moved, the stock it took, the status it set, the SKU or
email it claimed); each such refusal reads the claim, and a claim with the same
fingerprint answers with the first result, whatever happened to the aggregate since.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

from domain import events, records, rules
from domain.data import to_data
from domain.dependencies import Dependencies
from domain.errors import (
    InsufficientStock,
    InvalidTransition,
    ValidationError,
    VersionConflict,
)
from domain.store import ClaimTaken

T = TypeVar("T")
MAX_KEY = 128
# What a repeat of a command that already landed can be refused with.
REPEAT_REFUSALS = (
    ClaimTaken,
    VersionConflict,
    InsufficientStock,
    InvalidTransition,
    ValidationError,
)


class Claim(NamedTuple):
    """One use of a key: the claim's id (scope and key) and the request it stands for."""

    claim_id: str
    fingerprint: str

    def item(self, kind: str, aggregate_id: str, version: int) -> dict[str, Any]:
        """The claim item, written in the transaction that made ``version``."""
        return {
            **records.state_key(records.IDEMPOTENCY, self.claim_id),
            "fingerprint": self.fingerprint,
            "aggregateType": kind,
            "aggregateId": aggregate_id,
            "version": version,
        }


def claim_for(command: Any, scope: str) -> Claim | None:
    """The claim a command makes, or None when it carries no key.

    Raises
    ------
    ValidationError
        The key is empty, blank or longer than :data:`MAX_KEY`; checked before
        anything is read.
    """
    key = command.idempotency_key
    if key is None:
        return None
    key = rules.bounded_text("idempotency_key", key, MAX_KEY)
    if not key.strip():
        raise ValidationError("idempotencyKey must not be empty.")
    # The scope is escaped so that its first '#' is always the one before the key:
    # scope "a#b" with key "c" can never be scope "a" with key "b#c".
    escaped = scope.replace("%", "%25").replace("#", "%23")
    return Claim(f"{escaped}#{key}", fingerprint(command))


def fingerprint(command: Any) -> str:
    """What a repeat must ask again: the command's name and every field but the key."""
    fields = to_data(command)
    fields.pop("idempotencyKey", None)
    body = json.dumps([type(command).__name__, fields], sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def claims(claim: Claim | None, kind: str, aggregate_id: str, version: int) -> list[dict[str, Any]]:
    """The claim items to write with the change that makes ``version``: none without a key."""
    return [] if claim is None else [claim.item(kind, aggregate_id, version)]


def once(claim: Claim | None, deps: Dependencies, attempt: Callable[[], T]) -> T:
    """``attempt()``; when it is refused as a repeat would be, the first result instead.

    Raises
    ------
    ValidationError
        The key was used before for another request (nothing is written), or the
        attempt's own ValidationError when no request used the key.
    """
    if claim is None:
        return attempt()
    try:
        return attempt()
    except REPEAT_REFUSALS:
        earlier: T | None = first_result(claim, deps)
        if earlier is None:
            raise
        return earlier


def first_result(claim: Claim, deps: Dependencies) -> Any:
    """The aggregate as the first request with this claim left it, or None if none came.

    Raises
    ------
    ValidationError
        The claim stands for another request.
    LookupError
        The claim points at an event that is not there: the store broke its
        all-or-nothing promise (logged as an internal failure, never shown).
    """
    found = deps.store.load(records.IDEMPOTENCY, claim.claim_id)
    if found is None:
        return None
    kind, aggregate_id = str(found["aggregateType"]), str(found["aggregateId"])
    if found["fingerprint"] != claim.fingerprint:
        raise ValidationError(
            "This idempotencyKey was already used for a different request; use a new key.",
            {f"{kind.lower()}Id": aggregate_id},
        )
    item = deps.store.load_event(kind, aggregate_id, int(found["version"]))
    if item is None:
        raise LookupError(f"claim {claim.claim_id} points at a missing event")
    return events.aggregate_of(events.from_item(item))
