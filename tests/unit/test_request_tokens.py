"""Each commit carries a ClientRequestToken, so the write guard's retry of a commit that
landed is a replay DynamoDB answers as written, never a second write."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from domain.breaker import CircuitBreaker, Guard
from domain.commands import AdjustStock, CreateProduct
from domain.control import Control, ControlRecord
from domain.handlers import Dependencies, handle
from domain.primary_store import PrimaryWriteStore
from domain.store import TokenReused

from .fakes import FakeControlClient, FakeWriteStore, ManualClock, SequentialIds, StepClock

LAMP = CreateProduct("LAMP-1", "Lamp", "", "lighting", 4500, "EUR", 10)


class TokenTable:
    """A DynamoDB client's ``transact_write_items`` over a fake write store, answering as
    DynamoDB documents a ClientRequestToken: within 10 minutes, the same token with the
    same items is answered as written and writes nothing; with other items it is
    IdempotentParameterMismatchException. ``lose_replies``: that many transactions land,
    then the client's read timeout fires."""

    def __init__(self, store: FakeWriteStore) -> None:
        self.store = store
        self.sent: list[tuple[str | None, str]] = []
        self.applied = 0
        self.lose_replies = 0
        self._tokens: dict[str, str] = {}

    def transact_write_items(
        self, *, TransactItems: list[dict[str, Any]], ClientRequestToken: str | None = None
    ) -> dict[str, Any]:
        items = json.dumps(TransactItems, sort_keys=True)
        self.sent.append((ClientRequestToken, items))
        if ClientRequestToken is not None and ClientRequestToken in self._tokens:
            if self._tokens[ClientRequestToken] != items:
                raise _error("IdempotentParameterMismatchException")
            return {}
        self._apply(TransactItems)
        if ClientRequestToken is not None:
            self._tokens[ClientRequestToken] = items
        if self.lose_replies:
            self.lose_replies -= 1
            raise ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com/")
        return {}

    def _apply(self, operations: list[dict[str, Any]]) -> None:
        """Every condition the gateway writes is one of three; all hold, or none is written."""
        puts = [op["Put"] for op in operations if "Put" in op]
        reasons = []
        for put in puts:
            key = (put["Item"]["pk"]["S"], put["Item"]["sk"]["S"])
            current = self.store.items.get(key)
            condition = put.get("ConditionExpression", "")
            if condition.startswith("attribute_not_exists"):
                held = current is None
            elif condition:
                expected = int(put["ExpressionAttributeValues"][":expected"]["N"])
                held = current is not None and current["version"] == expected
            else:
                held = True
            reasons.append({"Code": "None" if held else "ConditionalCheckFailed"})
        if any(reason["Code"] != "None" for reason in reasons):
            raise _error("TransactionCanceledException", [*reasons, {"Code": "None"}])
        for put in puts:
            item = {name: _plain(value) for name, value in put["Item"].items()}
            self.store.items[(item["pk"], item["sk"])] = item
            if item["sk"].startswith("EVENT#"):
                self.store.events.append(item)
        self.applied += 1


def _plain(value: dict[str, Any]) -> Any:
    (kind, inner), *_ = value.items()
    if kind == "N":
        return int(inner)
    if kind == "M":
        return {name: _plain(part) for name, part in inner.items()}
    if kind == "L":
        return [_plain(part) for part in inner]
    return inner


def _error(code: str, reasons: list[dict[str, str]] | None = None) -> ClientError:
    response: dict[str, Any] = {"Error": {"Code": code, "Message": code}}
    if reasons is not None:
        response["CancellationReasons"] = reasons
    return ClientError(response, "TransactWriteItems")  # type: ignore[arg-type]


class Primary:
    """The write store of a deployment whose primary's table is a :class:`TokenTable`,
    behind a write guard that retries at once."""

    def __init__(self) -> None:
        self.fake = FakeWriteStore()
        self.table = TokenTable(self.fake)
        clock = ManualClock()
        control = ControlRecord(
            FakeControlClient(), "gateway-write", Control("us-east-1", "ACTIVE", 0), clock=clock
        )
        self.store = PrimaryWriteStore(
            control,
            lambda region: self.table,
            guards=lambda: Guard(CircuitBreaker(clock=clock), clock=clock, pause=lambda _: None),
        )
        # Reads go to the fake store's items, which the table writes.
        self.store.load = self.fake.load  # type: ignore[method-assign]
        self.store.load_many = self.fake.load_many  # type: ignore[method-assign]
        self.store.load_event = self.fake.load_event  # type: ignore[method-assign]
        self.deps = Dependencies(store=self.store, clock=StepClock(), ids=SequentialIds())


def test_the_guards_retry_of_a_commit_that_landed_is_answered_as_written() -> None:
    """GIVEN a lamp with 10 in stock
    WHEN 3 are added and the transaction lands but its read timeout fires, so the guard
         sends the commit again
    THEN both sends carry one token, the table applied it once, and the caller gets
         the lamp at version 2 with 13."""
    primary = Primary()
    lamp = handle(LAMP, primary.deps)
    primary.table.lose_replies = 1
    sent = len(primary.table.sent)

    moved = handle(AdjustStock(lamp.id, 3), primary.deps)

    tokens = [token for token, _ in primary.table.sent[sent:]]
    assert len(tokens) == 2 and tokens[0] == tokens[1] and tokens[0] is not None
    assert (moved.version, moved.stock) == (2, 13)
    assert primary.table.applied == 2  # the creation, then the move: once
    assert [item["eventType"] for item in primary.fake.events] == [
        "ProductCreated",
        "StockAdjusted",
    ]


def test_each_commit_has_a_token_of_its_own_that_dynamodb_accepts() -> None:
    """GIVEN a lamp WHEN stock is moved twice by the same amount THEN each commit sent its
    own token, at most 36 characters long (DynamoDB's limit)."""
    primary = Primary()
    lamp = handle(LAMP, primary.deps)
    handle(AdjustStock(lamp.id, 1), primary.deps)
    handle(AdjustStock(lamp.id, 1), primary.deps)

    tokens = [token for token, _ in primary.table.sent]
    assert len(set(tokens)) == 3
    assert all(token is not None and 1 <= len(token) <= 36 for token in tokens)


def test_a_token_the_table_saw_with_other_items_is_refused_and_not_retried() -> None:
    """GIVEN a table that says a commit's token came before with other items
    WHEN the commit is sent THEN TokenReused (an internal failure, logged by the resolver,
    never PrimaryUnavailable), the guard sent it once, and nothing is written."""
    primary = Primary()
    lamp = handle(LAMP, primary.deps)
    sent: list[str] = []

    def mismatch(*, TransactItems: Any, ClientRequestToken: str) -> dict[str, Any]:
        sent.append(ClientRequestToken)
        raise _error("IdempotentParameterMismatchException")

    primary.table.transact_write_items = mismatch  # type: ignore[method-assign]
    with pytest.raises(TokenReused):
        handle(AdjustStock(lamp.id, 1), primary.deps)

    assert len(sent) == 1
    assert primary.fake.load("PRODUCT", lamp.id)["version"] == 1  # type: ignore[index]
