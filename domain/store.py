"""The write store: the primary region's write table, through boto3.

Every command ends in one ``TransactWriteItems``: the aggregate's state, conditional
on the version the command read, its event items, and any uniqueness claims.
:class:`PrimaryWriteStore` sends each call to the region the control record names
primary now (:mod:`domain.control`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from domain import events, records
from domain.control import ControlRecord
from domain.errors import PrimaryUnavailable, VersionConflict
from domain.events import Event

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class Change(NamedTuple):
    """Everything one command writes, committed all together or not at all."""

    kind: str
    aggregate_id: str
    state: dict[str, Any]
    expected_version: int
    events: list[Event]
    claims: Sequence[dict[str, str]] = ()


class ClaimTaken(Exception):
    """A uniqueness claim in the change is held by another aggregate."""

    def __init__(self, claim: dict[str, str]) -> None:
        super().__init__(claim[records.PARTITION_KEY])
        self.claim = claim


class WriteStore(Protocol):
    def load(self, kind: str, aggregate_id: str) -> dict[str, Any] | None:
        """The aggregate's state, read consistently, or None."""

    def load_many(self, kind: str, aggregate_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The states of several aggregates, read consistently, by id (missing ones left out)."""

    def commit(self, *changes: Change) -> None:
        """Write every change atomically, or raise VersionConflict / ClaimTaken."""


class DynamoWriteStore:
    """The write table in the primary region.

    Parameters
    ----------
    client
        A DynamoDB client for the PRIMARY region, whatever region this code runs in.
    table
        The write table's name.
    """

    def __init__(self, client: Any, table: str = records.WRITE_TABLE) -> None:
        self.client = client
        self._table = table

    def load(self, kind: str, aggregate_id: str) -> dict[str, Any] | None:
        try:
            answer = self.client.get_item(
                TableName=self._table,
                Key=_encode(records.state_key(kind, aggregate_id)),
                ConsistentRead=True,
            )
        except (BotoCoreError, ClientError) as error:
            raise _unavailable(error) from error
        item = answer.get("Item")
        return None if item is None else _decode(item)

    def load_many(self, kind: str, aggregate_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The states of several aggregates, read consistently in one request, by id."""
        keys = [_encode(records.state_key(kind, aggregate_id)) for aggregate_id in aggregate_ids]
        found: dict[str, dict[str, Any]] = {}
        request = {self._table: {"Keys": keys, "ConsistentRead": True}}
        try:
            while request:
                answer = self.client.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self._table, []):
                    state = _decode(item)
                    found[state["id"]] = state
                request = answer.get("UnprocessedKeys") or {}
        except (BotoCoreError, ClientError) as error:
            raise _unavailable(error) from error
        return found

    def commit(self, *changes: Change) -> None:
        operations: list[dict[str, Any]] = []
        # What each operation's failed condition would mean, by position.
        meaning: list[tuple[Change, dict[str, str] | None]] = []
        for change in changes:
            state = {
                **records.state_key(change.kind, change.aggregate_id),
                **change.state,
                records.RECORD_KIND: records.AGGREGATE_RECORD,
            }
            operations.append({"Put": self._state_put(state, change.expected_version)})
            meaning.append((change, None))
            for event in change.events:
                operations.append({"Put": self._new_put(events.to_item(event))})
                meaning.append((change, None))
            for claim in change.claims:
                operations.append({"Put": self._new_put(claim)})
                meaning.append((change, claim))
        try:
            self.client.transact_write_items(TransactItems=operations)
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise _unavailable(error) from error
            reasons = error.response.get("CancellationReasons") or []
            failed = [
                meaning[index]
                for index, reason in enumerate(reasons[: len(meaning)])
                # TransactionConflict: another transaction held the item; DynamoDB
                # says so instead of evaluating the condition. Both are lost races.
                if reason.get("Code") in ("ConditionalCheckFailed", "TransactionConflict")
            ]
            for _, taken in failed:
                if taken is not None:
                    raise ClaimTaken(taken) from error
            if failed or not reasons:
                change = failed[0][0] if failed else changes[0]
                raise VersionConflict(
                    f"{change.kind.title()} {change.aggregate_id} changed since version "
                    f"{change.expected_version} was read; read it again and retry.",
                    {"expectedVersion": change.expected_version},
                    kind=change.kind,
                    aggregate_id=change.aggregate_id,
                ) from error
            raise _unavailable(error) from error
        except BotoCoreError as error:
            raise _unavailable(error) from error

    def _state_put(self, state: dict[str, Any], expected_version: int) -> dict[str, Any]:
        put = {"TableName": self._table, "Item": _encode(state)}
        if expected_version == 0:
            put["ConditionExpression"] = "attribute_not_exists(#pk)"
            put["ExpressionAttributeNames"] = {"#pk": records.PARTITION_KEY}
        else:
            put["ConditionExpression"] = "#version = :expected"
            put["ExpressionAttributeNames"] = {"#version": "version"}
            put["ExpressionAttributeValues"] = _encode({":expected": expected_version})
        return put

    def _new_put(self, item: dict[str, Any]) -> dict[str, Any]:
        return {
            "TableName": self._table,
            "Item": _encode(item),
            "ConditionExpression": "attribute_not_exists(#pk)",
            "ExpressionAttributeNames": {"#pk": records.PARTITION_KEY},
        }


class PrimaryWriteStore:
    """The write table of whichever region the control record names primary now.

    Command handlers keep one store while an operator moves the primary or pauses
    writes: every call asks the (cached) control record where to go, and each
    region's :class:`DynamoWriteStore` is made on first use.

    ``commit`` is refused while writes are paused: it is the one call that writes.
    ``load`` and ``load_many`` are not: queries read through to the primary for
    ``minVersion`` and for owner checks, and reads must keep working while writes are
    paused. A command is refused before it reads anything, by
    :meth:`ControlRecord.writable` in the resolvers' ``command_deps``.

    Parameters
    ----------
    control
        This region's view of the control record.
    clients
        Makes a DynamoDB client for a region; called once per region, on first use.
    table
        The write table's name, the same in every region (it is one global table).
    """

    def __init__(
        self,
        control: ControlRecord,
        clients: Callable[[str], Any],
        table: str = records.WRITE_TABLE,
    ) -> None:
        self._control = control
        self._clients = clients
        self._table = table
        self._stores: dict[str, DynamoWriteStore] = {}

    def in_region(self, region: str) -> DynamoWriteStore:
        """The write table in ``region``; its client is made on first use, then kept."""
        store = self._stores.get(region)
        if store is None:
            store = self._stores[region] = DynamoWriteStore(self._clients(region), self._table)
        return store

    @property
    def client(self) -> Any:
        """The current primary's client, for callers that watch the requests it sends."""
        return self._primary().client

    def load(self, kind: str, aggregate_id: str) -> dict[str, Any] | None:
        return self._primary().load(kind, aggregate_id)

    def load_many(self, kind: str, aggregate_ids: list[str]) -> dict[str, dict[str, Any]]:
        return self._primary().load_many(kind, aggregate_ids)

    def commit(self, *changes: Change) -> None:
        """Write to the current primary; PrimaryUnavailable, with nothing written, while
        writes are paused."""
        control = self._control.writable()
        self.in_region(control.primary_region).commit(*changes)

    def _primary(self) -> DynamoWriteStore:
        return self.in_region(self._control.current().primary_region)


def _encode(values: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in values.items()}


def _decode(item: dict[str, Any]) -> dict[str, Any]:
    return records.plain({key: _deserializer.deserialize(value) for key, value in item.items()})


def _unavailable(error: Exception) -> PrimaryUnavailable:
    # The caller sees only that the primary cannot take writes; botocore's wording
    # stays in the logs.
    return PrimaryUnavailable(
        "The primary region cannot take writes right now; reads still work. Retry later."
    )
