"""Hostile input over real sockets: oversized, deeply nested, very long, invalid Unicode,
and AWSJSON bombs each get a typed error; the service answers normally right after, and
nothing hostile is written."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from graphql import GraphQLInputObjectType, GraphQLNamedType, get_named_type

from emulator.appsync.executor import load_schema
from tests.e2e.support import ERROR_KEYS, Gateway, post, unique, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

MIB = 1024 * 1024
ANSWER_TIMEOUT_S = 30.0
REPLICATION_TIMEOUT_S = 15.0
# Words that only a Python trace or an AWS SDK error would put in an answer.
LEAKS = (
    "Traceback",
    'File "',
    "botocore",
    "boto3",
    "moto",
    "ClientError",
    "KeyError",
    "TypeError",
    "ValueError",
    "AttributeError",
    "RecursionError",
    "UnicodeEncodeError",
    "/work/",
)
REGION = "{ region { name } }"
PRODUCTS = "query($c: String) { products(category: $c) { items { id sku } nextToken } }"
CREATE = "mutation($input: CreateProductInput!) { createProduct(input: $input) { id name } }"
MALFORMED = (400, "MalformedHttpRequestException")
INVALID = (200, "ValidationError")
TOO_LARGE = (413, "LimitExceeded")
OVER_LIMIT = (200, "LimitExceeded")


def exchange(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    """POST ``body`` as it is; the status and the text of the answer, whatever they are."""
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"content-type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=ANSWER_TIMEOUT_S) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def refusal(status: int, text: str) -> tuple[int, str]:
    """``(HTTP status, errorType)`` of a refused request, after checking that the answer is
    JSON in AppSync's shape and that it names nothing of our insides."""
    assert status < 500, (status, text[:1000])
    assert not [word for word in LEAKS if word in text], text[:1000]
    errors = json.loads(text)["errors"]
    assert errors, text[:1000]
    assert all(error.keys() >= ERROR_KEYS for error in errors), errors
    assert len({error["errorType"] for error in errors}) == 1, errors
    return status, str(errors[0]["errorType"])


def request(query: str, variables: Any = None, **more: Any) -> bytes:
    """A GraphQL request body; ``json.dumps`` writes a lone surrogate as ``\\ud800``."""
    return json.dumps({"query": query, "variables": variables, **more}).encode()


def nested(depth: int, leaf: str = "1") -> str:
    """JSON text of a list nested ``depth`` deep."""
    return "[" * depth + leaf + "]" * depth


def nested_object(depth: int) -> str:
    """A GraphQL object literal nested ``depth`` deep."""
    return "{a: " * depth + "1" + "}" * depth


def still_answers(gateway: Gateway) -> None:
    """Both regions answer the client token's queries as usual."""
    for region, url in gateway.urls.items():
        status, body = post(url, REGION, headers=gateway.public())
        assert (status, body) == (200, {"data": {"region": {"name": region}}}), body
        status, body = post(url, PRODUCTS, {"c": unique("quiet")}, gateway.public())
        assert (status, body) == (200, {"data": {"products": {"items": [], "nextToken": None}}})


HOSTILE_READS: dict[str, tuple[Callable[[], bytes], tuple[int, str]]] = {
    # Oversized and very long.
    "2 MB in a variable": (lambda: request(PRODUCTS, {"c": "x" * 2 * MIB}), TOO_LARGE),
    "a 1,000,000-character field name": (lambda: request("{ " + "a" * 10**6 + " }"), OVER_LIMIT),
    "a 900,000-character string literal": (
        lambda: request('{ products(category: "' + "x" * 900_000 + '") { nextToken } }'),
        OVER_LIMIT,
    ),
    # Deeply nested.
    "variables nested 100,000 deep": (
        lambda: f'{{"query": "{REGION}", "variables": {{"v": {nested(100_000)}}}}}'.encode(),
        MALFORMED,
    ),
    "a variable nested 500 deep": (
        lambda: request(PRODUCTS, {"c": json.loads(nested(500))}),
        INVALID,
    ),
    "a selection set nested 5,000 deep": (
        lambda: request("{ region " + "{ name " * 5_000 + "}" * 5_001),
        INVALID,
    ),
    "a list literal nested 10,000 deep": (
        lambda: request("{ products(category: " + nested(10_000) + ") { nextToken } }"),
        INVALID,
    ),
    "an object literal nested 5,000 deep": (
        lambda: request("{ products(category: " + nested_object(5_000) + ") { nextToken } }"),
        INVALID,
    ),
    # Invalid Unicode. A lone surrogate, escaped or as UTF-8 bytes (json.loads lets both
    # through), was a 500 when an error echoed it, and a failed write when stored.
    "a lone surrogate in operationName": (
        lambda: request(REGION, operationName="\ud800"),
        MALFORMED,
    ),
    "a lone surrogate in a variable": (lambda: request(PRODUCTS, {"c": "\udfff"}), MALFORMED),
    "a lone surrogate in a variable's name": (lambda: request(REGION, {"\ud800": 1}), MALFORMED),
    "a lone surrogate in the query": (lambda: request("{ region { name\ud800 } }"), MALFORMED),
    "bytes that are not UTF-8": (lambda: b'{"query": "{ region { name \xff\xfe } }"}', MALFORMED),
    "an overlong UTF-8 slash": (lambda: b'{"query": "{ region { name \xc0\xaf } }"}', MALFORMED),
    "an overlong 3-byte UTF-8 slash": (
        lambda: b'{"query": "{ region { name \xe0\x80\xaf } }"}',
        MALFORMED,
    ),
    "UTF-8 of a surrogate": (lambda: b'{"query": "{ region { name \xed\xa0\x80 } }"}', MALFORMED),
    "a raw NUL byte": (lambda: b'{"query": "{ region { name \x00 } }"}', MALFORMED),
    "an escaped NUL in the query": (lambda: request("{ region { name\x00 } }"), INVALID),
}


@pytest.mark.parametrize("case", HOSTILE_READS, ids=list(HOSTILE_READS))
def test_hostile_requests_get_typed_errors_and_the_service_keeps_answering(
    gateway: Gateway, case: str
) -> None:
    """
    GIVEN a request built to hurt: oversized, nested thousands deep, very long, or not
          Unicode text
    WHEN it is posted with the client token
    THEN it gets its typed error (400 for a body that is not a JSON request, 413 for one
         over 1 MiB, else a ValidationError or LimitExceeded in ``errors``), no trace or
         AWS text, and both regions answer the next queries as usual
    """
    body, expected = HOSTILE_READS[case]

    status, text = exchange(gateway.primary, body(), gateway.public())

    assert refusal(status, text) == expected
    still_answers(gateway)


def hostile_product(sku: str, category: str) -> dict[str, Any]:
    """A valid product: each hostile case changes one field of it."""
    product = {"sku": sku, "name": "Kettle", "category": category, "description": "Steel"}
    return {**product, "priceCents": 1500, "currency": "EUR", "stock": 2}


HOSTILE_PRODUCTS: dict[str, tuple[dict[str, Any], tuple[int, str]]] = {
    "a 1,000,000-character name": ({"name": "n" * 10**6}, INVALID),
    "a 1,000,000-character description": ({"description": "d" * 10**6}, INVALID),
    "a name nested 500 deep": ({"name": json.loads(nested(500, '"n"'))}, INVALID),
    "a name with a lone surrogate": ({"name": "Kettle\ud800"}, MALFORMED),
    "a category with a lone surrogate": ({"category": "\udfffpots"}, MALFORMED),
    "a sku with a NUL": ({"sku": "K\x00-1"}, INVALID),
}


def listed(gateway: Gateway, url: str, category: str) -> list[dict[str, Any]]:
    status, body = post(url, PRODUCTS, {"c": category}, gateway.public())
    assert status == 200 and not body.get("errors"), body
    return list(body["data"]["products"]["items"])


@pytest.mark.parametrize("case", HOSTILE_PRODUCTS, ids=list(HOSTILE_PRODUCTS))
def test_hostile_products_are_refused_and_nothing_is_written(gateway: Gateway, case: str) -> None:
    """
    GIVEN a staff member's createProduct whose input is huge, nested, not Unicode text or
          holds a NUL, in a fresh category and with a fresh SKU
    WHEN it is sent through the replica
    THEN it gets its typed error, and the valid product then gets that SKU (no hostile
         write claimed it) and is, once both regions show it, the only product in the
         category (no hostile write landed there)
    """
    fields, expected = HOSTILE_PRODUCTS[case]
    sku, category = unique("HOSTILE"), unique("hostile")
    product = {**hostile_product(sku, category), **fields}

    status, text = exchange(gateway.replica, request(CREATE, {"input": product}), gateway.staff())

    assert refusal(status, text) == expected
    # Writes reach every region in order, so once this one shows, any earlier one would have.
    made = gateway.query(gateway.primary, CREATE, {"input": hostile_product(sku, category)})
    made_id = made["createProduct"]["id"]
    for url in (gateway.primary, gateway.replica):
        items = wait_until(
            partial(listed, gateway, url, category), REPLICATION_TIMEOUT_S, f"the SKU at {url}"
        )
        assert items == [{"id": made_id, "sku": sku}]
    still_answers(gateway)


def fan_out(fragments: int, inside: str) -> str:
    """A few kilobytes in which every fragment spreads the next twice: ``2**fragments``
    paths for anything that expands spreads without remembering what it expanded."""
    kind = "RegionInfo" if inside else "Query"
    chain = " ".join(
        f"fragment F{i} on {kind} {{ ...F{i + 1} ...F{i + 1} }}" for i in range(fragments)
    )
    last = f"fragment F{fragments} on {kind} {{ {'name' if inside else 'region { name }'} }}"
    top = "{ region { ...F0 } }" if inside else "{ ...F0 }"
    return f"{top} {chain} {last}"


@pytest.mark.parametrize("inside", ["", "region"], ids=["at the root", "inside a field"])
def test_fragments_spread_twice_in_a_chain_are_answered_at_once(
    gateway: Gateway, inside: str
) -> None:
    """
    GIVEN a 2 KB query of 40 fragments, each spreading the next twice (2^40 spreads in all)
    WHEN it is posted
    THEN it is answered, well within the client's timeout, as the plain query would be
         (the depth check and the resolver event's selectionSetList once took 2^n steps)
    """
    status, text = exchange(gateway.replica, request(fan_out(40, inside)), gateway.public())

    assert (status, json.loads(text)) == (200, {"data": {"region": {"name": "eu-west-1"}}})
    still_answers(gateway)


def takes_awsjson(named: GraphQLNamedType, seen: set[str] | None = None) -> bool:
    """Whether a value of ``named`` can hold an AWSJSON anywhere inside it."""
    seen = set() if seen is None else seen
    if named.name in seen:
        return False
    seen.add(named.name)
    if isinstance(named, GraphQLInputObjectType):
        inside = (get_named_type(field.type) for field in named.fields.values())
        return any(takes_awsjson(field_type, seen) for field_type in inside)
    return named.name == "AWSJSON"


AWSJSON_BOMBS = {
    "nested 5,000 deep": nested(5_000),
    "a list repeated 200,000 times": "[" + "[0]," * 200_000 + "0]",
    "a key repeated 80,000 times": "{" + '"k": 1, ' * 80_000 + '"k": 2}',
}


@pytest.mark.parametrize("bomb", AWSJSON_BOMBS, ids=list(AWSJSON_BOMBS))
def test_awsjson_bombs_are_refused_before_they_are_parsed(gateway: Gateway, bomb: str) -> None:
    """
    GIVEN the schema, in which no argument or input field takes AWSJSON, so an AWSJSON
          value can only arrive as a variable that nothing uses
    WHEN an AWSJSON variable holds JSON nested thousands deep or repeated to most of a
         megabyte, declared alone or passed where a String goes
    THEN each gets a ValidationError and both regions answer as usual
    """
    schema = load_schema()
    arguments = [
        get_named_type(argument.type)
        for root in (schema.query_type, schema.mutation_type)
        if root is not None
        for field in root.fields.values()
        for argument in field.args.values()
    ]
    assert not any(takes_awsjson(named) for named in arguments)
    value = AWSJSON_BOMBS[bomb]

    for query in (
        "query($j: AWSJSON) { region { name } }",
        "query($j: AWSJSON) { products(category: $j) { nextToken } }",
    ):
        status, text = exchange(gateway.primary, request(query, {"j": value}), gateway.public())
        assert refusal(status, text) == INVALID, query
    still_answers(gateway)
