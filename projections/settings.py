"""Runtime settings for both Lambdas, parsed once from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, NamedTuple

from projections import keys

DEFAULT_TOKEN_SECRET = "gateway-local-token-secret"


class Settings(NamedTuple):
    """Where this region is, where the primary is, and the tables to use.

    ``endpoint_url`` and ``appsync_url`` are set by the emulator; on AWS the SDK finds
    DynamoDB itself and ``appsync_url`` comes from the stack. ``primary_region`` is the
    deployment's default: the control record in the write table overrides it, and
    ``control_cache_ms`` says how long each execution environment reuses a read of it.
    """

    region: str
    primary_region: str
    write_table: str = keys.WRITE_TABLE
    projection_table: str = keys.PROJECTION_TABLE
    endpoint_url: str | None = None
    appsync_url: str | None = None
    token_secret: str = DEFAULT_TOKEN_SECRET
    min_version_wait_ms: int = 1000
    control_cache_ms: int = 5000

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        region = env.get("GATEWAY_REGION") or env.get("AWS_REGION") or "us-east-1"
        return cls(
            region=region,
            primary_region=env.get("GATEWAY_PRIMARY_REGION", region),
            write_table=env.get("GATEWAY_WRITE_TABLE", keys.WRITE_TABLE),
            projection_table=env.get("GATEWAY_PROJECTION_TABLE", keys.PROJECTION_TABLE),
            endpoint_url=env.get("GATEWAY_DYNAMODB_ENDPOINT") or None,
            appsync_url=env.get("GATEWAY_APPSYNC_URL") or None,
            token_secret=env.get("GATEWAY_TOKEN_SECRET", DEFAULT_TOKEN_SECRET),
            min_version_wait_ms=_milliseconds(env, "GATEWAY_MIN_VERSION_WAIT_MS", 1000),
            control_cache_ms=_milliseconds(env, "GATEWAY_CONTROL_CACHE_MS", 5000),
        )

    def dynamodb(self, region: str) -> Any:
        """A DynamoDB client for ``region`` with short timeouts, so no request hangs."""
        return self._client(region, connect_timeout=1, read_timeout=2, max_attempts=2)

    def write_dynamodb(self, region: str) -> Any:
        """A client for the primary's write table: one attempt, bounded to 1.3 s.

        :class:`domain.breaker.Guard` retries it within its own deadline, so a write to
        an unreachable primary is refused within 2 s.
        """
        return self._client(region, connect_timeout=0.5, read_timeout=0.8, max_attempts=1)

    def _client(
        self, region: str, *, connect_timeout: float, read_timeout: float, max_attempts: int
    ) -> Any:
        import boto3
        from botocore.config import Config

        config = Config(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"max_attempts": max_attempts, "mode": "standard"},
            account_id_endpoint_mode="disabled",
        )
        return boto3.client(
            "dynamodb", region_name=region, endpoint_url=self.endpoint_url, config=config
        )


def _milliseconds(env: Mapping[str, str], name: str, default: int) -> int:
    """A duration variable, or ``default`` when it is unset or empty.

    Raises
    ------
    ValueError
        Naming the variable, so a bad deployment says what to fix at the first cold
        start instead of showing a bare ``int()`` traceback.
    """
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(
            f"{name} must be a whole number of milliseconds, 0 or more; got {raw!r}"
        ) from None
    if value < 0:
        raise ValueError(f"{name} must be 0 or more milliseconds; got {value}")
    return value
