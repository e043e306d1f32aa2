"""In-memory stand-ins for the two tables, with the conditions DynamoDB enforces.

Fakes over mocks: each fake keeps the semantics of the adapter it replaces
(:class:`domain.store.DynamoWriteStore`, :class:`projections.table.ProjectionTable`),
so a test that passes here fails for the same reasons against moto.

Values go through boto3's own serializer on the way in and out, as they do on the
wire: a value DynamoDB cannot hold (a float, say) fails here too, and nothing that is
read back shares memory with what was written.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from domain import events, records
from domain.errors import PrimaryUnavailable, VersionConflict
from domain.store import Change, ClaimTaken
from projections import keys
from projections.table import ProjectionTable

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

Key = tuple[str, str]


def stored(item: dict[str, Any]) -> dict[str, Any]:
    """The item as DynamoDB would give it back: serialized, deserialized, plain ints."""
    wire = {name: _serializer.serialize(value) for name, value in item.items()}
    return records.plain({name: _deserializer.deserialize(value) for name, value in wire.items()})


def _key(item: dict[str, Any]) -> Key:
    return item[records.PARTITION_KEY], item[records.SORT_KEY]


class FakeWriteStore:
    """The write table in memory; implements :class:`domain.store.WriteStore`.

    ``items`` holds every item by ``(pk, sk)``: states, events and claims.
    ``events`` lists the committed event items in commit order.
    """

    def __init__(self) -> None:
        self.items: dict[Key, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.commits = 0
        # Set by a test to stand for a primary whose breaker is open.
        self.unreachable = False

    def load(self, kind: str, aggregate_id: str) -> dict[str, Any] | None:
        item = self.items.get(_key(records.state_key(kind, aggregate_id)))
        return None if item is None else stored(item)

    def load_many(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        found = {key: self.load(*key) for key in keys}
        return {key: state for key, state in found.items() if state}

    def load_event(self, kind: str, aggregate_id: str, version: int) -> dict[str, Any] | None:
        item = self.items.get(_key(records.event_key(kind, aggregate_id, version)))
        return None if item is None else stored(item)

    def primary_unreachable(self) -> bool:
        return self.unreachable

    def commit(self, *changes: Change) -> None:
        """All or nothing, checked in the order DynamoWriteStore reports failures."""
        written: list[dict[str, Any]] = []
        event_items: list[dict[str, Any]] = []
        for change in changes:
            for claim in change.claims:
                if _key(claim) in self.items:
                    raise ClaimTaken(claim)
        for change in changes:
            state = stored(
                {
                    **records.state_key(change.kind, change.aggregate_id),
                    **change.state,
                    records.RECORD_KIND: records.AGGREGATE_RECORD,
                }
            )
            current = self.items.get(_key(state))
            if change.expected_version == 0:
                state_ok = current is None
            else:
                state_ok = current is not None and current.get("version") == change.expected_version
            if not state_ok:
                raise VersionConflict(
                    f"{change.kind.title()} {change.aggregate_id} changed since version "
                    f"{change.expected_version} was read; read it again and retry.",
                    {"expectedVersion": change.expected_version},
                    kind=change.kind,
                    aggregate_id=change.aggregate_id,
                )
            items = [stored(events.to_item(event)) for event in change.events]
            if any(_key(item) in self.items for item in items):
                # DynamoWriteStore maps a failed event put (state put fine) to this.
                raise PrimaryUnavailable("event item already exists")
            event_items += items
            written += [state, *items, *(stored(claim) for claim in change.claims)]
        for item in written:
            self.items[_key(item)] = item
        self.events.extend(event_items)
        self.commits += 1


class FakeProjectionTable(ProjectionTable):
    """One region's projection table in memory.

    A subclass so that the builders and readers, which take a ProjectionTable, accept
    it, and so that mypy checks each override against the real signature. Every public
    method is overridden; no client is ever called. ``calls`` counts calls per method
    name, so a test can tell that a reader answered in one request.
    """

    def __init__(self) -> None:
        super().__init__(client=None)
        self.items: dict[Key, dict[str, Any]] = {}
        self.calls: Counter[str] = Counter()

    def put_if_newer(self, item: dict[str, Any], version: int) -> bool:
        """``attribute_not_exists(pk) OR version <= :version``, as ProjectionTable."""
        self.calls["put_if_newer"] += 1
        current = self.items.get(_key(item))
        if current is not None and not ("version" in current and current["version"] <= version):
            return False
        self.items[_key(item)] = stored(item)
        return True

    def put(self, item: dict[str, Any]) -> None:
        self.calls["put"] += 1
        self.items[_key(item)] = stored(item)

    def get(self, key: dict[str, str]) -> dict[str, Any] | None:
        self.calls["get"] += 1
        item = self.items.get(_key(key))
        return None if item is None else stored(item)

    def get_many(self, item_keys: list[dict[str, str]]) -> list[dict[str, Any] | None]:
        """One BatchGetItem, as ProjectionTable: the items in the order asked."""
        self.calls["get_many"] += 1
        return [
            None if (item := self.items.get(_key(key))) is None else stored(item)
            for key in item_keys
        ]

    def update_if_older(
        self, key: dict[str, str], values: dict[str, Any], version: int, remove: tuple[str, ...]
    ) -> bool:
        """``attribute_not_exists(version) OR version < :version``, as ProjectionTable."""
        self.calls["update_if_older"] += 1
        current = self.items.get(_key(key))
        if current is not None and "version" in current and current["version"] >= version:
            return False
        item = {**(current or key), **values}
        for name in remove:
            item.pop(name, None)
        self.items[_key(key)] = stored(item)
        return True

    def apply_order(
        self,
        view: dict[str, Any],
        replaces: int | None,
        customer: dict[str, str],
        moves: dict[str, int],
        sets: dict[str, Any],
        revision: int | None,
    ) -> bool:
        """The order view over ``replaces`` and the customer's update, both or neither,
        under the conditions ProjectionTable sends."""
        self.calls["apply_order"] += 1
        current = self.items.get(_key(view))
        if (current is None) != (replaces is None):
            return False
        if current is not None and current.get("version") != replaces:
            return False
        before = self.items.get(_key(customer))
        if sets and (before or {}).get(keys.REVISION) != revision:
            return False
        self.items[_key(view)] = stored(view)
        if not any(moves.values()) and not sets:
            return True
        after = dict(before or customer)
        for name, move in moves.items():
            after[name] = after.get(name, 0) + move
        if sets:
            after.update(sets)
            after[keys.REVISION] = (revision or 0) + 1
        after.pop(keys.OLD_ORDER_HISTORY, None)
        self.items[_key(customer)] = stored(after)
        return True

    def query_index(
        self,
        index: str,
        partition_value: str,
        limit: int,
        start: dict[str, Any] | None,
        newest_first: bool = False,
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """One page of a sparse index, ordered by its sort key, then the table key.

        Like moto, the continuation key is given only when more items follow.
        """
        self.calls["query_index"] += 1
        if limit < 1:
            # botocore refuses this before it is sent.
            raise ValueError("Limit must be at least 1")
        partition, sort = keys.INDEXES[index]
        matches = sorted(
            (
                item
                for item in self.items.values()
                if item.get(partition) == partition_value and sort in item
            ),
            key=lambda item: (item[sort], *_key(item)),
            reverse=newest_first,
        )
        if start:
            after = (start[sort], *_key(start))
            matches = [
                item
                for item in matches
                if (
                    (item[sort], *_key(item)) < after
                    if newest_first
                    else (item[sort], *_key(item)) > after
                )
            ]
        page = matches[:limit]
        if len(matches) <= limit:
            return [stored(item) for item in page], None
        last = page[-1]
        next_start = {
            keys.PARTITION_KEY: last[keys.PARTITION_KEY],
            keys.SORT_KEY: last[keys.SORT_KEY],
            partition: last[partition],
            sort: last[sort],
        }
        return [stored(item) for item in page], next_start


class StepClock:
    """A clock that moves one second on every reading, so each write has its own time."""

    def __init__(self, start: str = "2024-05-01T12:00:00.000Z") -> None:
        self._next = datetime.fromisoformat(start)

    def __call__(self) -> str:
        now = self._next
        self._next = now + timedelta(seconds=1)
        return now.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class SequentialIds:
    """Ids that read well in a failure message: product-1, product-2, ..."""

    def __init__(self, prefix: str = "product") -> None:
        self._prefix = prefix
        self._count = 0

    def __call__(self) -> str:
        self._count += 1
        return f"{self._prefix}-{self._count}"


class FakeControlClient:
    """One region's replica of the control record, seen through a DynamoDB client's
    ``get_item`` (the only call :class:`domain.control.ControlRecord` makes).

    ``item`` is the stored item in DynamoDB's wire format, or None when there is none;
    ``failure``, when set, is raised by every read, as botocore would raise it.
    ``reads`` counts the reads that reached the table.
    """

    def __init__(self, item: dict[str, Any] | None = None) -> None:
        self.item = item
        self.failure: Exception | None = None
        self.reads = 0

    def get_item(self, *, TableName: str, Key: dict[str, Any]) -> dict[str, Any]:
        self.reads += 1
        if self.failure is not None:
            raise self.failure
        expected = {name: {"S": value} for name, value in records.control_key().items()}
        assert Key == expected, Key
        return {} if self.item is None else {"Item": dict(self.item)}


def control_item(
    primary_region: str = "eu-west-1", mode: str = "READ_ONLY", epoch: int = 1
) -> dict[str, Any]:
    """A well-formed control item, in DynamoDB's wire format."""
    return {
        name: _serializer.serialize(value)
        for name, value in {
            **records.control_key(),
            records.RECORD_KIND: records.CONTROL_RECORD,
            records.CONTROL_PRIMARY_REGION: primary_region,
            records.CONTROL_MODE: mode,
            records.CONTROL_EPOCH: epoch,
            records.CONTROL_UPDATED_AT: "2024-05-01T12:00:00.000Z",
        }.items()
    }


class ManualClock:
    """Monotonic seconds that move only when a test moves them."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeSecretsManager:
    """One region's Secrets Manager, seen through ``get_secret_value`` (the only call
    :class:`resolvers.secret_values.CachedSecret` makes), with its version stages.

    :meth:`rotate` does what ``put-secret-value`` does: the new value becomes
    AWSCURRENT and the old one AWSPREVIOUS. ``failure``, when set, is raised by every
    read, as botocore would raise it; ``reads`` counts the reads that arrived.
    """

    def __init__(self, secret_id: str, value: str | None = None) -> None:
        self.secret_id = secret_id
        self.stages: dict[str, str] = {} if value is None else {"AWSCURRENT": value}
        self.failure: Exception | None = None
        self.reads = 0

    def rotate(self, value: str) -> None:
        if "AWSCURRENT" in self.stages:
            self.stages["AWSPREVIOUS"] = self.stages["AWSCURRENT"]
        self.stages["AWSCURRENT"] = value

    def get_secret_value(self, *, SecretId: str, VersionStage: str) -> dict[str, Any]:
        self.reads += 1
        if self.failure is not None:
            raise self.failure
        if SecretId != self.secret_id or VersionStage not in self.stages:
            raise client_error("ResourceNotFoundException", "Secrets Manager can't find it.")
        return {"Name": SecretId, "SecretString": self.stages[VersionStage]}


def client_error(code: str, message: str = "") -> Exception:
    """The ClientError botocore raises for an AWS error ``code``."""
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": message}}, "GetSecretValue")


PUBLIC_TOKEN = "PublicClientToken0000000000000000000000001"
WRONG_TOKEN = "WrongClientToken00000000000000000000000001"


class FakeAuthorizerFunction:
    """The authorizer Lambda as AppSync calls it: lets ``token`` in, records each event.

    ``answer`` adds to an authorizing response (``deniedFields``, ``ttlOverride``...).
    """

    def __init__(self, token: str = PUBLIC_TOKEN, **answer: Any) -> None:
        self.token = token
        self.answer = answer
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        self.events.append(event)
        if event["authorizationToken"] != self.token:
            return {"isAuthorized": False}
        return {"isAuthorized": True, "resolverContext": {"access": "public"}, **self.answer}


def lambda_authorizer(
    function: Any = None, clock: Any = None, api_id: str = "gatewaylocalapi"
) -> Any:
    """The AWS_LAMBDA mode of an API as infra configures it, calling ``function``."""
    import time

    from emulator.appsync.lambda_auth import LambdaAuthorizer
    from emulator.cloud.server import LOCAL_ACCOUNT_ID
    from infra.config import CLIENT_TOKEN_CACHE_S, CLIENT_TOKEN_PATTERN

    return LambdaAuthorizer(
        function or FakeAuthorizerFunction(),
        api_id=api_id,
        account_id=LOCAL_ACCOUNT_ID,
        pattern=CLIENT_TOKEN_PATTERN,
        ttl_s=CLIENT_TOKEN_CACHE_S,
        clock=clock or time.monotonic,
    )
