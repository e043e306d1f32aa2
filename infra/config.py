"""What one deployment is: its stage, its regions, its domain and its switches.

Read once from the CDK context (``cdk.json``, or ``-c key=value`` on the command line),
checked, and handed to every stack. Nothing else in ``infra/`` reads the context.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"

# Regions as AWS spells them: us-east-1, eu-west-1, ap-southeast-2, us-gov-west-1...
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
_STAGE = re.compile(r"^[a-z][a-z0-9]{0,15}$")
_DOMAIN = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_ZONE_ID = re.compile(r"^Z[A-Z0-9]{4,31}$")
_LOG_LEVELS = ("NONE", "ERROR", "INFO", "DEBUG", "ALL")
# Every context key the deployment reads; nothing else in the context matters to it.
CONTEXT_KEYS = (
    "gateway:stage",
    "gateway:regions",
    "gateway:domainName",
    "gateway:hostedZoneId",
    "gateway:hostedZoneName",
    "gateway:apiLogLevel",
    "gateway:xray",
    "gateway:logLevel",
    "gateway:resolverCountLimit",
    "gateway:queryDepthLimit",
)
# CloudFront takes certificates and Lambda@Edge functions only from us-east-1.
EDGE_REGION = "us-east-1"


# The public client token (AWS_LAMBDA auth): AppSync sends the authorizer only an
# Authorization header that matches, so a user-pool JWT (it has dots) or a SigV4 header
# (spaces, dashes) never reaches it. Secrets Manager generates 40 such characters.
# gateway dev applies the same pattern and cache time.
CLIENT_TOKEN_PATTERN = r"^[A-Za-z0-9]{32,128}$"
CLIENT_TOKEN_LENGTH = 40
CLIENT_TOKEN_CACHE_S = 300
CLIENT_TOKEN_SECRET = "gateway-client-tokens"
# Signs every connection's nextToken, the same in every region.
PAGE_TOKEN_SECRET = "gateway-token-secret"


# AppSync's own ranges for a GraphQL API's per-request limits (CreateGraphqlApi).
RESOLVER_COUNT_RANGE = range(0, 10_001)
QUERY_DEPTH_RANGE = range(0, 76)


class ConfigError(ValueError):
    """The deployment configuration is wrong; the message names the setting."""


class ApiLimits(NamedTuple):
    """What one request may ask of an API: AppSync's ``resolverCountLimit`` and
    ``queryDepthLimit``, refused with LimitExceeded before any resolver runs.

    The one source of both values: infra deploys them on every region's API, and
    ``gateway dev`` enforces them (:func:`committed_api_limits`), so a query refused on
    AWS is refused locally too. ``gateway:resolverCountLimit`` and
    ``gateway:queryDepthLimit`` in the CDK context override them.

    Attributes
    ----------
    resolver_count
        Resolvers one request may run, 1 to 10,000; 0 means AppSync's maximum, 10,000.
        Every root field is one Lambda invocation (or one NONE resolver), so this bounds
        what one request costs. 50: no screen of this API needs more than a handful of
        root fields, a dashboard that batches reads stays well inside, and a request
        stays 200 times smaller than AppSync's default of 10,000 allows.
    query_depth
        How deep a query may nest, 1 to 75; 0 means no limit. 15: the deepest real
        selection (a customer's recent orders' lines) is 4 levels.
    """

    resolver_count: int = 50
    query_depth: int = 15

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> ApiLimits:
        """Parse and check the two settings; an absent one keeps its default."""
        defaults = cls()
        return cls(
            resolver_count=_whole(
                context, "gateway:resolverCountLimit", defaults.resolver_count, RESOLVER_COUNT_RANGE
            ),
            query_depth=_whole(
                context, "gateway:queryDepthLimit", defaults.query_depth, QUERY_DEPTH_RANGE
            ),
        )


def committed_context(path: Path = CDK_JSON) -> dict[str, Any]:
    """The ``gateway:*`` context as ``cdk.json`` holds it (empty when there is none)."""
    if not path.is_file():
        return {}
    return dict(json.loads(path.read_text()).get("context", {}))


def committed_api_limits(path: Path = CDK_JSON) -> ApiLimits:
    """The limits the committed deployment deploys: what ``gateway dev`` enforces unless
    told otherwise.

    Raises
    ------
    ConfigError
        ``cdk.json`` sets one of them to a value AppSync would refuse.
    """
    return ApiLimits.from_context(committed_context(path))


class DeploymentConfig(NamedTuple):
    """One stage of the gateway, deployed to a primary region and its replicas.

    Attributes
    ----------
    stage
        Short name that keeps stages apart in one account: ``dev``, ``prod``.
    primary
        The region that takes writes at first. An operator moves it later through the
        control record in the write table (docs/operations.md), with no redeploy.
    replicas
        Every other region: each serves reads and subscriptions, and holds a replica of
        the write table.
    domain_name, hosted_zone_id, hosted_zone_name
        The one name clients use, and the Route 53 zone it lives in.
    api_log_level
        AppSync field logging: NONE, ERROR, INFO, DEBUG or ALL.
    xray
        Whether AppSync and both Lambdas send traces to X-Ray.
    log_level
        Powertools' log level in both Lambdas.
    api_limits
        The resolver count and query depth limits of every region's API.
    """

    stage: str
    primary: str
    replicas: tuple[str, ...]
    domain_name: str
    hosted_zone_id: str
    hosted_zone_name: str
    api_log_level: str = "ERROR"
    xray: bool = False
    log_level: str = "INFO"
    api_limits: ApiLimits = ApiLimits()

    @property
    def regions(self) -> tuple[str, ...]:
        """The primary first, then the replicas, in the order they were given."""
        return (self.primary, *self.replicas)

    def resource_name(self, base: str) -> str:
        """``base`` for this stage, the same in every region: ``gateway-write-prod``."""
        return f"{base}-{self.stage}"

    def stack_name(self, region: str) -> str:
        return f"Gateway-{self.stage}-{region}"

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> DeploymentConfig:
        """Parse and check the ``gateway:*`` context values.

        ``gateway:regions`` is a comma-separated list whose first region is the primary.
        """
        regions = [r.strip() for r in str(_required(context, "gateway:regions")).split(",")]
        config = cls(
            stage=str(context.get("gateway:stage", "dev")),
            primary=regions[0],
            replicas=tuple(regions[1:]),
            domain_name=str(_required(context, "gateway:domainName")).lower(),
            hosted_zone_id=str(_required(context, "gateway:hostedZoneId")),
            hosted_zone_name=str(_required(context, "gateway:hostedZoneName")).lower(),
            api_log_level=str(context.get("gateway:apiLogLevel", "ERROR")).upper(),
            xray=_flag(context, "gateway:xray"),
            log_level=str(context.get("gateway:logLevel", "INFO")).upper(),
            api_limits=ApiLimits.from_context(context),
        )
        return config.checked()

    def checked(self) -> DeploymentConfig:
        """This config, or ConfigError naming the first setting that cannot deploy."""
        if not _STAGE.match(self.stage):
            raise ConfigError(
                f"gateway:stage {self.stage!r} must be 1-16 lowercase letters or digits, "
                "starting with a letter"
            )
        for region in self.regions:
            if not _REGION.match(region):
                raise ConfigError(f"gateway:regions has {region!r}, which is not an AWS region")
        if len(set(self.regions)) != len(self.regions):
            raise ConfigError(f"gateway:regions names a region twice: {','.join(self.regions)}")
        if not _DOMAIN.match(self.domain_name):
            raise ConfigError(f"gateway:domainName {self.domain_name!r} is not a domain name")
        zone = self.hosted_zone_name.rstrip(".")
        if not (self.domain_name == zone or self.domain_name.endswith("." + zone)):
            raise ConfigError(
                f"gateway:domainName {self.domain_name!r} is not inside the hosted zone {zone!r}"
            )
        if not _ZONE_ID.match(self.hosted_zone_id):
            raise ConfigError(
                f"gateway:hostedZoneId {self.hosted_zone_id!r} is not a Route 53 zone id"
            )
        if self.api_log_level not in _LOG_LEVELS:
            levels = ", ".join(_LOG_LEVELS)
            raise ConfigError(f"gateway:apiLogLevel {self.api_log_level!r} must be one of {levels}")
        if self.log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ConfigError(f"gateway:logLevel {self.log_level!r} is not a Python log level")
        return self


def _required(context: Mapping[str, Any], key: str) -> Any:
    value = context.get(key)
    if value is None or str(value).strip() == "":
        raise ConfigError(f"{key} is not set: add it to cdk.json or pass -c {key}=...")
    return value


def _whole(context: Mapping[str, Any], key: str, default: int, allowed: range) -> int:
    """A whole-number setting within ``allowed``, or ``default`` when it is absent."""
    value = context.get(key, default)
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ConfigError(f"{key} {value!r} must be a whole number") from None
    if number not in allowed:
        raise ConfigError(f"{key} {number} must be from {allowed.start} to {allowed.stop - 1}")
    return number


def _flag(context: Mapping[str, Any], key: str) -> bool:
    value = context.get(key, False)
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no", ""):
        return False
    raise ConfigError(f"{key} {value!r} must be true or false")
