"""Replaying the journal into moto at start-up, before anything else runs.

Each request goes to moto's DynamoDB app as it was sent (no server, no lock: nothing
else runs yet), so tables, items and stream records come back as they were, stream
sequence numbers included. Two shortcuts keep it fast, and change nothing a replay
would otherwise produce:

* a table with no stream (projections, dead letters, positions) only has to end up as
  it was: moto accepted each journaled ``PutItem`` and ``DeleteItem``, so their effect
  is known (the item, or its absence). Those are kept aside, the last one per item,
  and written straight into the table once something else reads that table, or at
  the end. Two thirds of a journal are projection writes, and most are overwritten;
* a snapshot's :class:`~emulator.cloud.journal.Items` are put straight into their table.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from emulator.cloud import moto_fixes
from emulator.cloud.journal import Entry, Items, Request, replay_environ

logger = logging.getLogger("gateway.replay")

Wsgi = Callable[..., Iterable[bytes]]
TableId = tuple[str, str]  # region, table
_SINGLE_TABLE = frozenset(
    {"PutItem", "UpdateItem", "DeleteItem", "CreateTable", "UpdateTable", "DeleteTable"}
    | {"UpdateTimeToLive"}
)


def replay(moto: Any, entries: Iterable[Entry], account_id: str) -> int:
    """Apply ``entries`` to ``moto`` (its WSGI app) in order; how many changed items."""
    state = _Replay(moto, account_id)
    changes = 0
    for line, entry in enumerate(entries, start=1):
        state.apply(line, entry)
        changes += isinstance(entry, Request) and entry.changes_items
    state.flush_all()
    return changes


class _Replay:
    def __init__(self, moto: Any, account_id: str) -> None:
        self._moto = moto
        self._dynamodb: Wsgi | None = None
        self._account_id = account_id
        # Per table with no stream: the last write of each item, by its key; None: deleted.
        self._pending: dict[TableId, dict[str, tuple[dict[str, Any], dict[str, Any] | None]]] = {}

    def apply(self, line: int, entry: Entry) -> None:
        if isinstance(entry, Items):
            self._flush({(entry.region, entry.table)})
            moto_fixes.load_items(self._account_id, entry.region, entry.table, entry.items)
            return
        if self._keep_aside(entry):
            return
        touched = _tables(entry)
        if touched is None:
            self.flush_all()
        else:
            self._flush(touched)
        self._send(line, entry)

    def flush_all(self) -> None:
        self._flush(set(self._pending))

    def _keep_aside(self, entry: Request) -> bool:
        if entry.action not in ("PutItem", "DeleteItem"):
            return False
        table = str(entry.body.get("TableName", ""))
        key_names = moto_fixes.streamless_key(self._account_id, entry.region, table)
        if key_names is None:
            return False
        item = entry.body.get("Item") if entry.action == "PutItem" else None
        key = {name: (item or entry.body["Key"])[name] for name in key_names}
        pending = self._pending.setdefault((entry.region, table), {})
        pending[json.dumps(key, sort_keys=True)] = (key, item)
        return True

    def _flush(self, tables: set[TableId]) -> None:
        for region, table in tables:
            pending = self._pending.pop((region, table), None)
            if not pending:
                continue
            items = [item for _, item in pending.values() if item is not None]
            deleted = [key for key, item in pending.values() if item is None]
            moto_fixes.load_items(self._account_id, region, table, items)
            moto_fixes.delete_items(self._account_id, region, table, deleted)

    def _send(self, line: int, entry: Request) -> None:
        environ = replay_environ(entry)
        # Every entry is DynamoDB's: find its app once, not per entry.
        self._dynamodb = self._dynamodb or self._moto.get_application(environ)
        status, answer = _call(self._dynamodb, environ)
        if not status.startswith("2"):
            # moto is deterministic, so this is not expected; the entry was accepted
            # when it was journaled, and the rest of the journal is still worth having.
            logger.warning(
                "journal line %d: %s in %s was accepted once but not on replay (%s: %s)",
                line,
                entry.action,
                entry.region,
                status,
                answer[:200].decode(errors="replace"),
            )


def _tables(entry: Request) -> set[TableId] | None:
    """The tables a request reads or writes; None when that cannot be told (PartiQL)."""
    body = entry.body
    if entry.action in _SINGLE_TABLE:
        return {(entry.region, str(body.get("TableName", "")))}
    if entry.action == "BatchWriteItem":
        return {(entry.region, str(name)) for name in body.get("RequestItems", {})}
    if entry.action == "TransactWriteItems":
        return {
            (entry.region, str(operation.get("TableName", "")))
            for item in body.get("TransactItems", [])
            for operation in item.values()
        }
    return None


def _call(app: Wsgi, environ: dict[str, Any]) -> tuple[str, bytes]:
    statuses: list[str] = []
    answer = app(environ, lambda status, headers, exc_info=None: statuses.append(status))
    try:
        body = b"".join(answer)
    finally:
        close = getattr(answer, "close", None)
        if close is not None:
            close()
    return statuses[-1], body
