"""DynamoDB requests per operation: every query and mutation, against the fewest the key
design allows.

Each operation goes through the resolver Lambda's handler on moto in this process, with
botocore's event hooks counting the requests on both of its clients (the projection
table's and the write table's), as ``tests/integration/test_product_flow.py`` does. The
control record is read once per cache lifetime (5 s) per execution environment, so the
counts leave it out: the handler reads it before counting starts.

The minimum of each operation is reasoned from :mod:`projections.keys` and the domain's
commands, and written beside it. Ratio = measured / minimum.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable
from typing import Any, NamedTuple

from benchmarks import inprocess
from benchmarks.report import Row, judged, limit_text

PART = "requests"
RUNS = 3


class Operation(NamedTuple):
    """One GraphQL root field, how to call it, and the fewest requests it can cost."""

    name: str
    parent: str
    field: str
    arguments: Callable[[inprocess.Region, inprocess.Seeded, str], dict[str, Any]]
    minimum: int
    why: str
    identity: Callable[[inprocess.Seeded], dict[str, Any] | None] = lambda ids: None


def _product(tag: str) -> dict[str, Any]:
    return {
        "sku": f"REQ-{tag}",
        "name": "Lamp",
        "category": "bench",
        "priceCents": 100,
        "currency": "EUR",
        "stock": 1_000,
    }


def _order(here: inprocess.Region, ids: inprocess.Seeded, tag: str) -> dict[str, Any]:
    """A fresh order of the seeded customer, to ship or cancel."""
    placed: dict[str, Any] = here.call(
        "Mutation",
        "placeOrder",
        {
            "input": {
                "customerId": ids.customer_id,
                "lines": [{"productId": ids.product_id, "quantity": 1}],
                "idempotencyKey": f"req-{tag}",
            }
        },
    )
    return placed


def _lines(here: inprocess.Region, ids: inprocess.Seeded, tag: str, count: int) -> list[Any]:
    products = [ids.product_id] + [
        here.call("Mutation", "createProduct", {"input": _product(f"{tag}-{n}")})["id"]
        for n in range(count - 1)
    ]
    return [{"productId": product, "quantity": 1} for product in products]


def _published_product(here: inprocess.Region, ids: inprocess.Seeded) -> dict[str, Any]:
    view: dict[str, Any] = here.call("Query", "product", {"id": ids.product_id})
    return view


def _published_order(here: inprocess.Region, ids: inprocess.Seeded) -> dict[str, Any]:
    view = here.call("Query", "order", {"id": ids.order_id})
    keep = "id customerId customer lines totalCents currency status version placedAt updatedAt"
    return {name: view[name] for name in keep.split()}


OPERATIONS = (
    Operation(
        "product(id)",
        "Query",
        "product",
        lambda here, ids, tag: {"id": ids.product_id},
        1,
        "GetItem of PRODUCT#<id>/VIEW: the view is the whole answer",
    ),
    Operation(
        "products(category)",
        "Query",
        "products",
        lambda here, ids, tag: {"category": "bench"},
        1,
        "one Query page of the byCategory index (byKind without a category)",
    ),
    Operation(
        "customer(id){recentOrders}",
        "Query",
        "customer",
        lambda here, ids, tag: {"id": ids.customer_id},
        1,
        "GetItem of CUSTOMER#<id>/VIEW: counters and recent orders are denormalized into it",
    ),
    Operation(
        "order(id)",
        "Query",
        "order",
        lambda here, ids, tag: {"id": ids.order_id},
        1,
        "GetItem of ORDER#<id>/VIEW: customer and lines are denormalized into it",
    ),
    Operation(
        "ordersByCustomer",
        "Query",
        "ordersByCustomer",
        lambda here, ids, tag: {"customerId": ids.customer_id},
        1,
        "one Query page of byCustomer (byCustomerStatus with a status), newest first",
    ),
    Operation(
        "region",
        "Query",
        "region",
        lambda here, ids, tag: {},
        1,
        "GetItem of META/PROGRESS; the control record is cached",
    ),
    Operation(
        "createProduct",
        "Mutation",
        "createProduct",
        lambda here, ids, tag: {"input": _product(tag)},
        1,
        "one TransactWriteItems: state (not exists), event, SKU claim; nothing to read",
    ),
    Operation(
        "updateProduct",
        "Mutation",
        "updateProduct",
        lambda here, ids, tag: {
            "input": {
                "id": here.call("Mutation", "createProduct", {"input": _product(tag)})["id"],
                "expectedVersion": 1,
                "name": f"Lamp {tag}",
            }
        },
        2,
        "GetItem of the state (the event carries the whole product), then TransactWriteItems",
    ),
    Operation(
        "adjustStock",
        "Mutation",
        "adjustStock",
        lambda here, ids, tag: {"input": {"id": ids.product_id, "delta": 1}},
        2,
        "GetItem of the state (stock check, whole product in the event), TransactWriteItems",
    ),
    Operation(
        "registerCustomer",
        "Mutation",
        "registerCustomer",
        lambda here, ids, tag: {"input": {"email": f"req-{tag}@example.com", "name": "R"}},
        1,
        "one TransactWriteItems: state (not exists), event, email claim",
    ),
    Operation(
        "placeOrder (1 line)",
        "Mutation",
        "placeOrder",
        lambda here, ids, tag: {
            "input": {
                "customerId": ids.customer_id,
                "lines": [{"productId": ids.product_id, "quantity": 1}],
                "idempotencyKey": f"req-{tag}",
            }
        },
        2,
        "one BatchGetItem (customer and products, one table, consistent) and one "
        "TransactWriteItems whose idempotency claim (not exists) stops a replay",
    ),
    Operation(
        "placeOrder (3 lines)",
        "Mutation",
        "placeOrder",
        lambda here, ids, tag: {
            "input": {
                "customerId": ids.customer_id,
                "lines": _lines(here, ids, tag, 3),
                "idempotencyKey": f"req-{tag}",
            }
        },
        2,
        "as for 1 line: a BatchGetItem reads any number of products",
    ),
    Operation(
        "cancelOrder (staff)",
        "Mutation",
        "cancelOrder",
        lambda here, ids, tag: {
            "input": {"id": _order(here, ids, tag)["id"], "expectedVersion": 1}
        },
        3,
        "GetItem of the order (its lines name the products), BatchGetItem of the "
        "products (versions, whole state for the events), TransactWriteItems",
    ),
    Operation(
        "cancelOrder (its customer)",
        "Mutation",
        "cancelOrder",
        lambda here, ids, tag: {
            "input": {"id": _order(here, ids, tag)["id"], "expectedVersion": 1}
        },
        3,
        "as for staff: the order read for the lines also shows whose order it is",
        lambda ids: {"sub": ids.customer_id, "groups": ["customers"]},
    ),
    Operation(
        "shipOrder",
        "Mutation",
        "shipOrder",
        lambda here, ids, tag: {
            "input": {"id": _order(here, ids, tag)["id"], "expectedVersion": 1}
        },
        2,
        "GetItem of the order (whole order in the event), TransactWriteItems",
    ),
    Operation(
        "publishProductChanged",
        "Mutation",
        "publishProductChanged",
        lambda here, ids, tag: _published_product(here, ids),
        0,
        "a NONE data source: the arguments are the answer",
    ),
    Operation(
        "publishOrderChanged",
        "Mutation",
        "publishOrderChanged",
        lambda here, ids, tag: _published_order(here, ids),
        0,
        "a NONE data source: the arguments are the answer",
    ),
)


def measure(runs: int = RUNS) -> dict[str, list[list[str]]]:
    """The DynamoDB operations each GraphQL operation sent, once per run."""
    counter = itertools.count()
    with inprocess.region() as here:
        ids = inprocess.seed(here, orders=2)
        here.call("Query", "region", {})  # reads (and caches) the control record
        sent = inprocess.count_requests(
            [here.services.projections.client, here.services.write_store.client]  # type: ignore[attr-defined]
        )
        counted: dict[str, list[list[str]]] = {operation.name: [] for operation in OPERATIONS}
        for _ in range(runs):
            for operation in OPERATIONS:
                arguments = operation.arguments(here, ids, f"{next(counter)}")
                sent.clear()
                here.call(operation.parent, operation.field, arguments, operation.identity(ids))
                counted[operation.name].append(list(sent))
        return counted


def rows(counted: dict[str, list[list[str]]]) -> list[Row]:
    table = []
    for operation in OPERATIONS:
        runs = counted[operation.name]
        counts = {len(run) for run in runs}
        measured = max(counts)
        kinds = Counter(runs[-1])
        what = ", ".join(f"{name} x{n}" if n > 1 else name for name, n in kinds.items())
        steady = "in every run" if len(counts) == 1 else f"varied {sorted(counts)}"
        ratio = measured / operation.minimum if operation.minimum else None
        if ratio is None:
            verdict = "at the minimum" if measured == 0 else f"OVER by {measured}"
        else:
            verdict = judged(ratio, 1.0, "lower")
            if measured > operation.minimum:
                verdict += f" by {measured - operation.minimum}"
        table.append(
            Row(
                part=PART,
                key=operation.name,
                figure=f"{operation.name}: {measured} request{'' if measured == 1 else 's'} "
                f"({what or 'none'}), "
                f"{steady} (n={len(runs)})",
                against=f"minimum {operation.minimum}: {operation.why}",
                ratio=ratio,
                limit=limit_text(1.0, "lower"),
                verdict=verdict,
            )
        )
    return table


def run() -> list[Row]:
    return rows(measure())
