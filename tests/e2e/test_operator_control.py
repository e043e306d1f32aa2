"""An operator pauses and resumes writes with the control record: no redeploy, no restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from domain import records
from emulator import statefile
from tests.e2e.support import (
    Gateway,
    error_type,
    free_base_port,
    post,
    start_gateway,
    stop_gateway,
    unique,
    wait_until,
)
from tests.unit.fakes import control_item

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

REGIONS = ("us-east-1", "eu-west-1")
CACHE_MS = "100"
TIMEOUT_S = 15.0
CREATE = "mutation($input: CreateProductInput!) { createProduct(input: $input) { id version } }"
REGISTER = "mutation($input: RegisterCustomerInput!) { registerCustomer(input: $input) { id } }"
PLACE = "mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { id version } }"
PRODUCT = "query($id: ID!) { product(id: $id) { id stock } }"
REGION = "{ region { name primary mode } }"


@pytest.fixture(scope="module")
def own_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """Its own `gateway dev`, whose writes this module pauses, with a 100 ms control cache."""
    output: Path = tmp_path_factory.mktemp("control") / "gateway-dev.log"
    running = start_gateway(
        output,
        free_base_port(2),
        "--regions",
        ",".join(REGIONS),
        env={"GATEWAY_CONTROL_CACHE_MS": CACHE_MS},
    )
    yield running
    exit_code = stop_gateway(running)
    assert exit_code == 0, running.text()
    assert "Traceback" not in running.text(), running.text()


class WriteTables:
    """Each region's write table in the emulator's moto, reached as an operator would."""

    def __init__(self, gateway: Gateway) -> None:
        assert gateway.state_dir is not None
        running = statefile.find(gateway.state_dir)
        self._table = running.settings(REGIONS[0]).write_table
        self._clients = {
            region: boto3.client(
                "dynamodb",
                region_name=region,
                endpoint_url=running.endpoint_url,
                aws_access_key_id=running.credentials.access_key_id,
                aws_secret_access_key=running.credentials.secret_access_key,
            )
            for region in REGIONS
        }

    def set_control(self, mode: str, epoch: int) -> None:
        """The operator's whole action: one item, in the primary's write table."""
        self._clients[REGIONS[0]].put_item(
            TableName=self._table, Item=control_item(REGIONS[0], mode, epoch)
        )

    def control(self, region: str) -> dict[str, Any] | None:
        key = {name: {"S": value} for name, value in records.control_key().items()}
        item: dict[str, Any] | None = (
            self._clients[region].get_item(TableName=self._table, Key=key).get("Item")
        )
        return item

    def items(self) -> dict[str, list[dict[str, Any]]]:
        """Every item of every region's write table."""
        found = {}
        for region, client in self._clients.items():
            pages = client.get_paginator("scan").paginate(TableName=self._table)
            found[region] = sorted(
                (item for page in pages for item in page["Items"]),
                key=lambda item: (item["pk"]["S"], item["sk"]["S"]),
            )
        return found


def _product() -> dict[str, Any]:
    return {
        "sku": unique("LAMP"),
        "name": "Desk lamp",
        "description": "Brass",
        "category": unique("lamps"),
        "priceCents": 4500,
        "currency": "EUR",
        "stock": 4,
    }


def _modes(gateway: Gateway) -> list[str]:
    return [gateway.query(url, REGION)["region"]["mode"] for url in gateway.urls.values()]


def test_an_operator_pauses_and_resumes_writes_in_every_region(own_gateway: Gateway) -> None:
    """
    GIVEN `gateway dev` with two regions, a customer and a lamp, and no control record
    WHEN the operator puts the control item with mode READ_ONLY in the primary's write table
    THEN it replicates to eu-west-1, both regions soon report READ_ONLY with us-east-1 still
         primary, createProduct and placeOrder in either region get PrimaryUnavailable at
         once and write nothing in any region, and reads still answer;
    AND WHEN the operator sets it back to ACTIVE
    THEN both regions report ACTIVE, and writes work again in either region
    """
    gateway = own_gateway
    tables = WriteTables(gateway)
    assert [gateway.query(url, REGION)["region"] for url in gateway.urls.values()] == [
        {"name": region, "primary": REGIONS[0], "mode": "ACTIVE"} for region in REGIONS
    ]
    customer = gateway.query(
        gateway.replica, REGISTER, {"input": {"email": f"{unique('ana')}@example.com", "name": "A"}}
    )["registerCustomer"]
    lamp = gateway.query(gateway.primary, CREATE, {"input": _product()})["createProduct"]

    tables.set_control(records.MODE_READ_ONLY, 1)
    wait_until(lambda: tables.control(REGIONS[1]), TIMEOUT_S, "the control item in eu-west-1")
    wait_until(lambda: _modes(gateway) == ["READ_ONLY"] * 2, TIMEOUT_S, "READ_ONLY everywhere")
    before = tables.items()
    answers = []
    for url in gateway.urls.values():
        order = {
            "customerId": customer["id"],
            "lines": [{"productId": lamp["id"], "quantity": 1}],
            "idempotencyKey": unique("key"),
        }
        for query, variables in ((CREATE, {"input": _product()}), (PLACE, {"input": order})):
            answers.append(post(url, query, variables, gateway.staff()))

    assert [error_type(*answer) for answer in answers] == ["PrimaryUnavailable"] * 4
    assert all("paused by the operator" in body["errors"][0]["message"] for _, body in answers)
    assert tables.items() == before
    assert [gateway.query(url, REGION)["region"]["primary"] for url in gateway.urls.values()] == [
        REGIONS[0]
    ] * 2
    for url in gateway.urls.values():
        seen = wait_until(
            lambda url=url: gateway.query(url, PRODUCT, {"id": lamp["id"]})["product"],
            TIMEOUT_S,
            f"the lamp at {url}",
        )
        assert seen == {"id": lamp["id"], "stock": 4}

    tables.set_control(records.MODE_ACTIVE, 2)
    wait_until(lambda: _modes(gateway) == ["ACTIVE"] * 2, TIMEOUT_S, "ACTIVE everywhere")
    created = gateway.query(gateway.replica, CREATE, {"input": _product()})["createProduct"]
    placed = gateway.query(
        gateway.primary,
        PLACE,
        {
            "input": {
                "customerId": customer["id"],
                "lines": [{"productId": lamp["id"], "quantity": 1}],
                "idempotencyKey": unique("key"),
            }
        },
    )["placeOrder"]

    assert created["version"] == placed["version"] == 1
