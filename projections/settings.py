"""Runtime settings for both Lambdas, parsed once from the environment."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from projections import keys

DEFAULT_TOKEN_SECRET = "gateway-local-token-secret"
# The secrets each function names (infra sets them) and reads at run time from its own
# region's replica (resolvers.secret_values).
PAGE_TOKEN_SECRET_VARIABLE = "GATEWAY_PAGE_TOKEN_SECRET"
CLIENT_TOKEN_SECRET_VARIABLE = "GATEWAY_CLIENT_TOKEN_SECRET"
SECRET_CACHE_MS_VARIABLE = "GATEWAY_SECRET_CACHE_MS"
DEFAULT_SECRET_CACHE_MS = 300_000
_REGION_NAME = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]+")
# infra.observability.METRICS_NAMESPACE sets the same through POWERTOOLS_METRICS_NAMESPACE;
# gateway dev sets no variable, so its figures carry this one (tests/infra checks they agree).
DEFAULT_METRICS_NAMESPACE = "Gateway"


class Settings(NamedTuple):
    """Where this region is, where the primary is, and the tables to use.

    ``endpoint_url`` and ``appsync_url`` are set by the emulator; on AWS the SDK finds
    DynamoDB itself and ``appsync_url`` comes from the stack. ``primary_region`` is the
    deployment's default: the control record in the write table overrides it, and
    ``control_cache_ms`` says how long each execution environment reuses a read of it.
    ``peer_regions`` are the deployment's other regions (``GATEWAY_REGIONS`` lists them
    all), whose copies of the control record this region reads too.
    ``tracing`` builds powertools' Tracer, which costs about 330 ms of cold start: only
    ``POWERTOOLS_TRACE_DISABLED=false`` (set by infra when ``gateway:xray`` is on) asks
    for it; unset, it stays off, unlike powertools' own default.
    ``token_secret_id`` names the page-token secret, read at run time from this
    region's replica; without it (tests), ``token_secret`` is the key itself.
    ``client_token_secret_id`` names the secret listing the public client tokens (the
    authorizer's). Both are kept ``secret_cache_ms`` once read.
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
    metrics_namespace: str = DEFAULT_METRICS_NAMESPACE
    tracing: bool = False
    peer_regions: tuple[str, ...] = ()
    token_secret_id: str | None = None
    client_token_secret_id: str | None = None
    secret_cache_ms: int = DEFAULT_SECRET_CACHE_MS

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
            metrics_namespace=env.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_METRICS_NAMESPACE,
            tracing=_tracing_asked(env),
            peer_regions=_peer_regions(env, region),
            token_secret_id=env.get(PAGE_TOKEN_SECRET_VARIABLE) or None,
            client_token_secret_id=env.get(CLIENT_TOKEN_SECRET_VARIABLE) or None,
            secret_cache_ms=_milliseconds(env, SECRET_CACHE_MS_VARIABLE, DEFAULT_SECRET_CACHE_MS),
        )

    def dynamodb(self, region: str) -> Any:
        """A DynamoDB client for ``region`` with short timeouts, so no request hangs."""
        return self._client(region, connect_timeout=1, read_timeout=2, attempts=3)

    def write_dynamodb(self, region: str) -> Any:
        """A client for the primary's write table: one attempt, bounded to 1.3 s.

        :class:`domain.breaker.Guard` retries it within its own deadline, so a write to
        an unreachable primary is refused within 2 s.
        """
        return self._client(region, connect_timeout=0.5, read_timeout=0.8, attempts=1)

    def secretsmanager(self) -> Any:
        """A Secrets Manager client for this region's replicas, bounded like the reads.

        ``endpoint_url`` is the local cloud's, which serves every service on one port.
        """
        import boto3

        config = _config(connect_timeout=1, read_timeout=2, attempts=2)
        return boto3.client(
            "secretsmanager", region_name=self.region, endpoint_url=self.endpoint_url, config=config
        )

    def cognito(self) -> Any:
        """A Cognito user-pools client for this region, bounded like the reads: Cognito
        gives a trigger 5 s in all."""
        import boto3

        config = _config(connect_timeout=1, read_timeout=2, attempts=2)
        return boto3.client(
            "cognito-idp", region_name=self.region, endpoint_url=self.endpoint_url, config=config
        )

    def _client(
        self, region: str, *, connect_timeout: float, read_timeout: float, attempts: int
    ) -> Any:
        import boto3

        config = _config(
            connect_timeout=connect_timeout, read_timeout=read_timeout, attempts=attempts
        )
        return boto3.client(
            "dynamodb", region_name=region, endpoint_url=self.endpoint_url, config=config
        )


def _config(*, connect_timeout: float, read_timeout: float, attempts: int) -> Any:
    from botocore.config import Config

    return Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        # total_max_attempts counts the first try; botocore's max_attempts counts retries.
        retries={"total_max_attempts": attempts, "mode": "standard"},
        account_id_endpoint_mode="disabled",
    )


def _tracing_asked(env: Mapping[str, str]) -> bool:
    """True only when ``POWERTOOLS_TRACE_DISABLED`` says false in so many words.

    Raises
    ------
    ValueError
        Naming the variable, for a value that is neither true nor false.
    """
    raw = env.get("POWERTOOLS_TRACE_DISABLED", "").strip().lower()
    if raw in ("", "1", "true", "yes", "on"):
        return False
    if raw in ("0", "false", "no", "off"):
        return True
    raise ValueError(f"POWERTOOLS_TRACE_DISABLED must be true or false; got {raw!r}")


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


def _peer_regions(env: Mapping[str, str], region: str) -> tuple[str, ...]:
    """The regions ``GATEWAY_REGIONS`` lists (comma-separated), this one left out.

    Raises
    ------
    ValueError
        A name that is not a region's, quoted.
    """
    raw = env.get("GATEWAY_REGIONS", "")
    names = [name.strip() for name in raw.split(",") if name.strip()]
    for name in names:
        if not _REGION_NAME.fullmatch(name):
            raise ValueError(f"GATEWAY_REGIONS must list region names; {name!r} is not one")
    return tuple(dict.fromkeys(name for name in names if name != region))
