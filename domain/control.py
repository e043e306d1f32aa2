"""The control record: which region is primary, and whether writes are taken.

An operator changes the primary region, or pauses writes, by writing one item in the
write table (layout in :mod:`domain.records`), with no redeploy. The write table is a
global table, so every region holds a replica of the item and reads its OWN copy: a
region never needs another region to learn where to write. Reads are eventually
consistent and cached for a few seconds, so a change takes effect everywhere within
replication lag plus the cache's lifetime.

This module is on the resolver Lambda's cold-start path: stdlib and botocore only.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from botocore.exceptions import BotoCoreError, ClientError

from domain import records
from domain.errors import PrimaryUnavailable

logger = logging.getLogger("gateway.control")
# botocore's own rule for a region name (a DNS label): anything else could not even
# make a client, so it is refused here rather than failing every write later.
_REGION_NAME = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9\-]{0,61}[a-zA-Z0-9])?")


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
        A DynamoDB client for THIS region: each region reads its own replica, so a
        region cut off from the primary still learns what the operator decided.
    table
        The write table's name.
    default
        What holds while the item does not exist: the deployment's primary, ACTIVE,
        epoch 0.
    ttl_s
        How long an answer is reused; 0 reads on every call.
    clock
        Monotonic seconds; tests pass their own, so no test sleeps.
    """

    def __init__(
        self,
        client: Any,
        table: str,
        default: Control,
        ttl_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._table = table
        self._default = default
        self._ttl_s = ttl_s
        self._clock = clock
        self._last = default
        self._expires_at: float | None = None

    def current(self) -> Control:
        """The control as last read, re-read once the cached answer has expired.

        A failed or malformed read keeps the last known control (the default before any
        read succeeded) until the next expiry: a region that cannot read its own replica
        keeps serving as it was told last, rather than failing every request.
        """
        now = self._clock()
        if self._expires_at is not None and now < self._expires_at:
            return self._last
        self._expires_at = now + self._ttl_s
        try:
            self._last = self._read()
        except (BotoCoreError, ClientError):
            logger.warning(
                "control record unreadable in table %s; keeping %s",
                self._table,
                self._last,
                exc_info=True,
            )
        except MalformedControl as error:
            logger.error(
                "control record in table %s ignored (%s); keeping %s",
                self._table,
                error,
                self._last,
            )
        return self._last

    def invalidate(self) -> None:
        """Forget the cached answer: the next call reads the item again."""
        self._expires_at = None

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

    def _read(self) -> Control:
        answer = self._client.get_item(
            TableName=self._table,
            Key={name: {"S": value} for name, value in records.control_key().items()},
        )
        item = answer.get("Item")
        return self._default if item is None else parse(item)


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
