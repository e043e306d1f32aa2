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
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodbstreams.models import ShardIterator

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
MAX_TRANSACTION_ITEMS = 100
USED_ITERATOR_LIFETIME_S = 60.0
_PRUNE_EVERY_S = 5.0


def serialized(app: Wsgi) -> Wsgi:
    """The WSGI app, answering one request at a time."""
    lock = threading.Lock()

    def one_at_a_time(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with lock:
            return list(app(environ, start_response))

    return one_at_a_time


def install_transactions() -> None:
    """Replace moto's TransactWriteItems with check-then-write (idempotent to call)."""
    DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]


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
