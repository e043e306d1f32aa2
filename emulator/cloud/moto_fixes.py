"""Three fixes to moto that a multi-region emulator under concurrent load needs.

* moto's server is not thread-safe: concurrent requests mutate the same dicts, and a
  request fails with "dictionary changed size during iteration". :func:`serialized`
  wraps its WSGI app so that requests run one at a time, as moto's in-process mode does.
* moto's ``TransactWriteItems`` deep-copies every table it touches to be able to roll
  back, so each transaction costs time in proportion to the table (about 1 ms per 1,000
  items here). :func:`install_transactions` checks every condition first and writes only
  when all hold, which needs no rollback and keeps DynamoDB's all-or-nothing semantics.
* moto keeps every shard iterator it ever issued, and ``GetRecords`` issues one per
  call: about 1.9 KB per poll, so an idle ``gateway dev`` (four stream readers per two
  regions, fifty polls a second each) grew by 1.6 GB an hour.
  :func:`install_iterator_expiry` forgets an iterator a minute after it was used. A
  reader asks again with a used iterator only when an answer was lost, within seconds;
  an iterator never used (a reader's next, held through an outage) is kept.

The first two are measured in docs/decisions.md. None changes what a client sees.

* moto ignores ``TransactWriteItems``' ``ClientRequestToken``, so a resent transaction
  is applied again. :func:`install_client_request_tokens` honours it as DynamoDB
  documents: for 10 minutes after a transaction that wrote, the same token with the
  same request is answered as written and writes nothing, and with another request is
  ``IdempotentParameterMismatchException``. Such a repeat changed nothing, so it marks
  its request (:data:`emulator.cloud.journal.UNCHANGED`) and is never journaled.

For durable local state (:mod:`emulator.cloud.journal`), three more:

* :func:`install_write_marks`: a write that carries :data:`REPLICATED_WRITE_HEADER`
  (replication's own, :mod:`emulator.cloud.replication`) shows on its stream record as made by
  replication (``userIdentity``, as DynamoDB shows its TTL deletions), so replication
  never copies it back, even after a restart, when replaying the journal marks it again.
* :func:`install_module_list_cache`: moto lists its package folder on every request to
  tell a service's host; the list is kept.
* :func:`install_dispatch_cache`: moto lists a handler's methods with ``inspect`` on
  every request; they never change, so the list is kept. A small ``PutItem`` sent
  straight to moto's app (as a replay does) took 0.64 ms instead of 0.79 ms.
* :func:`table_items`, :func:`load_items`, :func:`forget_stream_records` and
  :func:`clear_table` let compaction write every table as a snapshot and start the
  streams afresh, as a replay of that snapshot will; :func:`streamless_key` and
  :func:`delete_items` let a replay write a table with no stream as it ends up.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import moto.backends
import moto.core.responses
from moto.core.responses import ActionResult
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ERROR_TYPE_PREFIX,
    ConditionalCheckFailed,
    DynamodbException,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
from moto.dynamodb.models.table import StreamShard
from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.models import ShardIterator

from emulator.cloud.journal import UNCHANGED
from emulator.cloud.replication import REPLICATED_WRITE_HEADER, REPLICATION_PRINCIPAL

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
MAX_TRANSACTION_ITEMS = 100
USED_ITERATOR_LIFETIME_S = 60.0
_PRUNE_EVERY_S = 5.0
# DynamoDB keeps a ClientRequestToken for 10 minutes after the transaction that used it,
# and takes tokens of 1 to 36 characters.
TOKEN_WINDOW_S = 600.0
MAX_TOKEN_CHARS = 36


def serialized(app: Wsgi, lock: threading.Lock | None = None) -> Wsgi:
    """The WSGI app, answering one request at a time (holding ``lock``, if given)."""
    lock = lock or threading.Lock()

    def one_at_a_time(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with lock:
            return list(app(environ, start_response))

    return one_at_a_time


def install_transactions() -> None:
    """Replace moto's TransactWriteItems with check-then-write (idempotent to call)."""
    DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]


class IdempotentParameterMismatch(DynamodbException):
    """DynamoDB's answer to a token it saw, within its window, with another request."""

    error_type = ERROR_TYPE_PREFIX + "IdempotentParameterMismatchException"

    def __init__(self) -> None:
        super().__init__(
            self.error_type,
            message="The ClientRequestToken was used in a different request within the last "
            "10 minutes.",
        )


def _token_clock() -> float:
    return time.monotonic()


def install_client_request_tokens() -> None:
    """Honour TransactWriteItems' ClientRequestToken, as DynamoDB does (idempotent to call).

    Tokens are kept per region (moto's backend), from the end of the transaction that
    used them; a transaction that was refused leaves its token unused.
    """
    if getattr(DynamoHandler.transact_write_items, "honours_tokens", False):
        return
    transact = DynamoHandler.transact_write_items
    lock = threading.Lock()

    def transact_once(self: DynamoHandler) -> Any:
        token = self.body.get("ClientRequestToken")
        if token is None:
            return transact(self)
        if not isinstance(token, str) or not 1 <= len(token) <= MAX_TOKEN_CHARS:
            raise MockValidationException(
                "1 validation error detected: Value at 'clientRequestToken' failed to "
                f"satisfy constraint: Member must have length between 1 and {MAX_TOKEN_CHARS}"
            )
        request = json.dumps(
            {name: value for name, value in self.body.items() if name != "ClientRequestToken"},
            sort_keys=True,
        )
        tokens: dict[str, tuple[str, float]] = self.dynamodb_backend.__dict__.setdefault(
            "client_request_tokens", {}
        )
        with lock:
            now = _token_clock()
            for seen_token, (_, used_at) in list(tokens.items()):
                if now - used_at >= TOKEN_WINDOW_S:
                    del tokens[seen_token]
            seen = tokens.get(token)
        if seen is not None:
            if seen[0] != request:
                raise IdempotentParameterMismatch()
            environ = getattr(getattr(self, "normalized_request", None), "environ", None)
            if isinstance(environ, dict):
                environ[UNCHANGED] = True
            return ActionResult({"ConsumedCapacity": [], "ItemCollectionMetrics": {}})
        answer = transact(self)
        with lock:
            tokens[token] = (request, _token_clock())
        return answer

    transact_once.honours_tokens = True  # type: ignore[attr-defined]
    DynamoHandler.transact_write_items = transact_once  # type: ignore[method-assign]


def install_iterator_expiry() -> None:
    """Forget shard iterators a minute after their use (idempotent to call)."""
    if getattr(ShardIterator.get, "expires_iterators", False):
        return
    issue = ShardIterator.get

    def get(self: ShardIterator, limit: int = 1000) -> dict[str, Any]:
        answer: dict[str, Any] = issue(self, limit)
        now = time.monotonic()
        self.used_at = now  # type: ignore[attr-defined]
        backend = self.streams_backend
        if now - getattr(backend, "pruned_at", 0.0) >= _PRUNE_EVERY_S:
            backend.pruned_at = now  # type: ignore[attr-defined]

            def stale(iterator: ShardIterator) -> bool:
                return now - getattr(iterator, "used_at", now) > USED_ITERATOR_LIFETIME_S

            iterators = backend.shard_iterators
            for arn, iterator in list(iterators.items()):
                if stale(iterator):
                    del iterators[arn]
            # moto's models also keep a list of every instance made, for its own API.
            tracked = ShardIterator.instances_tracked  # type: ignore[attr-defined]
            tracked[:] = [iterator for iterator in tracked if not stale(iterator)]
        return answer

    get.expires_iterators = True  # type: ignore[attr-defined]
    ShardIterator.get = get  # type: ignore[method-assign]


_request = threading.local()


def install_write_marks() -> None:
    """Mark the stream records of replication's writes (idempotent to call)."""
    if getattr(DynamoHandler.call_action, "reads_marks", False):
        return
    call_action = DynamoHandler.call_action
    add = StreamShard.add

    def call_action_marked(self: DynamoHandler) -> Any:
        _request.replicated = REPLICATED_WRITE_HEADER in self.headers
        try:
            return call_action(self)
        finally:
            _request.replicated = False

    def add_marked(self: StreamShard, old: Any, new: Any) -> None:
        count = len(self.items)
        add(self, old, new)
        if getattr(_request, "replicated", False) and len(self.items) > count:
            marked = {"Type": "Service", "PrincipalId": REPLICATION_PRINCIPAL}
            self.items[-1].record["userIdentity"] = marked

    call_action_marked.reads_marks = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = call_action_marked  # type: ignore[method-assign]
    StreamShard.add = add_marked  # type: ignore[method-assign]


def install_module_list_cache() -> None:
    """List moto's service folders once, not on every request (idempotent to call).

    moto's app asks ``list_of_moto_modules()`` whether a request's host names a service,
    and that lists moto's package folder (about 170 entries) each time: 40% of the time
    moto's lock was held during a catch-up (py-spy). The folder does not change while
    the process runs.
    """
    if getattr(moto.backends.list_of_moto_modules, "cached", False):
        return
    modules = tuple(moto.backends.list_of_moto_modules())

    def listed() -> tuple[str, ...]:
        return modules

    listed.cached = True  # type: ignore[attr-defined]
    moto.backends.list_of_moto_modules = listed


def install_dispatch_cache() -> None:
    """Keep each moto handler's list of methods instead of listing them per request."""
    names = moto.core.responses.method_names_from_class
    if not hasattr(names, "cache_info"):
        moto.core.responses.method_names_from_class = functools.cache(names)


def table_items(account_id: str) -> Iterator[tuple[str, str, list[dict[str, Any]]]]:
    """``(region, table, items)`` for every table moto holds, items in DynamoDB JSON."""
    for region, backend in list(dynamodb_backends[account_id].items()):
        for name, table in list(backend.tables.items()):
            yield region, name, [item.to_json()["Attributes"] for item in table.all_items()]


def load_items(account_id: str, region: str, table_name: str, items: list[dict[str, Any]]) -> None:
    """Put ``items`` straight into a table, with no stream records: a snapshot's items
    were handled by every stream reader before the snapshot was taken."""
    table = dynamodb_backends[account_id][region].get_table(table_name)
    shard, table.stream_shard = table.stream_shard, None
    try:
        for attributes in items:
            table.put_item(attributes)
    finally:
        table.stream_shard = shard


def delete_items(account_id: str, region: str, table_name: str, keys: list[dict[str, Any]]) -> None:
    """Delete the items with ``keys`` (DynamoDB JSON) from a table, if they are there."""
    backend = dynamodb_backends[account_id][region]
    for key in keys:
        backend.delete_item(table_name, key)


def streamless_key(account_id: str, region: str, table_name: str) -> tuple[str, ...] | None:
    """The key attributes of a table that exists and has no stream, else None."""
    backend = dynamodb_backends[account_id][region]
    table = backend.tables.get(table_name)
    if table is None or table.stream_shard is not None:
        return None
    if table.range_key_attr is None:
        return (table.hash_key_attr,)
    return (table.hash_key_attr, table.range_key_attr)


def forget_stream_records(account_id: str) -> None:
    """Empty every table's stream; its sequence numbers start again from the first."""
    for _, backend in list(dynamodb_backends[account_id].items()):
        for table in list(backend.tables.values()):
            if table.stream_shard is not None:
                table.stream_shard.items = []


def clear_table(account_id: str, region: str, table_name: str) -> None:
    """Delete every item of a table that has no stream (compaction's stream positions)."""
    table = dynamodb_backends[account_id][region].get_table(table_name)
    for item in list(table.all_items()):
        table.delete_item(item.hash_key, item.range_key)


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    if len(transact_items) > MAX_TRANSACTION_ITEMS:
        raise TooManyTransactionsException()
    targets: set[tuple[str, str]] = set()
    outcomes: list[tuple[str | None, str | None, dict[str, Any] | None]] = []
    planned: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    for transact_item in transact_items:
        if len(transact_item) > 1:
            raise TransactWriteSingleOpException
        op_type, op = next(iter(transact_item.items()))
        if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
            raise ValueError("Unsupported transaction operation")
        table_name = op["TableName"]
        if op_type == "Put":
            table = self.get_table(table_name)
            attrs = op["Item"]
            key = {table.hash_key_attr: attrs[table.hash_key_attr]}
            if table.range_key_attr is not None:
                key[table.range_key_attr] = attrs[table.range_key_attr]
        else:
            key = op["Key"]
        target = (str(table_name), str(dict(sorted(key.items()))))
        if target in targets:
            raise MultipleTransactionsException()
        targets.add(target)
        current = self.get_item(table_name, key)
        condition = op.get("ConditionExpression")
        if condition is not None:
            check = get_filter_expression(
                condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            )
            if not check.expr(current):
                wants_old = op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD"
                old = current.to_json()["Attributes"] if wants_old and current else None
                outcomes.append(("ConditionalCheckFailed", ConditionalCheckFailed().message, old))
                continue
        outcomes.append((None, None, None))
        planned.append((op_type, op, key))
    if any(code is not None for code, _, _ in outcomes):
        raise TransactionCanceledException(outcomes)
    # Every condition held against the state before the transaction, and no item is
    # named twice, so the writes below cannot fail on a condition.
    for op_type, op, key in planned:
        table_name = op["TableName"]
        names = op.get("ExpressionAttributeNames")
        values = op.get("ExpressionAttributeValues")
        if op_type == "Put":
            self.put_item(table_name, op["Item"])
        elif op_type == "Delete":
            self.delete_item(table_name, key)
        elif op_type == "Update":
            self.update_item(
                table_name,
                key,
                update_expression=op["UpdateExpression"],
                expression_attribute_names=names or {},
                expression_attribute_values=values or {},
            )
