"""Read-your-writes: ``minVersion`` never gets an older version back, in any region.

The local projection is read first. While it is older than asked, the resolver waits
with capped backoff for the stream to catch up, until a deadline, then reads through
to the primary's write table, which always holds the newest version.

The deadline belongs to the whole request, not to each field: AppSync's stand-in in
``gateway dev`` tells each invocation how much of its request's one budget is left
(``stash.waitMsLeft``), so a query of 40 aliased fields waits at most one budget in
all. On AWS nothing sends it (a direct Lambda resolver's stash is empty), so each
invocation waits at most the budget, and the API's resolver count limit bounds how
many invocations one request makes (docs/decisions.md).

The waits are ``await``-ed, and the reads go through ``offload``: on Lambda, one
invocation per sandbox, the reads simply run; in ``gateway dev`` they run on the
region's threads while a waiting invocation holds none.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from domain.errors import ValidationError

T = TypeVar("T")
Read = Callable[[], dict[str, Any] | None]
Offload = Callable[[Callable[[], T]], Awaitable[T]]

FIRST_WAIT_S = 0.02
MAX_WAIT_S = 0.2
# The key of the stash in which the AppSync stand-in puts what is left of the request's
# read-your-writes budget, in milliseconds.
WAIT_LEFT_KEY = "waitMsLeft"


async def run_inline(work: Callable[[], T]) -> T:
    """Lambda's way to run a blocking read: right here, since nothing else shares the
    sandbox's event loop."""
    return work()


def wait_deadline(
    wait_ms_left: object, budget_ms: int, clock: Callable[[], float] = time.monotonic
) -> float:
    """When this invocation's read-your-writes wait must end (``clock`` seconds): its
    own budget from now, or what its request has left of one, whichever is sooner.

    ``wait_ms_left`` is the event's ``stash.waitMsLeft``; anything but a number (absent,
    as on AWS, or mangled) leaves the invocation its own budget.
    """
    budget = budget_ms
    if isinstance(wait_ms_left, int | float) and not isinstance(wait_ms_left, bool):
        budget = min(budget, max(int(wait_ms_left), 0))
    return clock() + budget / 1000


async def read_at_least(
    min_version: int | None,
    read_local: Read,
    read_primary: Read,
    deadline: float,
    *,
    offload: Offload[dict[str, Any] | None] = run_inline,
    pause: Callable[[float], Awaitable[None]] = asyncio.sleep,
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
    item = await offload(read_local)
    if min_version is None or _fresh(item, min_version):
        return item
    wait = FIRST_WAIT_S
    while clock() + wait <= deadline:
        await pause(wait)
        item = await offload(read_local)
        if _fresh(item, min_version):
            return item
        wait = min(wait * 2, MAX_WAIT_S)
    item = await offload(read_primary)
    if _fresh(item, min_version):
        return item
    current = None if item is None else item["version"]
    raise ValidationError(
        f"minVersion {min_version} is newer than the current version ({current}).",
        {"minVersion": min_version, "currentVersion": current},
    )


def _fresh(item: dict[str, Any] | None, min_version: int) -> bool:
    return item is not None and int(item["version"]) >= min_version
