"""What a command handler may touch: bootstrap builds it, tests pass fakes."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from domain.store import WriteStore


def utc_now() -> str:
    """AWSDateTime-shaped time, to the millisecond, in UTC."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass
class Dependencies:
    store: WriteStore
    clock: Callable[[], str] = utc_now
    ids: Callable[[], str] = new_id
    correlation_id: str = field(default="")
    # Waits between retries of a lost race; tests pass a function that does not wait.
    pause: Callable[[float], None] = time.sleep

    def back_off(self, attempt: int) -> None:
        """Capped exponential backoff with full jitter, so racing writers spread out."""
        self.pause(random.uniform(0, min(0.1, 0.005 * 2**attempt)))
