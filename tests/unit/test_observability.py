"""The observability module: one line per invocation with its correlation id, EMF by field."""

from __future__ import annotations

import subprocess
import sys
import threading
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import AppSyncResolver

from domain import events
from domain.errors import InternalFailure, NotFound
from projections import publish
from projections.observability import (
    PROJECTION_LAG,
    REPLICATION_LAG,
    RESOLVER_ERRORS,
    RESOLVER_LATENCY,
    Observability,
    current_correlation_id,
)
from projections.settings import Settings
from projections.stream import StreamProjector, lags
from resolvers.handler import ResolverHandler, correlation_id_of
from tests.fixtures import load_fixture
from tests.log_lines import captured

from .fakes import FakeProjectionTable

SERVICE = "gateway-test-observability"


def _observed(blobs: list[dict[str, Any]], region: str = "eu-west-1") -> Observability:
    return Observability(SERVICE, region=region, namespace="Gateway", emf_sink=blobs.append)


def _metrics(blob: dict[str, Any]) -> dict[str, str]:
    """Metric name -> unit, as CloudWatch reads them from one EMF blob."""
    (directive,) = blob["_aws"]["CloudWatchMetrics"]
    return {metric["Name"]: metric["Unit"] for metric in directive["Metrics"]}


def test_a_resolver_call_logs_one_line_with_its_correlation_id() -> None:
    """GIVEN a resolver invocation WHEN it ends THEN exactly one ``resolved`` line says its
    correlation id, field, region and latency, and nothing logged after it carries them."""
    observability = _observed([])

    with captured(SERVICE) as lines:
        with observability.resolver_call("Mutation.placeOrder", "req-42"):
            pass
        observability.logger.info("between invocations")

    (resolved,) = lines.where(message="resolved")
    assert resolved["correlation_id"] == "req-42"
    assert (resolved["field"], resolved["region"]) == ("Mutation.placeOrder", "eu-west-1")
    assert resolved["latency_ms"] >= 0
    assert "correlation_id" not in lines.where(message="between invocations")[0]


def test_a_resolver_call_emits_latency_and_errors_by_field_in_emf() -> None:
    """GIVEN a resolver invocation WHEN it ends THEN one EMF blob in the Gateway namespace
    holds ResolverLatency (ms) and ResolverErrors (0), dimensioned by Field and service."""
    blobs: list[dict[str, Any]] = []

    with _observed(blobs).resolver_call("Query.product", "req-1"):
        pass

    (blob,) = blobs
    (directive,) = blob["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "Gateway"
    assert _metrics(blob) == {RESOLVER_LATENCY: "Milliseconds", RESOLVER_ERRORS: "Count"}
    assert sorted(directive["Dimensions"][0]) == ["Field", "service"]
    assert (blob["Field"], blob["service"]) == ("Query.product", SERVICE)
    assert blob[RESOLVER_ERRORS] == [0.0]
    assert blob["correlation_id"] == "req-1"


def test_a_failing_resolver_counts_an_internal_failure_and_answers_it() -> None:
    """GIVEN a resolver that crashes WHEN the handler runs it THEN the caller gets
    InternalFailure, the field's ResolverErrors is 1, and its line says InternalFailure
    under the request's correlation id."""
    app = AppSyncResolver()

    @app.resolver(type_name="Query", field_name="product")
    def product(id: str) -> dict[str, Any]:
        raise RuntimeError("boom")

    blobs: list[dict[str, Any]] = []
    handler = ResolverHandler(app, _observed(blobs))
    event = {
        "arguments": {"id": "p-1"},
        "request": {"headers": {"x-correlation-id": "req-crash"}},
        "info": {"parentTypeName": "Query", "fieldName": "product"},
    }

    with captured(SERVICE) as lines, pytest.raises(InternalFailure):
        handler(event, None)

    assert blobs[0][RESOLVER_ERRORS] == [1.0]
    (resolved,) = lines.where(message="resolved")
    assert (resolved["error_type"], resolved["correlation_id"]) == ("InternalFailure", "req-crash")
    assert lines.where(message="resolver failed", correlation_id="req-crash")


def test_a_refused_request_counts_as_an_error_of_its_type() -> None:
    """GIVEN a resolver that refuses (NotFound) WHEN it ends THEN the error is counted and
    named, and the refusal reaches the caller unchanged."""
    blobs: list[dict[str, Any]] = []

    observability = _observed(blobs)

    with (
        captured(SERVICE) as lines,
        pytest.raises(NotFound),
        observability.resolver_call("Query.order", "req-2"),
    ):
        raise NotFound("Order o-1 does not exist.")

    assert blobs[0][RESOLVER_ERRORS] == [1.0]
    assert lines.where(message="resolved")[0]["error_type"] == "NotFound"


def test_concurrent_invocations_keep_their_own_correlation_ids() -> None:
    """GIVEN two invocations at once in one process, as gateway dev runs them WHEN both
    log while the other is open THEN each line carries its own invocation's id."""
    observability = _observed([])
    first_open, second_done = threading.Event(), threading.Event()

    def first() -> None:
        with observability.resolver_call("Query.product", "req-first"):
            first_open.set()
            second_done.wait(5)
            observability.logger.info("inside")

    with captured(SERVICE) as lines:
        thread = threading.Thread(target=first)
        thread.start()
        first_open.wait(5)
        with observability.resolver_call("Query.order", "req-second"):
            observability.logger.info("inside")
        second_done.set()
        thread.join(5)

    inside = {line["field"]: line["correlation_id"] for line in lines.where(message="inside")}
    assert inside == {"Query.product": "req-first", "Query.order": "req-second"}


class CorrelatedPublisher:
    """Stands in for AppSync; remembers the correlation id each publish was made under."""

    def __init__(self) -> None:
        self.published: list[tuple[str, int, str]] = []

    def product_changed(self, product: dict[str, Any]) -> None:
        self.published.append((product["id"], product["version"], current_correlation_id()))

    def order_changed(self, order: dict[str, Any]) -> None:
        self.published.append((order["id"], order["version"], current_correlation_id()))


def test_each_stream_record_is_logged_and_published_under_its_writes_correlation_id() -> None:
    """GIVEN a batch of three events written by three requests WHEN the stream handler
    applies it THEN each record's ``projected`` and ``published`` lines, and its publish
    call, carry the id its write stored."""
    batch = load_fixture("events/stream_batch.json")
    publisher = CorrelatedPublisher()
    projector = StreamProjector(FakeProjectionTable(), publisher, _observed([]))

    with captured(SERVICE) as lines:
        projector.handle(batch)

    ids = ["req-0001", "req-0002", "req-0003"]
    assert [line["correlation_id"] for line in lines.where(message="projected")] == ids
    published = lines.where(message="published", mutation=publish.PUBLISH_PRODUCT)
    assert [line["correlation_id"] for line in published] == ids
    assert [(version, cid) for _, version, cid in publisher.published] == list(
        zip([1, 2, 3], ids, strict=True)
    )
    assert lines.where(message="projected")[0]["event_type"] == "ProductCreated"


def test_a_stream_batch_emits_each_records_lags_in_one_blob() -> None:
    """GIVEN a batch of three events WHEN the stream handler applies it THEN one EMF blob
    holds three ProjectionLag and three ReplicationLag values, in ms."""
    blobs: list[dict[str, Any]] = []
    projector = StreamProjector(FakeProjectionTable(), CorrelatedPublisher(), _observed(blobs))

    projector.handle(load_fixture("events/stream_batch.json"))

    (blob,) = blobs
    assert _metrics(blob) == {PROJECTION_LAG: "Milliseconds", REPLICATION_LAG: "Milliseconds"}
    assert len(blob[PROJECTION_LAG]) == len(blob[REPLICATION_LAG]) == 3


def test_a_batch_without_events_emits_no_metrics_and_does_not_fail() -> None:
    """GIVEN a batch holding only a deletion WHEN it is handled THEN nothing is flushed (no
    empty EMF blob, no error) and the batch succeeds."""
    blobs: list[dict[str, Any]] = []
    projector = StreamProjector(FakeProjectionTable(), CorrelatedPublisher(), _observed(blobs))
    removal = {**load_fixture("events/stream_batch.json")["Records"][0], "eventName": "REMOVE"}

    answer = projector.handle({"Records": [removal]})

    assert (answer, blobs) == ({"batchItemFailures": []}, [])


def test_more_values_than_one_emf_blob_holds_go_out_in_several(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """GIVEN 250 records in one invocation WHEN their lags are added THEN they leave in
    blobs of at most 100 values each, all through the sink, and none is lost or printed."""
    blobs: list[dict[str, Any]] = []

    with _observed(blobs).stream_batch() as batch:
        for lag in range(250):
            batch.projected(True, lag, 0)

    sizes = [len(blob[PROJECTION_LAG]) for blob in blobs]
    assert max(sizes) <= 100 and sum(sizes) == 250
    assert sorted(v for blob in blobs for v in blob[PROJECTION_LAG]) == list(map(float, range(250)))
    assert capsys.readouterr().out == ""


def test_on_lambda_emf_goes_to_stdout_as_one_line_per_invocation(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """GIVEN no sink (on Lambda) WHEN an invocation ends THEN its EMF is one JSON line on
    stdout, which CloudWatch Logs turns into metrics."""
    import json

    with Observability(SERVICE).resolver_call("Query.region", "req-3"):
        pass

    (line,) = [line for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert json.loads(line)["Field"] == "Query.region"


@pytest.mark.parametrize(
    ("created_s", "occurred_at", "now_s", "expected"),
    [
        # Created in the same second as the write: the write's own ms bound it.
        (1714564800, "2024-05-01T12:00:00.250Z", 1714564800.400, (150, 0)),
        # Replicated 3 s later: creation, to the second, splits the age.
        (1714564803, "2024-05-01T12:00:00.250Z", 1714564803.500, (500, 2750)),
        # No creation time: all of the age counts as projection lag.
        (None, "2024-05-01T12:00:00.000Z", 1714564801.0, (1000, 0)),
    ],
)
def test_lags_split_a_records_age_at_its_creation(
    created_s: int | None, occurred_at: str, now_s: float, expected: tuple[int, int]
) -> None:
    """GIVEN a record's creation second and its write's time WHEN it is applied THEN the
    projection and replication lags add up to its age, split at its creation."""
    assert lags(created_s, occurred_at, now_s) == expected


def test_a_correlation_id_comes_from_the_caller_or_the_lambda_request() -> None:
    """GIVEN requests with and without a usable x-correlation-id WHEN one is chosen THEN a
    short printable one is kept, else the Lambda request id is used."""

    class Context:
        aws_request_id = "lambda-req-1"

    def event(value: str) -> dict[str, Any]:
        return {"request": {"headers": {"x-correlation-id": value}}}

    assert correlation_id_of(event("from-publisher"), None) == "from-publisher"
    assert correlation_id_of(event("x" * 500), Context()) == "lambda-req-1"
    assert correlation_id_of(event("bad\nid"), Context()) == "lambda-req-1"
    assert len(correlation_id_of({}, None)) == 36  # a new UUID


def test_the_publish_mutation_carries_the_correlation_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """GIVEN a record being applied under a correlation id WHEN its publish mutation is
    sent THEN the signed request carries it in x-correlation-id."""
    from botocore.credentials import Credentials

    sent: list[Any] = []

    class Answer:
        def __enter__(self) -> Answer:
            return self

        def __exit__(self, *_: object) -> None:
            return None

        def read(self) -> bytes:
            return b'{"data": {}}'

    def urlopen(request: Any, timeout: float) -> Answer:
        sent.append(request)
        return Answer()

    monkeypatch.setattr(publish.urllib.request, "urlopen", urlopen)
    publisher = publish.AppSyncPublisher(
        "http://127.0.0.1:1/graphql", "eu-west-1", Credentials("AKID", "secret")
    )
    created = events.from_item(load_fixture("events/ProductCreated.json"))
    product = events.aggregate_of(created).to_data()

    with _observed([]).stream_batch() as batch, batch.record("req-pub"):
        publisher.product_changed(product)

    assert sent[0].get_header("X-correlation-id") == "req-pub"
    assert "x-correlation-id" in sent[0].get_header("Authorization")


def test_settings_ask_for_tracing_only_when_told_false() -> None:
    """GIVEN POWERTOOLS_TRACE_DISABLED unset, true or false WHEN settings are parsed THEN
    only an explicit false turns tracing on; a value that is neither names the variable."""
    assert Settings.from_env({}).tracing is False
    assert Settings.from_env({"POWERTOOLS_TRACE_DISABLED": "true"}).tracing is False
    assert Settings.from_env({"POWERTOOLS_TRACE_DISABLED": "false"}).tracing is True
    with pytest.raises(ValueError, match="POWERTOOLS_TRACE_DISABLED"):
        Settings.from_env({"POWERTOOLS_TRACE_DISABLED": "maybe"})
    named = Settings.from_env({"POWERTOOLS_METRICS_NAMESPACE": "Shop"})
    assert (Settings.from_env({}).metrics_namespace, named.metrics_namespace) == ("Gateway", "Shop")


_BUILD = """
import sys
import resolvers.handler
from projections.observability import Observability
from projections.settings import Settings
observability = Observability.for_lambda("gateway-resolvers", Settings.from_env())
with observability.resolver_call("Query.region", "req-traced"):
    pass
print(observability.tracer is not None, "aws_xray_sdk" in sys.modules)
"""


@pytest.mark.parametrize(
    ("disabled", "expected"),
    [(None, "False False"), ("true", "False False"), ("false", "True True")],
)
def test_the_tracer_and_its_sdk_load_only_when_asked_for(
    disabled: str | None, expected: str
) -> None:
    """GIVEN a fresh interpreter, as a cold start is WHEN the resolver handler is imported
    and its observability built THEN aws_xray_sdk (about 330 ms) is imported only when
    POWERTOOLS_TRACE_DISABLED=false, and a traced invocation still runs outside Lambda."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "POWERTOOLS_TRACE_DISABLED"}
    if disabled is not None:
        env["POWERTOOLS_TRACE_DISABLED"] = disabled

    result = subprocess.run(
        [sys.executable, "-c", _BUILD], capture_output=True, text=True, env=env, timeout=60
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected
