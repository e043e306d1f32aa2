"""Secrets read at run time from this region's Secrets Manager replica, and kept a while.

A value unwrapped into a Lambda's environment at deploy time never sees a rotation, and
regions deployed at different times would disagree; so each function names its secrets
and reads them when it first needs them (never at import: the cold start stays lean),
keeping each read for a few minutes. A rotation therefore reaches every execution
environment within that time.

A failed read is not kept as a value: the caller is told (:class:`SecretUnavailable`),
and the next read is tried only after a short pause, so an outage of Secrets Manager
costs each environment one slow call every few seconds, not one per request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

CURRENT = "AWSCURRENT"
PREVIOUS = "AWSPREVIOUS"
RETRY_AFTER_FAILURE_S = 5.0

logger = logging.getLogger("gateway.secrets")


class SecretUnavailable(Exception):
    """The secret could not be read just now; nothing was decided with a stale guess."""


class CachedSecret:
    """One secret of this region, by name, each version stage kept ``ttl_s`` seconds.

    Parameters
    ----------
    client
        Makes the Secrets Manager client, on first use only.
    secret_id
        The secret's name: the same in every region, since replicas keep it.
    ttl_s
        How long a value read is used before it is read again.
    clock
        Monotonic seconds; tests pass their own.
    """

    def __init__(
        self,
        client: Callable[[], Any],
        secret_id: str,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._make_client = client
        self._client: Any = None
        self.secret_id = secret_id
        self._ttl_s = ttl_s
        self._clock = clock
        self._values: dict[str, tuple[str | None, float]] = {}
        self._failed_until = 0.0
        # gateway dev shares one instance between a region's concurrent invocations.
        self._lock = threading.Lock()

    def value(self, stage: str = CURRENT) -> str | None:
        """The secret's text at ``stage``; None when no version holds that stage (a
        secret never rotated has no AWSPREVIOUS).

        Raises
        ------
        SecretUnavailable
            Secrets Manager did not answer, refused, or has no such secret.
        """
        now = self._clock()
        with self._lock:
            kept = self._values.get(stage)
            if kept is not None and now < kept[1]:
                return kept[0]
            if now < self._failed_until:
                raise SecretUnavailable(f"{self.secret_id} could not be read a moment ago")
            try:
                text = self._read(stage)
            except (BotoCoreError, ClientError) as error:
                self._failed_until = now + RETRY_AFTER_FAILURE_S
                logger.error("secret %s (%s) could not be read: %s", self.secret_id, stage, error)
                raise SecretUnavailable(f"{self.secret_id} could not be read") from None
            self._values[stage] = (text, now + self._ttl_s)
            return text

    def _read(self, stage: str) -> str | None:
        if self._client is None:
            self._client = self._make_client()
        try:
            answer = self._client.get_secret_value(SecretId=self.secret_id, VersionStage=stage)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if stage != CURRENT and code == "ResourceNotFoundException":
                return None  # no version holds this stage (yet)
            raise
        text = answer.get("SecretString")
        if not isinstance(text, str):
            raise SecretUnavailable(f"{self.secret_id} holds no text")
        return text
