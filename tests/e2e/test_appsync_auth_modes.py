"""gql's AppSync transport with each auth mode: user-pool JWT and IAM (SigV4)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from botocore.credentials import Credentials
from gql import Client, gql
from gql.transport.appsync_auth import (
    AppSyncAuthentication,
    AppSyncIAMAuthentication,
    AppSyncJWTAuthentication,
)
from gql.transport.appsync_websockets import AppSyncWebsocketsTransport
from gql.transport.exceptions import TransportQueryError, TransportServerError

from emulator.appsync.auth import DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY
from tests.e2e.support import Gateway, unique
from tests.e2e.test_appsync_realtime import GQL_ATTEMPT_WAIT_S, GQL_ATTEMPTS, create_product, port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

SUBSCRIBE = "subscription($c: String) { onProductChanged(category: $c) { id name category } }"
REGION = "eu-west-1"


async def first_message(
    gateway: Gateway, auth: AppSyncAuthentication, category: str
) -> dict[str, Any]:
    host = f"127.0.0.1:{port(gateway, REGION)}"
    transport = AppSyncWebsocketsTransport(url=f"ws://{host}/graphql/realtime", auth=auth)
    request = gql(SUBSCRIBE)
    request.variable_values = {"c": category}
    async with Client(transport=transport) as session:
        async for data in session.subscribe(request):
            return dict(data["onProductChanged"])  # `return` closes the transport
    raise AssertionError("the subscription ended without a message")


def iam(secret: str = DEFAULT_SECRET_ACCESS_KEY) -> AppSyncIAMAuthentication:
    return AppSyncIAMAuthentication(
        host="",  # replaced per test
        region_name=REGION,
        credentials=Credentials(DEFAULT_ACCESS_KEY_ID, secret),
    )


def test_a_customer_token_hears_product_changes(gateway: Gateway) -> None:
    """GIVEN gql's AppSyncJWTAuthentication with a customer's token WHEN products are
    created in category C THEN the subscriber hears one of them."""
    host = f"127.0.0.1:{port(gateway, REGION)}"
    auth = AppSyncJWTAuthentication(host=host, jwt=gateway.token("ana", "customers"))
    category = unique("jwt")

    async def scenario() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        listener = asyncio.create_task(first_message(gateway, auth, category))
        created = []
        try:
            for _ in range(GQL_ATTEMPTS):
                created.append(await asyncio.to_thread(create_product, gateway, category))
                await asyncio.wait([listener], timeout=GQL_ATTEMPT_WAIT_S)
                if listener.done():
                    break
            return created, listener.result()
        finally:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)

    created, heard = asyncio.run(scenario())
    assert heard in created


def test_iam_signs_the_connection_and_may_only_publish(gateway: Gateway) -> None:
    """GIVEN gql's AppSyncIAMAuthentication with the local IAM keys WHEN it connects THEN
    the signature over /graphql/connect is accepted, and subscribing to products is
    refused with Unauthorized: IAM callers may only publish."""
    auth = iam()
    auth._host = f"127.0.0.1:{port(gateway, REGION)}"

    with pytest.raises(TransportQueryError) as refused:
        asyncio.run(asyncio.wait_for(first_message(gateway, auth, unique("iam")), 20))
    assert refused.value.errors is not None
    # AppSync's error message carries {"errors": [...]} in its payload; gql passes it on.
    (payload,) = refused.value.errors
    assert payload["errors"][0]["errorType"] == "Unauthorized"


def test_a_wrong_iam_secret_is_refused_at_connection(gateway: Gateway) -> None:
    """GIVEN IAM keys signed with the wrong secret WHEN gql connects THEN the server
    answers connection_error, and gql reports it."""
    auth = iam("not-the-secret")
    auth._host = f"127.0.0.1:{port(gateway, REGION)}"

    with pytest.raises((TransportServerError, TransportQueryError, ConnectionError)):
        asyncio.run(asyncio.wait_for(first_message(gateway, auth, unique("iam")), 20))
