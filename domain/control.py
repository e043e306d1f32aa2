"""The control record: which region is primary, and whether writes are taken.

An operator changes the primary region, or pauses writes, by writing one item in the
write table (layout in :mod:`domain.records`), with no redeploy. The write table is a
global table, so every region holds a replica of the item. A region reads its OWN copy,
so a region cut off from the primary still learns what the operator decided, and also
the copies of its peers: the copy with the highest epoch wins. A forced failover writes
only to the regions it can reach, so a lost primary that comes back still holds its old
copy, naming itself ACTIVE; its peers' copies tell it otherwise before replication does,
and it sends its writes to the new primary instead of taking them itself (split brain).
Reads are eventually consistent and cached for a few seconds, so a change takes effect
everywhere within replication lag plus the cache's lifetime.

This module is on the resolver Lambda's cold-start path: stdlib and botocore only.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

from botocore.exceptions import BotoCoreError, ClientError

from domain import records
from domain.errors import PrimaryUnavailable

logger = logging.getLogger("gateway.control")
# botocore's own rule for a region name (a DNS label): anything else could not even
# make a client, so it is refused here rather than failing every write later.
_REGION_NAME = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9\-]{0,61}[a-zA-Z0-9])?")
# A peer whose copy could not be read is not asked again for this long: a peer that
# hangs would otherwise cost every refresh a timeout.
PEER_RETRY_S = 5.0


class Control(NamedTuple):
    """Where writes go, whether they are taken, and the epoch that says so.

    ``epoch`` grows with each failover (a later issue fences writes on it); until then
    it is carried, not checked.
    """

    primary_region: str
    mode: str
    epoch: int

    @property
    def writable(self) -> bool:
        return self.mode == records.MODE_ACTIVE


class MalformedControl(ValueError):
    """The control item exists but cannot be trusted; it names what is wrong."""


class ControlRecord:
    """This region's view of the control record, re-read at most once per ``ttl_s``.

    Parameters
    ----------
    client
        A DynamoDB client for THIS region's replica of the write table.
    table
        The write table's name.
    default
        What holds while the item does not exist: the deployment's primary, ACTIVE,
        epoch 0.
    ttl_s
        How long an answer is reused; 0 reads on every call.
    clock
        Monotonic seconds; tests pass their own, so no test sleeps.
    peers
        A client for each other region of the deployment, by region name. Their copies
        are read together with this region's own, in parallel; the highest epoch wins
        (this region's own copy on a tie).
    """

    def __init__(
        self,
        client: Any,
        table: str,
        default: Control,
        ttl_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        peers: Mapping[str, Any] | None = None,
    ) -> None:
        self._table = table
        self._ttl_s = ttl_s
        self._clock = clock
        self._own = _Copy("this region", client, default)
        self._peers = [_Copy(region, peer, None) for region, peer in (peers or {}).items()]
        self._pool = ThreadPoolExecutor(len(self._peers)) if self._peers else None
        self._last = default
        self._expires_at: float | None = None

    def current(self) -> Control:
        """The control as last read, re-read once the cached answer has expired.

        A failed or malformed read keeps that copy's last known control (for this
        region's own, the default before any read succeeded) until the next expiry: a
        region that cannot read its own replica keeps serving as it was told last,
        rather than failing every request.
        """
        now = self._clock()
        if self._expires_at is not None and now < self._expires_at:
            return self._last
        due = [peer for peer in self._peers if now >= peer.retry_at]
        pool = self._pool
        asked = [pool.submit(self._refresh, peer, PEER_RETRY_S) for peer in due] if pool else []
        self._refresh(self._own, 0.0)
        for answer in asked:
            answer.result()
        known = [copy.last for copy in (self._own, *self._peers) if copy.last is not None]
        # The highest epoch is the latest decision; this region's own copy wins a tie.
        self._last = max(known, key=lambda control: control.epoch, default=self._last)
        # Reused for the TTL from when the answer came: a read slower than the TTL (a
        # replica that hangs until the client's timeout) is not repeated by every call.
        self._expires_at = self._clock() + self._ttl_s
        return self._last

    def invalidate(self) -> None:
        """Forget the cached answer: the next call reads the item again."""
        self._expires_at = None
        for peer in self._peers:
            peer.retry_at = 0.0

    def writable(self) -> Control:
        """The current control, when it takes writes.

        Raises
        ------
        PrimaryUnavailable
            The operator has paused writes (mode READ_ONLY).
        """
        control = self.current()
        if not control.writable:
            raise PrimaryUnavailable(
                "Writes are paused by the operator; reads still work. Retry later.",
                {"mode": control.mode, "primary": control.primary_region},
            )
        return control

    def _refresh(self, copy: _Copy, retry_after_failure_s: float) -> None:
        try:
            copy.last = self._read(copy.client) or self._own_default(copy)
        except (BotoCoreError, ClientError):
            copy.retry_at = self._clock() + retry_after_failure_s
            logger.warning(
                "control record unreadable in table %s (%s); keeping %s",
                self._table,
                copy.name,
                copy.last,
                exc_info=True,
            )
        except MalformedControl as error:
            logger.error(
                "control record in table %s (%s) ignored (%s); keeping %s",
                self._table,
                copy.name,
                error,
                copy.last,
            )

    def _own_default(self, copy: _Copy) -> Control | None:
        # A peer without the item says nothing; this region's own falls back to the default.
        return self._own.default if copy is self._own else None

    def _read(self, client: Any) -> Control | None:
        answer = client.get_item(
            TableName=self._table,
            Key={name: {"S": value} for name, value in records.control_key().items()},
        )
        item = answer.get("Item")
        return None if item is None else parse(item)


class _Copy:
    """One region's copy of the control record, as last read."""

    def __init__(self, name: str, client: Any, default: Control | None) -> None:
        self.name = name
        self.client = client
        self.default = default
        self.last: Control | None = default
        self.retry_at = 0.0


def parse(item: dict[str, Any]) -> Control:
    """The control an item in DynamoDB's wire format says.

    Raises
    ------
    MalformedControl
        An attribute is missing or holds a value the runtime cannot act on.
    """
    region = item.get(records.CONTROL_PRIMARY_REGION, {}).get("S")
    if not isinstance(region, str) or not _REGION_NAME.fullmatch(region):
        raise MalformedControl(f"{records.CONTROL_PRIMARY_REGION} must name a region")
    mode = item.get(records.CONTROL_MODE, {}).get("S")
    if mode not in records.CONTROL_MODES:
        raise MalformedControl(
            f"{records.CONTROL_MODE} must be one of {', '.join(records.CONTROL_MODES)}"
        )
    epoch = item.get(records.CONTROL_EPOCH, {}).get("N")
    if not isinstance(epoch, str) or not (epoch.isascii() and epoch.isdigit()):
        raise MalformedControl(f"{records.CONTROL_EPOCH} must be a whole number, 0 or more")
    return Control(region, mode, int(epoch))
