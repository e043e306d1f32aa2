"""The write store of whichever region is primary now, behind that region's write guard.

:class:`PrimaryWriteStore` asks the (cached) control record where the primary is on
every call, and sends the call to that region's :class:`~domain.store.DynamoWriteStore`
through its :class:`~domain.breaker.Guard`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from domain import records
from domain.breaker import Guard
from domain.control import ControlRecord
from domain.errors import PrimaryUnavailable
from domain.store import Change, DynamoWriteStore, StaleControl


class PrimaryWriteStore:
    """The write table of whichever region the control record names primary now.

    Command handlers keep one store while an operator moves the primary or pauses
    writes: every call asks the (cached) control record where to go, and each
    region's :class:`DynamoWriteStore` is made on first use.

    Every call goes through that region's :class:`~domain.breaker.Guard`: retried
    within a deadline, and refused at once while its breaker is open, so a write to a
    lost primary fails within 2 s and never hangs.

    ``commit`` is refused while writes are paused: it is the one call that writes. It
    carries the epoch it was issued under (a condition on the control item in the same
    transaction), so a write from a fenced or stale primary is refused. ``load`` and
    ``load_many`` are not refused for the mode: queries read through to the primary
    for ``minVersion`` and for owner checks, and reads must keep working while writes
    are paused. A command is refused before it reads anything, by
    :meth:`ControlRecord.writable` in the resolvers' ``command_deps``.

    Parameters
    ----------
    control
        This region's view of the control record.
    clients
        Makes a DynamoDB client for a region; called once per region, on first use.
    table
        The write table's name, the same in every region (it is one global table).
    guards
        Makes the guard of one region; tests pass guards that do not wait.
    """

    def __init__(
        self,
        control: ControlRecord,
        clients: Callable[[str], Any],
        table: str = records.WRITE_TABLE,
        guards: Callable[[], Guard] = Guard,
    ) -> None:
        self._control = control
        self._clients = clients
        self._table = table
        self._guards = guards
        self._stores: dict[str, tuple[DynamoWriteStore, Guard]] = {}

    def in_region(self, region: str) -> DynamoWriteStore:
        """The write table in ``region``; its client is made on first use, then kept."""
        return self._in_region(region)[0]

    def primary_unreachable(self) -> bool:
        """True while the current primary's breaker refuses calls (region mode READ_ONLY)."""
        return self._in_region(self._control.current().primary_region)[1].breaker.is_open

    @property
    def client(self) -> Any:
        """The current primary's client, for callers that watch the requests it sends."""
        return self.in_region(self._control.current().primary_region).client

    def load(self, kind: str, aggregate_id: str) -> dict[str, Any] | None:
        store, guard = self._in_region(self._control.current().primary_region)
        return guard.call(lambda: store.load(kind, aggregate_id))

    def load_many(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        store, guard = self._in_region(self._control.current().primary_region)
        return guard.call(lambda: store.load_many(keys))

    def load_event(self, kind: str, aggregate_id: str, version: int) -> dict[str, Any] | None:
        store, guard = self._in_region(self._control.current().primary_region)
        return guard.call(lambda: store.load_event(kind, aggregate_id, version))

    def commit(self, *changes: Change) -> None:
        """Write to the current primary, fenced by the epoch this region knows.

        When the fence finds the control moved on (a failover while this region's cache
        was still fresh), the control is read again and the write tried once more
        under it; nothing was written the first time.

        Raises
        ------
        PrimaryUnavailable
            Writes are paused, the primary cannot be reached, or the control moved on
            twice in a row.
        """
        for _ in range(2):
            control = self._control.writable()
            store, guard = self._in_region(control.primary_region)
            try:
                guard.call(lambda: store.commit(*changes, fence=control))  # noqa: B023
                return
            except StaleControl:
                self._control.invalidate()
        raise PrimaryUnavailable(
            "The primary region changed while this write was in flight; it was not applied. Retry.",
            {"epoch": control.epoch},
        )

    def _in_region(self, region: str) -> tuple[DynamoWriteStore, Guard]:
        entry = self._stores.get(region)
        if entry is None:
            store = DynamoWriteStore(self._clients(region), self._table)
            entry = self._stores[region] = (store, self._guards())
        return entry
