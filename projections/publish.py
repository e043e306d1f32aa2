"""Telling subscribers: the ``publish*`` mutations, sent to this region's API with SigV4.

Subscriptions bind only to ``publish*`` mutations, so this is the one way a change
reaches a subscriber, and it is sent after the region's projection holds the change.
Each one carries the write's correlation id in ``x-correlation-id``, so the publish is
found by the same id as the write.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any, Protocol

from projections.observability import current_correlation_id

PUBLISH_PRODUCT = "publishProductChanged"
PUBLISH_ORDER = "publishOrderChanged"
PRODUCT_FIELDS = "id sku name description category priceCents currency stock version updatedAt"
ORDER_FIELDS = (
    "id customerId customer { id name email } lines { productId productName quantity "
    "unitPriceCents lineTotalCents } totalCents currency status version placedAt updatedAt"
)
_PRODUCT_ARGUMENTS = {
    "id": "ID!",
    "sku": "String!",
    "name": "String!",
    "description": "String!",
    "category": "String!",
    "priceCents": "Int!",
    "currency": "String!",
    "stock": "Int!",
    "version": "Int!",
    "updatedAt": "AWSDateTime!",
}
_ORDER_ARGUMENTS = {
    "id": "ID!",
    "customerId": "ID!",
    "customer": "PublishedOrderCustomerInput!",
    "lines": "[PublishedOrderLineInput!]!",
    "totalCents": "Int!",
    "currency": "String!",
    "status": "OrderStatus!",
    "version": "Int!",
    "placedAt": "AWSDateTime!",
    "updatedAt": "AWSDateTime!",
}


def _publish_mutation(field: str, arguments: dict[str, str], selection: str) -> str:
    """A publish mutation whose arguments are the published type's fields, as variables."""
    operation = field[0].upper() + field[1:]
    declared = ", ".join(f"${name}: {kind}" for name, kind in arguments.items())
    passed = ", ".join(f"{name}: ${name}" for name in arguments)
    return f"mutation {operation}({declared}) {{ {field}({passed}) {{ {selection} }} }}"


PUBLISH_PRODUCT_CHANGED = _publish_mutation(PUBLISH_PRODUCT, _PRODUCT_ARGUMENTS, PRODUCT_FIELDS)
PUBLISH_ORDER_CHANGED = _publish_mutation(PUBLISH_ORDER, _ORDER_ARGUMENTS, ORDER_FIELDS)


class PublishFailed(Exception):
    """The API refused or did not answer; the stream record will be retried."""


class Publisher(Protocol):
    def product_changed(self, product: dict[str, Any]) -> None:
        """Tell this region's subscribers that ``product`` changed."""

    def order_changed(self, order: dict[str, Any]) -> None:
        """Tell this region's subscribers that ``order`` changed."""


class AppSyncPublisher:
    """Sends publish mutations to one region's GraphQL endpoint, signed with SigV4.

    Parameters
    ----------
    url
        The region's ``/graphql`` URL (AppSync's, or the emulator's).
    region
        The region whose API is called: the signature is scoped to it.
    credentials
        botocore credentials; on Lambda, the function's role.
    """

    def __init__(self, url: str, region: str, credentials: Any, timeout: float = 5.0) -> None:
        self._url = url
        self._region = region
        self._credentials = credentials
        self._timeout = timeout

    def product_changed(self, product: dict[str, Any]) -> None:
        variables = {name: product[name] for name in _PRODUCT_ARGUMENTS}
        self._send(PUBLISH_PRODUCT_CHANGED, variables)

    def order_changed(self, order: dict[str, Any]) -> None:
        variables = {name: order[name] for name in _ORDER_ARGUMENTS}
        self._send(PUBLISH_ORDER_CHANGED, variables)

    def _send(self, query: str, variables: dict[str, Any]) -> None:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        body = json.dumps({"query": query, "variables": variables})
        headers = {"content-type": "application/json"}
        correlation_id = current_correlation_id()
        if correlation_id:
            headers["x-correlation-id"] = correlation_id
        request = AWSRequest(method="POST", url=self._url, data=body, headers=headers)
        SigV4Auth(self._credentials, "appsync", self._region).add_auth(request)
        prepared = urllib.request.Request(
            self._url, data=body.encode(), headers=dict(request.headers.items()), method="POST"
        )
        try:
            with urllib.request.urlopen(prepared, timeout=self._timeout) as response:
                answer = json.loads(response.read())
        except (urllib.error.URLError, TimeoutError, ValueError) as error:
            raise PublishFailed(f"publish to {self._region} failed: {error}") from error
        if answer.get("errors"):
            raise PublishFailed(f"publish to {self._region} refused: {answer['errors']}")
