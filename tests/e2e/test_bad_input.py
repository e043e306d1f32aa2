"""Hostile and mistaken requests get typed errors, never a 5xx, a leak, or a write."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest

from tests.e2e.support import Gateway, error_type, post, post_raw, unique, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

CREATE = """
mutation($input: CreateProductInput!) { createProduct(input: $input) { id name version } }"""
UPDATE = """
mutation($input: UpdateProductInput!) { updateProduct(input: $input) { id name version } }"""
ADJUST = """
mutation($input: AdjustStockInput!) { adjustStock(input: $input) { id stock version } }"""
LIST = "query($c: String) { products(category: $c) { items { id } nextToken } }"
REGION = "{ region { name } }"
REPLICATION_TIMEOUT_S = 15.0


def product_input(category: str, **changes: Any) -> dict[str, Any]:
    product: dict[str, Any] = {"sku": unique("SKU"), "name": "Teapot", "category": category}
    product |= {"priceCents": 2400, "currency": "GBP", "stock": 5, "description": "Cast iron"}
    return {**product, **changes}


def create(gateway: Gateway, **changes: Any) -> dict[str, Any]:
    made = gateway.query(
        gateway.primary, CREATE, {"input": product_input(unique("pots"), **changes)}
    )
    return dict(made["createProduct"])


def listed(gateway: Gateway, url: str, category: str) -> list[dict[str, Any]]:
    return list(gateway.query(url, LIST, {"c": category})["products"]["items"])


def mutate(gateway: Gateway, query: str, fields: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return post(gateway.primary, query, {"input": fields}, gateway.staff())


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "WrongClientToken00000000000000000000000001"},
        {"x-api-key": "da2-gatewaylocaldevelopmentkey"},
    ],
    ids=["no credential", "wrong client token", "an api key"],
)
def test_requests_without_a_valid_credential_get_401(
    gateway: Gateway, headers: dict[str, str]
) -> None:
    """
    GIVEN a request with no credential, a wrong client token, or an API key (there is
          none: AppSync generated each region's own)
    WHEN it asks anything
    THEN it gets HTTP 401 and errorType UnauthorizedException, AppSync's body
    """
    status, body = post(gateway.primary, REGION, headers=headers)

    assert status == 401
    assert error_type(status, body) == "UnauthorizedException"


@pytest.mark.parametrize(
    "body",
    [b"{bad", b"[]", b'{"query": "{ region { name } }", "variables": [1]}', b"\xff\xfe"],
    ids=["broken JSON", "JSON array", "variables not an object", "not UTF-8"],
)
def test_malformed_bodies_get_400_and_the_server_keeps_answering(
    gateway: Gateway, body: bytes
) -> None:
    """
    GIVEN a body that is not a GraphQL request object
    WHEN it is posted with a valid key
    THEN it gets HTTP 400 and MalformedHttpRequestException, and a valid query right after works
    """
    status, answer = post_raw(gateway.primary, body, gateway.public())

    assert status == 400
    assert error_type(status, answer) == "MalformedHttpRequestException"
    assert gateway.query(gateway.primary, REGION) == {"region": {"name": "us-east-1"}}


def test_oversized_body_is_refused_as_a_limit(gateway: Gateway) -> None:
    """
    GIVEN a body over 1 MiB
    WHEN it is posted
    THEN it gets HTTP 413 and LimitExceeded
    """
    status, answer = post_raw(gateway.primary, b" " * (1024 * 1024 + 1), gateway.public())

    assert status == 413
    assert error_type(status, answer) == "LimitExceeded"


def test_invalid_products_are_refused_and_nothing_is_written(gateway: Gateway) -> None:
    """
    GIVEN product inputs that break a rule, in a fresh category
    WHEN each is sent to createProduct through the replica
    THEN each gets ValidationError, and once a valid product sent after them is visible in
         both regions, it is the only product in the category
    """
    category = unique("broken")
    invalid: dict[str, dict[str, Any]] = {
        "empty name": {"name": ""},
        "zero price": {"priceCents": 0},
        "negative price": {"priceCents": -1},
        "negative stock": {"stock": -1},
    }
    for fields in invalid.values():
        status, body = post(
            gateway.replica, CREATE, {"input": product_input(category, **fields)}, gateway.staff()
        )
        assert error_type(status, body) == "ValidationError", fields
        assert body["data"] == {"createProduct": None}

    # Writes reach every region in order, so once this one shows, any earlier one would have.
    sentinel = gateway.query(gateway.primary, CREATE, {"input": product_input(category)})
    sentinel_id = sentinel["createProduct"]["id"]
    for url in (gateway.primary, gateway.replica):
        items = wait_until(
            partial(listed, gateway, url, category),
            REPLICATION_TIMEOUT_S,
            f"the valid product in {url}",
        )
        assert items == [{"id": sentinel_id}]


def test_unknown_product_reads_as_null_without_errors(gateway: Gateway) -> None:
    """
    GIVEN an id no product has
    WHEN product(id) is asked
    THEN the answer is null, with no errors
    """
    status, body = post(
        gateway.replica, '{ product(id: "no-such-id") { id } }', None, gateway.public()
    )

    assert status == 200
    assert body == {"data": {"product": None}}


def test_updating_an_unknown_product_is_not_found(gateway: Gateway) -> None:
    """
    GIVEN an id no product has
    WHEN updateProduct names it
    THEN the error is NotFound
    """
    status, body = mutate(gateway, UPDATE, {"id": "no-such-id", "expectedVersion": 1, "name": "X"})

    assert error_type(status, body) == "NotFound"


def test_stale_expected_version_is_a_conflict_and_changes_nothing(gateway: Gateway) -> None:
    """
    GIVEN a product updated once, so at version 2
    WHEN another update still expects version 1
    THEN it gets VersionConflict, and an update expecting version 2 then succeeds
    """
    product = create(gateway)
    first = gateway.query(
        gateway.primary, UPDATE, {"input": {"id": product["id"], "expectedVersion": 1, "name": "A"}}
    )
    assert first["updateProduct"]["version"] == 2

    status, body = mutate(gateway, UPDATE, {"id": product["id"], "expectedVersion": 1, "name": "B"})

    assert error_type(status, body) == "VersionConflict"
    retried = gateway.query(
        gateway.primary, UPDATE, {"input": {"id": product["id"], "expectedVersion": 2, "name": "C"}}
    )
    assert retried["updateProduct"] == {"id": product["id"], "name": "C", "version": 3}


def test_stock_cannot_go_below_zero(gateway: Gateway) -> None:
    """
    GIVEN a product with 5 in stock
    WHEN adjustStock removes 6
    THEN it gets InsufficientStock, and removing 5 then succeeds at version 2 with 0 left
    """
    product = create(gateway, stock=5)

    status, body = mutate(gateway, ADJUST, {"id": product["id"], "delta": -6})

    assert error_type(status, body) == "InsufficientStock"
    emptied = gateway.query(gateway.primary, ADJUST, {"input": {"id": product["id"], "delta": -5}})
    assert emptied["adjustStock"] == {"id": product["id"], "stock": 0, "version": 2}


def test_syntax_error_is_a_validation_error_with_its_location(gateway: Gateway) -> None:
    """
    GIVEN a query that does not parse
    WHEN it is sent
    THEN it gets ValidationError with the line and column of the mistake
    """
    status, body = post(gateway.primary, "{ product(id: }", None, gateway.public())

    assert error_type(status, body) == "ValidationError"
    assert body["errors"][0]["locations"][0]["line"] == 1
    assert body["errors"][0]["locations"][0]["column"] == 15


def test_the_client_token_cannot_publish(gateway: Gateway) -> None:
    """
    GIVEN a caller with the public client token
    WHEN it calls publishProductChanged, which only IAM may call
    THEN it gets Unauthorized, and no such product appears
    """
    product_id = unique("forged")
    arguments = f'id: "{product_id}", sku: "S", name: "N", description: "", category: "c", '
    arguments += 'priceCents: 1, currency: "USD", stock: 1, version: 1, '
    arguments += 'updatedAt: "2024-01-01T00:00:00Z"'

    status, body = post(
        gateway.primary,
        f"mutation {{ publishProductChanged({arguments}) {{ id }} }}",
        None,
        gateway.public(),
    )

    assert error_type(status, body) == "Unauthorized"
    assert gateway.query(gateway.primary, f'{{ product(id: "{product_id}") {{ id }} }}') == {
        "product": None
    }


@pytest.mark.parametrize(
    "arguments",
    ["first: 0", "first: -1", "first: 101", 'after: "forged"'],
)
def test_bad_paging_arguments_are_validation_errors(gateway: Gateway, arguments: str) -> None:
    """
    GIVEN a page size out of range or a nextToken this API never issued
    WHEN products is asked with it
    THEN it gets ValidationError
    """
    status, body = post(
        gateway.replica, f"{{ products({arguments}) {{ nextToken }} }}", None, gateway.public()
    )

    assert error_type(status, body) == "ValidationError"
