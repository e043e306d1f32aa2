"""``gateway dev``'s flags for what one request or one connection may cost.

The resolver count and depth default to what the committed deployment deploys
(:func:`infra.config.committed_api_limits`), so a local request is refused where AWS
would refuse it; the rest are the emulator's own (:mod:`emulator.appsync.limits`,
:mod:`emulator.appsync.http_protocol`).
"""

from __future__ import annotations

import argparse

from emulator.appsync.http_protocol import READ_TIMEOUT_S
from emulator.appsync.limits import (
    CONNECTION_INIT_TIMEOUT_S,
    MAX_SOCKETS_PER_ADDRESS,
    MAX_SOCKETS_PER_CREDENTIAL,
    Limits,
)
from infra.config import (
    QUERY_DEPTH_RANGE,
    RESOLVER_COUNT_RANGE,
    ConfigError,
    committed_api_limits,
)

_AT_LEAST_ONE = (
    "request_read_timeout_ms",
    "connection_init_timeout_ms",
    "max_sockets_per_key",
    "max_sockets_per_address",
)


def add_to(dev: argparse.ArgumentParser) -> None:
    """Add the flags to the ``gateway dev`` parser."""
    dev.add_argument(
        "--max-depth",
        type=int,
        default=None,
        help="deepest query allowed, 1-75, 0 for no limit (default: the deployment's "
        "queryDepthLimit, 15)",
    )
    dev.add_argument(
        "--resolver-count-limit",
        type=int,
        default=None,
        help="resolvers (root fields) one request may run, 1-10000, 0 for AppSync's "
        "maximum of 10000 (default: the deployment's resolverCountLimit, 50)",
    )
    dev.add_argument(
        "--rate-limit",
        type=float,
        default=None,
        help="resolvers per second per API key, user or IAM key: a request costs its "
        "resolver count (default: no limit)",
    )
    dev.add_argument(
        "--request-read-timeout-ms",
        type=int,
        default=round(READ_TIMEOUT_S * 1000),
        help="how long a request's line, headers and body may take to arrive; a slower "
        "one gets 408 and is closed (default 10000)",
    )
    dev.add_argument(
        "--connection-init-timeout-ms",
        type=int,
        default=round(CONNECTION_INIT_TIMEOUT_S * 1000),
        help="how long a subscriber socket may stay open without sending connection_init "
        "(default 300000, AppSync's connectionTimeoutMs)",
    )
    dev.add_argument(
        "--max-sockets-per-key",
        type=int,
        default=MAX_SOCKETS_PER_CREDENTIAL,
        help="subscriber sockets one API key, user or IAM key may hold in a region "
        f"(default {MAX_SOCKETS_PER_CREDENTIAL})",
    )
    dev.add_argument(
        "--max-sockets-per-address",
        type=int,
        default=MAX_SOCKETS_PER_ADDRESS,
        help="sockets one client address may hold open in a region, acknowledged or not "
        f"(default {MAX_SOCKETS_PER_ADDRESS})",
    )


def limits(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Limits:
    """The limits the flags ask for; a value that cannot work stops ``gateway dev`` with
    its reason (exit 2), as argparse does."""
    try:
        deployed = committed_api_limits()
    except ConfigError as error:
        parser.error(f"cdk.json: {error}")
    max_depth = deployed.query_depth if args.max_depth is None else args.max_depth
    if max_depth not in QUERY_DEPTH_RANGE:
        parser.error("--max-depth must be from 0 (no limit) to 75, as AppSync allows")
    max_resolvers = (
        deployed.resolver_count if args.resolver_count_limit is None else args.resolver_count_limit
    )
    if max_resolvers not in RESOLVER_COUNT_RANGE:
        parser.error("--resolver-count-limit must be from 0 (10000) to 10000, as AppSync allows")
    if args.rate_limit is not None and args.rate_limit <= 0:
        parser.error("--rate-limit must be greater than 0")
    for flag in _AT_LEAST_ONE:
        if getattr(args, flag) < 1:
            parser.error(f"--{flag.replace('_', '-')} must be at least 1")
    return Limits(
        max_depth=max_depth,
        max_resolvers=max_resolvers,
        rate_per_second=args.rate_limit,
        connection_init_timeout_s=args.connection_init_timeout_ms / 1000,
        max_sockets_per_credential=args.max_sockets_per_key,
        max_sockets_per_address=args.max_sockets_per_address,
    )
