"""What a command handler may touch: bootstrap builds it, tests pass fakes."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from domain.errors import VersionConflict
from domain.store import WriteStore

T = TypeVar("T")
# Each lost race means another writer took stock, so a product with N units makes a
# placement lose at most N times before it sees the stock run out.
RACE_RETRIES = 20


def utc_now() -> str:
    """AWSDateTime-shaped time, to the millisecond, in UTC."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass
class Dependencies:
    """What one request's command handler may touch.

    ``caller`` names who asks, as plain text the resolvers derive from the caller's
    identity: it scopes idempotency keys, so one caller's key never meets another's.
    """

    store: WriteStore
    clock: Callable[[], str] = utc_now
    ids: Callable[[], str] = new_id
    correlation_id: str = field(default="")
    caller: str = field(default="")
    # Waits between retries of a lost race; tests pass a function that does not wait.
    pause: Callable[[float], None] = time.sleep

    def retry_lost_races(self, attempt: Callable[[], T], kind: str) -> T:
        """Run ``attempt`` again, with capped and jittered backoff, each time it loses a
        race on an aggregate of ``kind``; any other conflict goes to the caller.

        Each lost race means another writer's change landed, so retrying with fresh
        reads makes progress; after RACE_RETRIES the caller is told to retry.
        """
        for attempt_number in range(RACE_RETRIES):
            try:
                return attempt()
            except VersionConflict as conflict:
                if conflict.kind != kind:
                    raise
                self.pause(random.uniform(0, min(0.1, 0.005 * 2**attempt_number)))
        raise VersionConflict(
            f"{kind.title()} changed {RACE_RETRIES} times while this was written; retry.",
            kind=kind,
        )
