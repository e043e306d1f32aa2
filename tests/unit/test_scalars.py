"""AppSync's scalars: bad input is refused before any resolver runs; AWSJSON round-trips."""

from __future__ import annotations

import asyncio
import json
from importlib import resources
from typing import Any

import pytest
from graphql import build_schema, execute_sync, parse

from emulator.appsync import scalars

SDL = """
type Query {
  echo(
    d: AWSDate, t: AWSTime, dt: AWSDateTime, ts: AWSTimestamp, e: AWSEmail,
    j: AWSJSON, u: AWSURL, p: AWSPhone, ip: AWSIPAddress
  ): AWSJSON
}
"""


def _echo(variables: dict[str, Any]) -> tuple[Any, list[str]]:
    prelude = resources.files("schema").joinpath("appsync.graphql").read_text()
    schema = build_schema(prelude + SDL)
    scalars.install(schema)
    declared = ", ".join(
        f"${name}: {kind}"
        for name, kind in {
            "d": "AWSDate", "t": "AWSTime", "dt": "AWSDateTime", "ts": "AWSTimestamp",
            "e": "AWSEmail", "j": "AWSJSON", "u": "AWSURL", "p": "AWSPhone",
            "ip": "AWSIPAddress",
        }.items()
    )  # fmt: skip
    passed = ", ".join(
        f"{name}: ${name}" for name in ("d", "t", "dt", "ts", "e", "j", "u", "p", "ip")
    )
    document = parse(f"query({declared}) {{ echo({passed}) }}")
    result = execute_sync(
        schema,
        document,
        root_value={"echo": lambda _info, **arguments: arguments},
        variable_values=variables,
    )
    messages = [error.message for error in result.errors or []]
    return (result.data or {}).get("echo"), messages


def test_valid_values_of_every_scalar_pass_and_awsjson_round_trips() -> None:
    """GIVEN one valid value of each scalar THEN the resolver receives them (AWSJSON
    parsed into an object) and the AWSJSON answer is a JSON string."""
    sent = {
        "d": "2026-11-23",
        "t": "12:30:05.123Z",
        "dt": "2026-11-23T12:30:05.123Z",
        "ts": 1795000000,
        "e": "ana@example.com",
        "j": '{"a": [1, 2]}',
        "u": "https://example.com/x?y=1",
        "p": "+44 20 7946 0958",
        "ip": "10.0.0.0/8",
    }
    echoed, errors = _echo(sent)
    assert errors == []
    received = json.loads(echoed)
    assert received["j"] == {"a": [1, 2]}
    assert received["dt"] == sent["dt"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("d", "2026-13-01"),
        ("d", "23/11/2026"),
        ("t", "25:00"),
        ("dt", "2026-11-23T12:30:05"),  # AppSync requires the zone
        ("dt", "2026-11-23 12:30:05Z"),
        ("dt", "2026-02-30T00:00:00Z"),
        ("ts", "1795000000"),
        ("ts", 1.5),
        ("e", "not-an-email"),
        ("e", "ana@example.com\n"),
        ("j", "{not json"),
        ("j", 5),
        ("u", "example.com"),
        ("p", "call me"),
        ("ip", "300.1.1.1"),
    ],
)
def test_invalid_input_names_the_scalar_and_reaches_no_resolver(name: str, value: Any) -> None:
    """GIVEN one bad value WHEN coerced THEN an error naming the scalar, and no data."""
    echoed, errors = _echo({name: value})
    assert echoed is None
    assert len(errors) == 1
    assert "AWS" in errors[0]


def test_a_bad_literal_in_an_operation_is_a_validation_error_and_invokes_nothing() -> None:
    """GIVEN registerCustomer with a literal email that is not one WHEN executed THEN
    errorType ValidationError naming AWSEmail, and the resolver Lambda is not invoked."""
    from emulator.appsync.auth import Caller
    from emulator.appsync.executor import Executor, load_schema

    invoked: list[dict[str, Any]] = []
    executor = Executor(load_schema(), invoked.append)
    query = 'mutation { registerCustomer(input: {email: "nope", name: "Ana"}) { id } }'

    outcome = asyncio.run(executor.execute(query, None, None, Caller("AWS_LAMBDA")))

    error = outcome.response["errors"][0]
    assert (error["errorType"], "AWSEmail" in error["message"]) == ("ValidationError", True)
    assert invoked == []
