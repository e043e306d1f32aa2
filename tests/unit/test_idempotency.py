"""Idempotency keys on every mutation: a retry returns the first result and applies nothing
again, even when the first call's reply was lost after its write landed."""

from __future__ import annotations

import copy
import dataclasses
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import pytest

from domain.commands import (
    AdjustStock,
    CancelOrder,
    Command,
    CreateProduct,
    PlaceOrder,
    RegisterCustomer,
    ShipOrder,
    UpdateProduct,
)
from domain.errors import PrimaryUnavailable, ValidationError
from domain.handlers import Dependencies, handle
from domain.orders import LineRequest
from domain.store import Change

from .fakes import FakeWriteStore, SequentialIds, StepClock

LAMP, MUG = "product-1", "product-2"
ANA = "ana"
STAFF_SCOPE = "user:staff-1"


class LosingStore(FakeWriteStore):
    """The fake write store, whose next commits land and then go wrong on the way back.

    ``lose_replies``: that many commits land, then the caller is told
    PrimaryUnavailable, as a client whose read timeout fired is. ``repeat_commits``: that
    many commits land, then are sent again as they were, as a write guard without a
    request token would, and the caller gets whatever the repeat meets.
    ``claim_reads`` counts the reads of idempotency claims.
    """

    def __init__(self) -> None:
        super().__init__()
        self.lose_replies = 0
        self.repeat_commits = 0
        self.claim_reads = 0

    def load(self, kind: str, aggregate_id: str) -> dict[str, Any] | None:
        self.claim_reads += kind == "IDEMPOTENCY"
        return super().load(kind, aggregate_id)

    def commit(self, *changes: Change) -> None:
        super().commit(*changes)
        if self.lose_replies:
            self.lose_replies -= 1
            raise PrimaryUnavailable("The primary region cannot take writes right now.")
        if self.repeat_commits:
            self.repeat_commits -= 1
            super().commit(*changes)


@dataclass
class Shop:
    """A lamp (10 in stock), a mug (10), Ana, and three of her orders for one mug each."""

    store: LosingStore
    deps: Dependencies
    orders: list[str]

    def run(self, command: Command, caller: str = STAFF_SCOPE) -> Any:
        return handle(command, dataclasses.replace(self.deps, caller=caller))

    def snapshot(self) -> tuple[dict[Any, Any], list[dict[str, Any]]]:
        return copy.deepcopy(self.store.items), copy.deepcopy(self.store.events)

    def state(self, kind: str, aggregate_id: str) -> dict[str, Any]:
        return self.store.load(kind, aggregate_id) or {}


def _deps(store: FakeWriteStore, ids: str, caller: str = STAFF_SCOPE) -> Dependencies:
    return Dependencies(
        store=store, clock=StepClock(), ids=SequentialIds(ids), caller=caller, pause=lambda _: None
    )


@pytest.fixture
def shop() -> Shop:
    store = LosingStore()
    setup = _deps(store, "product")
    handle(CreateProduct("LAMP-1", "Lamp", "", "lighting", 4500, "EUR", 10), setup)
    handle(CreateProduct("MUG-1", "Mug", "", "kitchen", 900, "EUR", 10), setup)
    handle(RegisterCustomer("ana@example.com", "Ana", ANA), setup)
    ordering = _deps(store, "order", caller="user:ana")
    orders = [
        handle(PlaceOrder(ANA, (LineRequest(MUG, 1),), f"setup-{n}"), ordering).id for n in range(3)
    ]
    store.claim_reads = 0
    return Shop(store, _deps(store, "new"), orders)


class Mutation(NamedTuple):
    """One mutation: the request with a key, and another request under the same key."""

    name: str
    request: Callable[[Shop, str], Command]
    other: Callable[[Shop, str], Command]


MUTATIONS = [
    Mutation(
        "createProduct",
        lambda shop, key: CreateProduct("DESK-1", "Desk", "", "office", 9900, "EUR", 2, key),
        lambda shop, key: CreateProduct("DESK-1", "Big desk", "", "office", 9900, "EUR", 2, key),
    ),
    Mutation(
        "updateProduct",
        lambda shop, key: UpdateProduct(LAMP, 1, {"name": "Red lamp"}, key),
        lambda shop, key: UpdateProduct(LAMP, 1, {"name": "Green lamp"}, key),
    ),
    Mutation(
        "adjustStock",
        lambda shop, key: AdjustStock(LAMP, -4, key),
        lambda shop, key: AdjustStock(LAMP, -5, key),
    ),
    Mutation(
        "registerCustomer",
        lambda shop, key: RegisterCustomer("bo@example.com", "Bo", None, key),
        lambda shop, key: RegisterCustomer("bo@example.com", "Bob", None, key),
    ),
    Mutation(
        "placeOrder",
        lambda shop, key: PlaceOrder(ANA, (LineRequest(MUG, 2),), key),
        lambda shop, key: PlaceOrder(ANA, (LineRequest(MUG, 3),), key),
    ),
    Mutation(
        "cancelOrder",
        lambda shop, key: CancelOrder(shop.orders[0], 1, key),
        lambda shop, key: CancelOrder(shop.orders[1], 1, key),
    ),
    Mutation(
        "shipOrder",
        lambda shop, key: ShipOrder(shop.orders[0], 1, key),
        lambda shop, key: ShipOrder(shop.orders[1], 1, key),
    ),
]
each_mutation = pytest.mark.parametrize(
    "mutation", MUTATIONS, ids=[mutation.name for mutation in MUTATIONS]
)


@each_mutation
def test_a_retry_with_the_same_key_returns_the_first_result_and_writes_nothing(
    shop: Shop, mutation: Mutation
) -> None:
    """GIVEN a mutation applied with key k-1
    WHEN the same request is sent again with k-1
    THEN the first result comes back, same version, and nothing more is written."""
    first = shop.run(mutation.request(shop, "k-1"))
    before = shop.snapshot()

    again = shop.run(mutation.request(shop, "k-1"))

    assert again == first
    assert shop.snapshot() == before


@each_mutation
def test_the_same_key_with_another_request_is_refused_and_writes_nothing(
    shop: Shop, mutation: Mutation
) -> None:
    """GIVEN a mutation applied with key k-1
    WHEN k-1 comes again with other input
    THEN ValidationError saying the key was used for another request, naming what the
         first one wrote, and nothing is written."""
    first = shop.run(mutation.request(shop, "k-1"))
    before = shop.snapshot()

    with pytest.raises(ValidationError) as refused:
        shop.run(mutation.other(shop, "k-1"))

    assert "idempotencyKey was already used for a different request" in refused.value.message
    assert first.id in (refused.value.info or {}).values()
    assert shop.snapshot() == before


@each_mutation
def test_a_retry_after_a_lost_reply_returns_what_landed_and_applies_nothing_again(
    shop: Shop, mutation: Mutation
) -> None:
    """GIVEN a mutation with key k-1 whose write landed but whose reply was lost
         (PrimaryUnavailable: the caller cannot tell)
    WHEN the caller retries with k-1
    THEN it gets what landed, and nothing more is written."""
    shop.store.lose_replies = 1
    with pytest.raises(PrimaryUnavailable):
        shop.run(mutation.request(shop, "k-1"))
    landed = shop.snapshot()

    again = shop.run(mutation.request(shop, "k-1"))

    assert shop.snapshot() == landed
    assert again.to_data() == {
        key: value
        for key, value in shop.state(_kind(again), again.id).items()
        if key not in ("pk", "sk", "recordKind")
    }


@each_mutation
def test_a_commit_sent_again_after_it_landed_is_answered_with_its_own_result(
    shop: Shop, mutation: Mutation
) -> None:
    """GIVEN a mutation with key k-1 whose commit lands and is then sent again as it was
         (a write guard retrying without a request token), so that the repeat meets the
         first write's own claim, version or stock
    WHEN the mutation runs
    THEN it answers with what the first write made, and wrote one event per aggregate:
    applied once."""
    shop.store.repeat_commits = 1
    events = len(shop.store.events)

    result = shop.run(mutation.request(shop, "k-1"))

    written = shop.store.events[events:]
    assert Counter(item["aggregateId"] for item in written).most_common(1)[0][1] == 1
    assert {item["aggregateId"]: item["version"] for item in written}[result.id] == result.version
    assert shop.run(mutation.request(shop, "k-1")) == result


def test_a_retry_returns_the_result_as_the_first_call_left_it_after_later_changes(
    shop: Shop,
) -> None:
    """GIVEN 4 lamps taken with key k-1 (version 2, 6 left), then 1 more taken without a key
    WHEN the first request is retried with k-1
    THEN it answers version 2 with 6 left, and the lamp stays at version 3 with 5 left."""
    first = shop.run(AdjustStock(LAMP, -4, "k-1"))
    shop.run(AdjustStock(LAMP, -1))

    again = shop.run(AdjustStock(LAMP, -4, "k-1"))

    assert (again.version, again.stock) == (first.version, first.stock) == (2, 6)
    assert (shop.state("PRODUCT", LAMP)["version"], shop.state("PRODUCT", LAMP)["stock"]) == (3, 5)


def test_one_key_from_two_callers_is_two_requests(shop: Shop) -> None:
    """GIVEN staff took 4 lamps with key k-1
    WHEN another staff member sends the same request with their own k-1
    THEN it is applied too: keys are scoped to their caller."""
    shop.run(AdjustStock(LAMP, -4, "k-1"), caller="user:staff-1")

    other = shop.run(AdjustStock(LAMP, -4, "k-1"), caller="user:staff-2")

    assert (other.version, other.stock) == (3, 2)


def test_without_a_key_every_request_is_applied(shop: Shop) -> None:
    """GIVEN no key WHEN the same stock move is sent twice THEN both are applied."""
    shop.run(AdjustStock(LAMP, -4))

    again = shop.run(AdjustStock(LAMP, -4))

    assert (again.version, again.stock) == (3, 2)


@each_mutation
def test_a_request_with_a_key_reads_no_claim_unless_its_write_is_refused(
    shop: Shop, mutation: Mutation
) -> None:
    """GIVEN a mutation with a new key WHEN it is applied THEN no claim was read (the
    write's own condition on the claim stops a repeat); a repeat reads it once."""
    shop.run(mutation.request(shop, "k-1"))
    assert shop.store.claim_reads == 0

    shop.run(mutation.request(shop, "k-1"))

    assert shop.store.claim_reads == 1


@pytest.mark.parametrize(
    ("key", "says"),
    [("", "must not be empty"), ("  ", "must not be empty"), ("k" * 129, "at most 128")],
)
def test_a_bad_key_is_refused_before_anything_is_written(shop: Shop, key: str, says: str) -> None:
    """GIVEN a stock move WHEN its key is empty, blank or longer than 128 characters
    THEN ValidationError naming idempotencyKey, and nothing is written."""
    before = shop.snapshot()

    with pytest.raises(ValidationError) as refused:
        shop.run(AdjustStock(LAMP, -4, key))

    assert "idempotencyKey" in refused.value.message and says in refused.value.message
    assert shop.snapshot() == before


def _kind(aggregate: Any) -> str:
    return {"Product": "PRODUCT", "Customer": "CUSTOMER", "Order": "ORDER"}[
        type(aggregate).__name__
    ]
