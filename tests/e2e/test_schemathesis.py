"""Schemathesis against ``POST /graphql``: every query and mutation of the schema, with
arguments that fit it and arguments that break it, gets an answer that is not a 5xx, is
JSON, types its errors, and names nothing of our insides. Derandomized, so every run
sends the same operations."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import pytest
import schemathesis
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.graphql import nodes

from emulator.appsync.auth import DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY
from tests.e2e.support import (
    ERROR_KEYS,
    Gateway,
    free_base_port,
    post,
    start_gateway,
    stop_gateway,
)
from tests.e2e.test_hostile_input import LEAKS, exchange

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

REGIONS = ("us-east-1", "eu-west-1")
EXAMPLES = 24  # for each operation, in each generation mode
MIN_OPERATIONS = 500
WORKERS = 8
# Who may call what (DESIGN.md, Auth): the client token reads products and the region, only
# IAM publishes, and staff may do everything else, so each operation gets past auth.
API_KEY_FIELDS = {"product", "products", "region"}
IAM_FIELDS = {"publishProductChanged", "publishOrderChanged"}
# AppSync declares these scalars itself; schemathesis knows none of them.
_dates = st.dates(min_value=date(1000, 1, 1))  # AWSDate wants four digits
AWS_SCALARS: dict[str, st.SearchStrategy[Any]] = {
    "AWSDate": _dates.map(lambda day: nodes.String(day.isoformat())),
    "AWSTime": st.times().map(lambda at: nodes.String(at.isoformat("seconds") + "Z")),
    "AWSDateTime": st.tuples(_dates, st.times()).map(
        lambda pair: nodes.String(f"{pair[0].isoformat()}T{pair[1].isoformat('seconds')}Z")
    ),
    "AWSTimestamp": st.integers(0, 2**31 - 1).map(nodes.Int),
    "AWSEmail": st.emails().map(nodes.String),
    "AWSJSON": st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    ).map(lambda value: nodes.String(json.dumps(value))),
    "AWSURL": st.from_regex(r"https://[a-z]{1,12}\.example/[a-z0-9/]{0,20}", fullmatch=True).map(
        nodes.String
    ),
    "AWSPhone": st.from_regex(r"\+[0-9]{6,14}", fullmatch=True).map(nodes.String),
    "AWSIPAddress": st.ip_addresses().map(lambda address: nodes.String(str(address))),
}
for _name, _strategy in AWS_SCALARS.items():
    schemathesis.graphql.scalar(_name, _strategy)


Sent = tuple[str, str, int, str]  # operation, generation mode, case number, document


@pytest.fixture(scope="module")
def own_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A gateway of its own: generated writes and publishes reach no other test's data."""
    output = tmp_path_factory.mktemp("schemathesis") / "gateway-dev.log"
    # minVersion past the current version waits this long for the stream, then reads
    # through to the primary: the wait is not under test, and would be most of the run.
    running = start_gateway(output, free_base_port(2), env={"GATEWAY_MIN_VERSION_WAIT_MS": "50"})
    yield running
    exit_code = stop_gateway(running)
    assert exit_code == 0, running.text()
    # An input that broke a resolver would have left its trace in the log.
    assert "Traceback" not in running.text(), running.text()[-3000:]


def examples(operation: Any, mode: GenerationMode) -> list[str]:
    """``EXAMPLES`` documents for one operation, drawn by Hypothesis in ``mode``."""
    documents: list[str] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        # Generation is not what is under test: slow draws and large inputs are welcome.
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def draw(case: Any) -> None:
        documents.append(str(case.body))

    draw()
    return documents


def generated(schema: Any) -> list[Sent]:
    """Every query and mutation, with arguments that fit the schema and ones that break it."""
    documents: list[Sent] = []
    for root in schema:
        for field, operation in schema[root].items():
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                for document in examples(operation, mode):
                    documents.append((field, mode.value, len(documents), document))
    return documents


@dataclass(frozen=True)
class Callers:
    """One credential of each kind, made once: minting a token takes ~50 ms of CPU."""

    key: dict[str, str]
    staff: dict[str, str]

    def headers(self, field: str, region: str, url: str, body: bytes) -> dict[str, str]:
        """The credential that may call ``field``; for IAM, a SigV4 signature over ``body``."""
        if field in API_KEY_FIELDS:
            return self.key
        if field not in IAM_FIELDS:
            return self.staff
        request = AWSRequest(
            "POST",
            url,
            data=body,
            headers={"host": urlsplit(url).netloc, "content-type": "application/json"},
        )
        credentials = Credentials(DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY)
        SigV4Auth(credentials, "appsync", region).add_auth(request)
        return dict(request.headers.items())


def problems_with(status: int, text: str, sent: str) -> list[str]:
    """What is wrong with one answer: a 5xx, not JSON, an untyped error, or a leak."""
    problems = [f"leaks {word!r}" for word in LEAKS if word in text and word not in sent]
    if status >= 500:
        problems.append(f"HTTP {status}")
    try:
        answer = json.loads(text)
    except ValueError:
        return [*problems, "the answer is not JSON"]
    errors = answer.get("errors") if isinstance(answer, dict) else None
    if status >= 400 and not errors:
        problems.append(f"HTTP {status} without errors")
    for error in errors or []:
        if not isinstance(error, dict) or not error.keys() >= ERROR_KEYS:
            problems.append("an error not in AppSync's shape")
        elif error["errorType"] == "InternalFailure":
            problems.append("an input broke a resolver (InternalFailure)")
    return problems


def error_types(text: str) -> str:
    """The answer's error types, for the run's summary: ``ok`` when it has none."""
    try:
        errors = json.loads(text).get("errors") or []
    except (ValueError, AttributeError):
        return "not JSON"
    kinds = {error.get("errorType") if isinstance(error, dict) else None for error in errors}
    return "/".join(sorted(map(str, kinds))) or "ok"


def test_schemathesis_operations_get_typed_answers_and_leak_nothing(own_gateway: Gateway) -> None:
    """
    GIVEN gateway dev with two regions, and its schema as introspection shows it
    WHEN schemathesis generates at least 500 queries and mutations, with arguments that fit
         the schema and arguments that break it, and each is sent to one region as a caller
         allowed to call it (client token, staff token, or SigV4 for publish*)
    THEN no answer is a 5xx, every answer is JSON, every error is typed in AppSync's shape
         and none is an InternalFailure, nothing names a trace, a path or the AWS SDK, and
         afterwards both regions still answer
    """
    gateway = own_gateway
    schema = schemathesis.graphql.from_url(gateway.primary, headers=gateway.public())
    started = time.monotonic()
    documents = generated(schema)
    drawn = time.monotonic() - started
    callers = Callers(gateway.public(), gateway.staff())

    def send(sent: Sent) -> tuple[Sent, int, str]:
        field, _mode, number, document = sent
        region = REGIONS[number % len(REGIONS)]
        url, body = gateway.urls[region], json.dumps({"query": document}).encode()
        status, text = exchange(url, body, callers.headers(field, region, url, body))
        return sent, status, text

    with ThreadPoolExecutor(WORKERS) as pool:
        answers = list(pool.map(send, documents))
    elapsed = time.monotonic() - started

    seen: Counter[str] = Counter()
    problems: dict[str, list[str]] = {}
    for (field, mode, _number, document), status, text in answers:
        seen[f"{field} {mode}: HTTP {status} {error_types(text)}"] += 1
        for problem in problems_with(status, text, document):
            problems.setdefault(problem, []).append(f"{field}: {document!r} -> {text[:300]}")
    print(f"\n{len(answers)} operations in {elapsed:.1f} s ({drawn:.1f} s drawing them)")
    print("\n".join(f"{count:4d} x {kind}" for kind, count in sorted(seen.items())))

    assert not problems, "\n".join(
        f"{len(found)} x {problem}; first: {found[0]}" for problem, found in problems.items()
    )
    assert len(answers) >= MIN_OPERATIONS, seen
    for region in REGIONS:
        status, body = post(gateway.urls[region], "{ region { name } }", headers=gateway.public())
        assert (status, body.get("data")) == (200, {"region": {"name": region}}), body
