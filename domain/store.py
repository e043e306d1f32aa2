"""The write store: the primary region's write table, through boto3.

Every command ends in one ``TransactWriteItems``: the aggregate's state, conditional
on the version the command read, its event items, and any uniqueness claims.
:class:`domain.primary_store.PrimaryWriteStore` sends each call to the region the
control record names primary now (:mod:`domain.control`).

Each transaction carries a ``ClientRequestToken`` made from its own items, so the write
guard's retry of a commit whose reply was lost is the same request, which DynamoDB
answers as written (for 10 minutes) instead of applying it again; a later commit, or
the same command's next attempt, has other items (a version, a time, an id) and so a
token of its own.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from domain import events, records
from domain.control import Control
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
    claims: Sequence[dict[str, Any]] = ()


class StaleControl(Exception):
    """The control record no longer says what the write was issued under."""

    def __init__(self, fence: Control) -> None:
        super().__init__(f"issued under epoch {fence.epoch} in {fence.primary_region}")
        self.fence = fence


class ClaimTaken(Exception):
    """A uniqueness claim in the change is held by another aggregate."""

    def __init__(self, claim: dict[str, Any]) -> None:
        super().__init__(claim[records.PARTITION_KEY])
        self.claim = claim


class TokenReused(Exception):
    """DynamoDB saw this transaction's request token with other items; nothing was written.

    Tokens are digests of the items, so this is a fault of ours: the resolver logs it
    and answers InternalFailure. It is not PrimaryUnavailable, which the guard would
    send again, to the same refusal.
    """


class WriteStore(Protocol):
    def load(self, kind: str, aggregate_id: str) -> dict[str, Any] | None:
        """The aggregate's state, read consistently, or None."""

    def load_many(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """The states of several aggregates, of any kinds, read consistently, by
        ``(kind, id)`` (missing ones left out)."""

    def load_event(self, kind: str, aggregate_id: str, version: int) -> dict[str, Any] | None:
        """The event item that took the aggregate to ``version``, read consistently, or None."""

    def commit(self, *changes: Change) -> None:
        """Write every change atomically, or raise VersionConflict / ClaimTaken."""

    def primary_unreachable(self) -> bool:
        """True while writes are refused at once because the primary cannot be reached."""


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

    def load_event(self, kind: str, aggregate_id: str, version: int) -> dict[str, Any] | None:
        """The event item at ``version``: the aggregate as that event left it."""
        try:
            answer = self.client.get_item(
                TableName=self._table,
                Key=_encode(records.event_key(kind, aggregate_id, version)),
                ConsistentRead=True,
            )
        except (BotoCoreError, ClientError) as error:
            raise _unavailable(error) from error
        item = answer.get("Item")
        return None if item is None else _decode(item)

    def load_many(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """The states of several aggregates, of any kinds, read consistently in one
        request (BatchGetItem takes up to 100 keys; an order reads at most 49)."""
        wanted = {
            records.aggregate_pk(kind, aggregate_id): (kind, aggregate_id)
            for kind, aggregate_id in keys
        }
        batch = [
            _encode(records.state_key(kind, aggregate_id)) for kind, aggregate_id in wanted.values()
        ]
        found: dict[tuple[str, str], dict[str, Any]] = {}
        request = {self._table: {"Keys": batch, "ConsistentRead": True}}
        try:
            while request:
                answer = self.client.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self._table, []):
                    state = _decode(item)
                    found[wanted[state[records.PARTITION_KEY]]] = state
                request = answer.get("UnprocessedKeys") or {}
        except (BotoCoreError, ClientError) as error:
            raise _unavailable(error) from error
        return found

    def commit(self, *changes: Change, fence: Control | None = None) -> None:
        """Write every change in one transaction.

        With ``fence``, the transaction also checks that the control record still says
        what ``fence`` says (this region primary, ACTIVE, at that epoch), so a write
        issued before a failover or a pause can never land after it.

        Raises
        ------
        StaleControl
            The control record moved on; nothing was written.
        TokenReused
            DynamoDB saw the request token with other items; nothing was written.
        """
        operations: list[dict[str, Any]] = []
        # What each operation's failed condition would mean, by position.
        meaning: list[tuple[Change, dict[str, Any] | None]] = []
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
        if fence is not None:
            operations.append({"ConditionCheck": self._fence_check(fence)})
        try:
            self.client.transact_write_items(
                TransactItems=operations, ClientRequestToken=request_token(operations)
            )
        except ClientError as error:
            code = error.response["Error"]["Code"]
            if code == "IdempotentParameterMismatchException":
                raise TokenReused(str(error)) from error
            if code != "TransactionCanceledException":
                raise _unavailable(error) from error
            reasons = error.response.get("CancellationReasons") or []
            if (
                fence is not None
                and len(reasons) == len(operations)
                and reasons[-1].get("Code") == "ConditionalCheckFailed"
            ):
                raise StaleControl(fence) from error
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

    def primary_unreachable(self) -> bool:
        """Always False: a store bound to one region has no breaker of its own."""
        return False

    def _fence_check(self, fence: Control) -> dict[str, Any]:
        # No control item means the deployment's default, which is epoch 0.
        return {
            "TableName": self._table,
            "Key": _encode(records.control_key()),
            "ConditionExpression": "attribute_not_exists(#pk) OR "
            "(#epoch = :epoch AND #primary = :primary AND #mode = :active)",
            "ExpressionAttributeNames": {
                "#pk": records.PARTITION_KEY,
                "#epoch": records.CONTROL_EPOCH,
                "#primary": records.CONTROL_PRIMARY_REGION,
                "#mode": records.CONTROL_MODE,
            },
            "ExpressionAttributeValues": _encode(
                {
                    ":epoch": fence.epoch,
                    ":primary": fence.primary_region,
                    ":active": records.MODE_ACTIVE,
                }
            ),
        }

    def _new_put(self, item: dict[str, Any]) -> dict[str, Any]:
        return {
            "TableName": self._table,
            "Item": _encode(item),
            "ConditionExpression": "attribute_not_exists(#pk)",
            "ExpressionAttributeNames": {"#pk": records.PARTITION_KEY},
        }


def request_token(operations: list[dict[str, Any]]) -> str:
    """The transaction's ClientRequestToken: a digest of its items, so a resend of the
    same commit carries the same token and any other commit another (DynamoDB takes up
    to 36 characters; 32 hex digits are 128 bits)."""
    body = json.dumps(operations, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode()).hexdigest()[:32]


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
