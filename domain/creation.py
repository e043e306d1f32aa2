"""Creating an aggregate that claims a unique value (a product's SKU, a customer's email)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain import records
from domain.dependencies import Dependencies
from domain.errors import ValidationError
from domain.events import Event
from domain.store import Change, ClaimTaken


def create_claiming(
    kind: str,
    aggregate: Any,
    event: Event,
    claim: tuple[str, str],
    taken: ValidationError,
    deps: Dependencies,
    other_claims: Sequence[dict[str, Any]] = (),
) -> None:
    """Write a new aggregate (version 1) with its first event, claiming ``claim``
    (``(claim kind, value)``) and ``other_claims`` (an idempotency key's) in the same
    transaction.

    Raises
    ------
    ValidationError
        ``taken``, when another aggregate holds the claim; nothing is written.
    ClaimTaken
        One of ``other_claims`` is held; nothing is written.
    VersionConflict
        An aggregate with this id exists already.
    """
    claim_kind, value = claim
    claim_item = {
        **records.state_key(claim_kind, value),
        f"{kind.lower()}Id": aggregate.id,
    }
    claims = [*other_claims, claim_item]
    change = Change(kind, aggregate.id, aggregate.to_data(), 0, [event], claims)
    try:
        deps.store.commit(change)
    except ClaimTaken as error:
        if error.claim[records.PARTITION_KEY] != claim_item[records.PARTITION_KEY]:
            raise
        raise taken from error
