"""One region in moto, in this process: the resolver Lambda and its stream handler on it.

The parts that compare the gateway's code with raw boto3 calls run here, with no
server between them and moto, so the difference is the code's own.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from moto import mock_aws

from emulator.cloud.server import create_tables, moto_fixes, stream_arn, streams_client
from emulator.cloud.streams import StreamPoller, StreamReader
from projections.settings import Settings
from projections.stream import StreamProjector
from projections.table import ProjectionTable
from resolvers.bootstrap import build_app, build_services
from resolvers.handler import ResolverHandler
from resolvers.services import Services

REGION = "us-east-1"
# Long enough that the control record is read once per part, as a warm Lambda reads it
# once per cache lifetime; the request counts leave that read out.
CONTROL_CACHE_MS = 600_000
_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}


class CountingPublisher:
    """Stands in for the region's API: counts what the stream handler would publish."""

    def __init__(self) -> None:
        self.published = 0

    def product_changed(self, product: dict[str, Any]) -> None:
        self.published += 1

    def order_changed(self, order: dict[str, Any]) -> None:
        self.published += 1


class Region(NamedTuple):
    """One region's settings, services and resolver Lambda, in moto."""

    settings: Settings
    services: Services
    handler: ResolverHandler

    def call(
        self,
        parent: str,
        field: str,
        arguments: dict[str, Any],
        identity: dict[str, Any] | None = None,
    ) -> Any:
        """Invoke the resolver Lambda as AppSync would for one field."""
        return self.handler(event(parent, field, arguments, identity), None)


@contextmanager
def region() -> Iterator[Region]:
    """A fresh moto with one region's tables, and its resolver Lambda.

    moto's transactions get the emulator's fix
    (:func:`emulator.cloud.moto_fixes.install_transactions`): without it each one
    deep-copies the tables it touches, and the write side would measure moto's
    rollback, not the gateway.
    """
    moto_fixes.install_transactions()
    saved = {name: os.environ.get(name) for name in _CREDENTIALS}
    for name, value in _CREDENTIALS.items():
        os.environ.setdefault(name, value)
    try:
        with mock_aws():
            settings = Settings(REGION, REGION, control_cache_ms=CONTROL_CACHE_MS)
            create_tables(settings)
            services = build_services(settings)
            yield Region(settings, services, ResolverHandler(build_app(services)))
    finally:
        for name, was in saved.items():
            if was is None:
                os.environ.pop(name, None)


def event(
    parent: str, field: str, arguments: dict[str, Any], identity: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The direct Lambda resolver event AppSync sends (the emulator's shape)."""
    return {
        "arguments": arguments,
        "identity": identity,
        "source": None,
        "request": {"headers": {"x-correlation-id": "bench"}, "domainName": None},
        "prev": None,
        "stash": {},
        "info": {
            "fieldName": field,
            "parentTypeName": parent,
            "variables": {},
            "selectionSetList": [],
            "selectionSetGraphQL": "",
        },
    }


def project(settings: Settings) -> int:
    """Apply everything on the region's write-table stream to its projections, as the
    stream Lambda would; returns how many stream records were read."""
    table = ProjectionTable(settings.dynamodb(settings.region), settings.projection_table)
    projector = StreamProjector(table, CountingPublisher())
    reader = StreamReader(streams_client(settings), stream_arn(settings))
    poller = StreamPoller(settings.region, reader, projector.handle)
    read = total = poller.take()
    while read:
        read = poller.take()
        total += read
    return total


def count_requests(clients: list[Any]) -> list[str]:
    """A list that fills with the DynamoDB operation of every request ``clients`` send,
    counted with botocore's event hooks (as tests/integration does)."""
    sent: list[str] = []
    seen: set[int] = set()
    for client in clients:
        if id(client) in seen:
            continue
        seen.add(id(client))
        client.meta.events.register("before-send.dynamodb.*", _recorder(sent))
    return sent


def _recorder(sent: list[str]) -> Callable[..., None]:
    def record(request: Any, **_: Any) -> None:
        target = request.headers["X-Amz-Target"]
        name = target.decode() if isinstance(target, bytes) else str(target)
        sent.append(name.rsplit(".", 1)[-1])

    return record


class Seeded(NamedTuple):
    """What :func:`seed` made: a product, a customer, and that customer's newest order."""

    product_id: str
    customer_id: str
    order_id: str


def seed(here: Region, orders: int = 5, tag: str = "0") -> Seeded:
    """A product, a customer with ``orders`` orders of it, all projected."""
    product = here.call(
        "Mutation",
        "createProduct",
        {
            "input": {
                "sku": f"BENCH-{tag}",
                "name": "Bench lamp",
                "category": "bench",
                "priceCents": 4500,
                "currency": "EUR",
                "stock": 1_000_000,
            }
        },
    )
    customer = here.call(
        "Mutation",
        "registerCustomer",
        {"input": {"email": f"bench-{tag}@example.com", "name": "Bench customer"}},
    )
    order: dict[str, Any] = {}
    for number in range(orders):
        order = here.call(
            "Mutation",
            "placeOrder",
            {
                "input": {
                    "customerId": customer["id"],
                    "lines": [{"productId": product["id"], "quantity": 1}],
                    "idempotencyKey": f"bench-{tag}-{number}",
                }
            },
        )
    project(here.settings)
    return Seeded(product["id"], customer["id"], order.get("id", ""))
