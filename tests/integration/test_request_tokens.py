"""The local DynamoDB honours TransactWriteItems' ClientRequestToken as DynamoDB documents.

Within 10 minutes of a token's first use, the same token with the same request is
answered as written and writes nothing; with another request it is refused with
IdempotentParameterMismatchException, which the write store reports as TokenReused.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from domain import records
from domain.errors import InternalFailure
from domain.store import Change, DynamoWriteStore, TokenReused
from emulator.cloud import moto_fixes
from tests.integration.conftest import Cloud

TABLE = records.WRITE_TABLE


def _count_up(token: str, by: int = 1) -> dict[str, Any]:
    """A transaction adding ``by`` to a counter item: applied twice, it counts twice."""
    return {
        "TransactItems": [
            {
                "Update": {
                    "TableName": TABLE,
                    "Key": {"pk": {"S": "COUNTER#1"}, "sk": {"S": "STATE"}},
                    "UpdateExpression": "ADD #n :by",
                    "ExpressionAttributeNames": {"#n": "n"},
                    "ExpressionAttributeValues": {":by": {"N": str(by)}},
                }
            }
        ],
        "ClientRequestToken": token,
    }


def _counter(client: Any) -> int:
    item = client.get_item(
        TableName=TABLE,
        Key={"pk": {"S": "COUNTER#1"}, "sk": {"S": "STATE"}},
        ConsistentRead=True,
    )["Item"]
    return int(item["n"]["N"])


def test_the_same_token_and_request_again_is_answered_and_writes_nothing(cloud: Cloud) -> None:
    """GIVEN a transaction that added 1 with token t-1
    WHEN it is sent again with t-1 THEN it is answered as written and the counter stays 1;
    WHEN it is sent with t-2 THEN it is a new request and the counter is 2."""
    client = cloud.primary.settings.dynamodb("us-east-1")
    client.transact_write_items(**_count_up("t-1"))

    again = client.transact_write_items(**_count_up("t-1"))

    assert again["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert _counter(client) == 1
    client.transact_write_items(**_count_up("t-2"))
    assert _counter(client) == 2


def test_the_same_token_with_another_request_is_refused_and_writes_nothing(cloud: Cloud) -> None:
    """GIVEN a transaction that added 1 with token t-1
    WHEN t-1 comes with a transaction adding 5
    THEN IdempotentParameterMismatchException, and the counter stays 1."""
    client = cloud.primary.settings.dynamodb("us-east-1")
    client.transact_write_items(**_count_up("t-1"))

    with pytest.raises(ClientError) as refused:
        client.transact_write_items(**_count_up("t-1", by=5))

    assert refused.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    assert _counter(client) == 1


def test_a_token_is_forgotten_after_ten_minutes(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN a transaction that added 1 with token t-1
    WHEN the same request comes with t-1 ten minutes later THEN it is a new request."""
    client = cloud.primary.settings.dynamodb("us-east-1")
    now = [1000.0]
    monkeypatch.setattr(moto_fixes, "_token_clock", lambda: now[0])
    client.transact_write_items(**_count_up("t-1"))

    now[0] += moto_fixes.TOKEN_WINDOW_S + 1
    client.transact_write_items(**_count_up("t-1"))

    assert _counter(client) == 2


def test_a_refused_transaction_leaves_its_token_unused(cloud: Cloud) -> None:
    """GIVEN a transaction with token t-1 that was cancelled on its condition
    WHEN the same request comes with t-1 once the condition holds THEN it is applied:
    only a transaction that wrote makes its token a replay."""
    client = cloud.primary.settings.dynamodb("us-east-1")
    guarded = _count_up("t-1")
    guarded["TransactItems"][0]["Update"]["ConditionExpression"] = "attribute_exists(#n)"
    with pytest.raises(ClientError):
        client.transact_write_items(**guarded)
    client.transact_write_items(**_count_up("t-0"))

    client.transact_write_items(**guarded)

    assert _counter(client) == 2


def test_the_write_store_reports_a_reused_token_and_writes_nothing(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN the write store made two different commits' tokens the same
    WHEN the second commit is sent THEN TokenReused (answered as an internal failure),
    and the second product was not written."""
    monkeypatch.setattr("domain.store.request_token", lambda operations: "one-token")
    store = DynamoWriteStore(cloud.primary.settings.dynamodb("us-east-1"))
    store.commit(Change("PRODUCT", "p-1", {"id": "p-1", "version": 1}, 0, []))

    with pytest.raises(TokenReused):
        store.commit(Change("PRODUCT", "p-2", {"id": "p-2", "version": 1}, 0, []))

    assert store.load("PRODUCT", "p-1") is not None
    assert store.load("PRODUCT", "p-2") is None


def test_a_reused_token_reaches_the_client_as_an_internal_failure(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN every commit's token made the same WHEN two products are created through the
    resolver Lambda THEN the second is answered InternalFailure, with the generic message
    (no AWS text), and not written."""
    monkeypatch.setattr("domain.store.request_token", lambda operations: "one-token")
    lamp = {"name": "Lamp", "category": "c", "priceCents": 100, "currency": "EUR", "stock": 1}
    cloud.primary.call("Mutation", "createProduct", {"input": {**lamp, "sku": "A-1"}})

    with pytest.raises(InternalFailure) as failed:
        cloud.primary.call("Mutation", "createProduct", {"input": {**lamp, "sku": "A-2"}})

    assert failed.value.message == "An internal error occurred. It has been logged."
    listed = cloud.primary.settings.dynamodb("us-east-1").get_item(
        TableName=TABLE, Key={"pk": {"S": "SKU#A-2"}, "sk": {"S": "STATE"}}
    )
    assert "Item" not in listed
