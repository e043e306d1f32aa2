"""Read-your-writes: ``minVersion`` never gets an older version back, in any region.

The local projection is read first. While it is older than asked, the resolver waits
with capped backoff for the stream to catch up, up to a bounded budget, then reads
through to the primary's write table, which always holds the newest version.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from domain.errors import ValidationError

Read = Callable[[], dict[str, Any] | None]

FIRST_WAIT_S = 0.02
MAX_WAIT_S = 0.2


def read_at_least(
    min_version: int | None,
    read_local: Read,
    read_primary: Read,
    budget_s: float,
    pause: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any] | None:
    """The local view if it is at least ``min_version``, else the primary's.

    Raises
    ------
    ValidationError
        ``min_version`` is newer than any version the primary holds.
    PrimaryUnavailable
        The local view is too old and the primary cannot be read.
    """
    item = read_local()
    if min_version is None or _fresh(item, min_version):
        return item
    deadline = clock() + budget_s
    wait = FIRST_WAIT_S
    while clock() + wait <= deadline:
        pause(wait)
        item = read_local()
        if _fresh(item, min_version):
            return item
        wait = min(wait * 2, MAX_WAIT_S)
    item = read_primary()
    if _fresh(item, min_version):
        return item
    current = None if item is None else item["version"]
    raise ValidationError(
        f"minVersion {min_version} is newer than the current version ({current}).",
        {"minVersion": min_version, "currentVersion": current},
    )


def _fresh(item: dict[str, Any] | None, min_version: int) -> bool:
    return item is not None and int(item["version"]) >= min_version
