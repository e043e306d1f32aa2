"""The write-ahead journal, the stream positions and replication's writes, with fakes
(no sockets, no moto): what is journaled, in what order, and what a crash leaves."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from emulator.cloud.journal import (
    Items,
    Journal,
    JournalCorrupt,
    JournalInUse,
    Request,
    durable,
    encode,
    recording,
    replay_environ,
)
from emulator.cloud.positions import POLLER, REPLICATION
from emulator.cloud.replica_writes import MAX_CHANGES_PER_WRITE, Change, ReplicaWriter
from emulator.cloud.streams import StreamPoller, StreamReader

AUTHORIZATION = (
    "AWS4-HMAC-SHA256 Credential=AKIAGATEWAYLOCAL0001/20260101/{region}/dynamodb/"
    "aws4_request, SignedHeaders=host;x-amz-target, Signature=abc"
)
FIRST_SEQUENCE = 1100000000017454423009


def put(pk: str, region: str = "us-east-1") -> Request:
    item = {"pk": {"S": pk}, "sk": {"S": "STATE"}}
    return Request(region, "PutItem", {"TableName": "gateway-write", "Item": item})


def create_table(name: str) -> Request:
    return Request("us-east-1", "CreateTable", {"TableName": name})


def opened(path: Path) -> tuple[Journal, list[Any]]:
    journal = Journal(path)
    return journal, journal.open()


# --- the file: order, torn tails, corruption ---------------------------------------


def test_entries_come_back_in_the_order_they_were_appended(tmp_path: Path) -> None:
    """GIVEN a journal WHEN three requests and a snapshot are appended, and it is opened
    again THEN they come back in that order, with their regions and marks."""
    path = tmp_path / "dynamodb.journal"
    journal, _ = opened(path)
    written = [
        create_table("gateway-write"),
        put("PRODUCT#1"),
        Request("eu-west-1", "PutItem", {"TableName": "t"}, {"x-gateway-replicated-write": "1"}),
        Items("eu-west-1", "t", [{"pk": {"S": "a"}}]),
    ]
    for entry in written:
        journal.sync(journal.append(entry))
    journal.close()

    again, entries = opened(path)

    assert entries == written
    assert again.table_requests == [create_table("gateway-write")]
    again.close()


def test_a_torn_last_line_is_dropped_with_a_warning_and_cut_off(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """GIVEN two whole entries and the start of a third, as a kill mid-append leaves them
    WHEN the journal is opened THEN the two come back, a warning names the file and the
    line, the torn bytes are cut off, and what is appended next reads back whole."""
    path = tmp_path / "dynamodb.journal"
    path.write_bytes(encode(put("A")) + encode(put("B")) + encode(put("C"))[:40])

    with caplog.at_level(logging.WARNING, logger="gateway.journal"):
        journal, entries = opened(path)

    assert entries == [put("A"), put("B")]
    assert f"{path}, line 3: dropped a torn last entry" in caplog.text
    assert path.read_bytes() == encode(put("A")) + encode(put("B"))
    journal.sync(journal.append(put("D")))
    journal.close()
    assert opened(path)[1] == [put("A"), put("B"), put("D")]


@pytest.mark.parametrize(
    "spoil",
    [
        lambda line: line.replace(b"PRODUCT", b"PRODUKT"),  # altered: the checksum fails
        lambda line: line[:30],  # cut short, but followed by more lines
        lambda line: b"not a journal line",
    ],
    ids=["altered", "cut-short", "garbage"],
)
def test_a_bad_line_before_the_last_stops_start_up_naming_the_file_and_line(
    tmp_path: Path, spoil: Callable[[bytes], bytes]
) -> None:
    """GIVEN a journal whose second of three lines does not check out WHEN it is opened
    THEN JournalCorrupt names the file and line 2, and the file is left as it was."""
    path = tmp_path / "dynamodb.journal"
    lines = [encode(put(f"PRODUCT#{n}")) for n in range(3)]
    original = lines[0] + spoil(lines[1].rstrip(b"\n")) + b"\n" + lines[2]
    path.write_bytes(original)

    with pytest.raises(JournalCorrupt) as raised:
        Journal(path).open()

    assert raised.value.line == 2
    assert f"{path}, line 2:" in str(raised.value)
    assert "--fresh" in str(raised.value)
    assert path.read_bytes() == original


def test_a_second_process_cannot_open_a_journal_in_use(tmp_path: Path) -> None:
    """GIVEN a journal opened by one emulator WHEN another opens it THEN it is refused,
    since two writers would interleave their entries."""
    journal, _ = opened(tmp_path / "dynamodb.journal")

    with pytest.raises(JournalInUse, match="in use by another gateway dev"):
        Journal(tmp_path / "dynamodb.journal").open()
    journal.close()


def test_fresh_starts_empty(tmp_path: Path) -> None:
    """GIVEN a journal with entries WHEN it is opened fresh THEN it holds nothing."""
    path = tmp_path / "dynamodb.journal"
    path.write_bytes(encode(put("A")))

    journal = Journal(path, fresh=True)

    assert journal.open() == []
    assert path.read_bytes() == b""
    journal.close()


def test_a_rewrite_replaces_every_entry_and_appending_goes_on_after_it(tmp_path: Path) -> None:
    """GIVEN a journal of history WHEN compaction rewrites it as a snapshot and a write
    follows THEN reopening gives the snapshot, then the write; no temporary file is left."""
    path = tmp_path / "dynamodb.journal"
    journal, _ = opened(path)
    for pk in ("A", "B", "A"):
        journal.append(put(pk))
    snapshot = [create_table("gateway-write"), Items("us-east-1", "gateway-write", [])]

    journal.rewrite(snapshot)
    journal.sync(journal.append(put("C")))
    journal.close()

    assert opened(path)[1] == [*snapshot, put("C")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dynamodb.journal"]


# --- the WSGI wrappers: what is journaled, and when it is answered -------------------


class FakeMoto:
    """A WSGI app answering every request with ``status``; remembers the bodies it read."""

    def __init__(self, status: str = "200 OK") -> None:
        self.status = status
        self.bodies: list[bytes] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        self.bodies.append(environ["wsgi.input"].read())
        start_response(self.status, [("Content-Type", "application/x-amz-json-1.0")])
        return [b"{}"]


def environ(
    target: str, body: dict[str, Any], region: str = "us-east-1", **headers: str
) -> dict[str, Any]:
    data = json.dumps(body).encode()
    env = {
        "REQUEST_METHOD": "POST",
        "HTTP_X_AMZ_TARGET": target,
        "HTTP_AUTHORIZATION": AUTHORIZATION.format(region=region),
        "CONTENT_LENGTH": str(len(data)),
        "wsgi.input": io.BytesIO(data),
    }
    env |= {"HTTP_" + name.upper(): value for name, value in headers.items()}
    return env


def call(app: Callable[..., Iterable[bytes]], env: dict[str, Any]) -> bytes:
    return b"".join(app(env, lambda status, headers, exc_info=None: None))


@pytest.mark.parametrize(
    "target",
    [
        "DynamoDB_20120810.GetItem",
        "DynamoDB_20120810.Query",
        "DynamoDB_20120810.Scan",
        "DynamoDB_20120810.BatchGetItem",
        "DynamoDB_20120810.DescribeTable",
        "DynamoDBStreams_20120810.GetRecords",
        "DynamoDBStreams_20120810.GetShardIterator",
    ],
)
def test_reads_and_stream_calls_are_not_journaled(tmp_path: Path, target: str) -> None:
    """GIVEN the journaling app WHEN a read or a stream call is answered THEN the journal
    stays empty."""
    journal, _ = opened(tmp_path / "dynamodb.journal")
    app = recording(FakeMoto(), journal)

    call(app, environ(target, {"TableName": "gateway-write"}))

    journal.close()
    assert opened(tmp_path / "dynamodb.journal")[1] == []


@pytest.mark.parametrize(
    "action",
    [
        "CreateTable",
        "DeleteTable",
        "UpdateTable",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "BatchWriteItem",
        "TransactWriteItems",
        "ExecuteStatement",
    ],
)
def test_every_accepted_write_is_journaled_as_sent_with_its_signed_region(
    tmp_path: Path, action: str
) -> None:
    """GIVEN the journaling app WHEN moto accepts a write signed for eu-west-1 THEN the
    journal holds it, for eu-west-1, with its body, and moto read the body unchanged."""
    journal, _ = opened(tmp_path / "dynamodb.journal")
    moto = FakeMoto()
    body = {"TableName": "gateway-write", "Item": {"pk": {"S": "A"}}}

    call(recording(moto, journal), environ(f"DynamoDB_20120810.{action}", body, "eu-west-1"))

    journal.close()
    assert opened(tmp_path / "dynamodb.journal")[1] == [Request("eu-west-1", action, body)]
    assert moto.bodies == [json.dumps(body).encode()]


def test_a_refused_write_is_not_journaled(tmp_path: Path) -> None:
    """GIVEN moto refusing a conditional put (400) WHEN it is sent THEN nothing is journaled:
    a replay must not apply what was never applied."""
    journal, _ = opened(tmp_path / "dynamodb.journal")
    app = recording(FakeMoto("400 Bad Request"), journal)

    call(app, environ("DynamoDB_20120810.PutItem", {"TableName": "t"}))

    journal.close()
    assert opened(tmp_path / "dynamodb.journal")[1] == []


def test_a_write_without_a_signed_region_is_not_journaled(tmp_path: Path) -> None:
    """GIVEN a write with no SigV4 scope WHEN moto answers it THEN it is not journaled: a
    replay could not tell which region's tables it changed."""
    journal, _ = opened(tmp_path / "dynamodb.journal")
    env = environ("DynamoDB_20120810.PutItem", {"TableName": "t"})
    del env["HTTP_AUTHORIZATION"]

    call(recording(FakeMoto(), journal), env)

    journal.close()
    assert opened(tmp_path / "dynamodb.journal")[1] == []


def test_the_gateway_headers_are_kept_and_sent_again_on_replay(tmp_path: Path) -> None:
    """GIVEN a replicated write (it carries x-gateway-replicated-write) WHEN it is journaled
    and replayed THEN the replayed request carries the header, the region and the body."""
    journal, _ = opened(tmp_path / "dynamodb.journal")
    body = {"TableName": "t", "Item": {"pk": {"S": "A"}}}
    env = environ("DynamoDB_20120810.PutItem", body, X_GATEWAY_REPLICATED_WRITE="1")

    call(recording(FakeMoto(), journal), env)
    journal.close()
    [entry] = opened(tmp_path / "dynamodb.journal")[1]
    replayed = replay_environ(entry)

    assert entry.marks == {"x-gateway-replicated-write": "1"}
    assert replayed["HTTP_X_GATEWAY_REPLICATED_WRITE"] == "1"
    assert "/us-east-1/dynamodb/" in replayed["HTTP_AUTHORIZATION"]
    assert json.loads(replayed["wsgi.input"].read()) == body


def test_a_write_is_answered_only_after_its_entry_is_synced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN the journaling app behind the durable wrapper WHEN a write is answered THEN an
    fsync ran after its entry was written and before the answer came back; a read waits
    for none."""
    journal, _ = opened(tmp_path / "dynamodb.journal")
    events: list[str] = []
    fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), fsync(fd))[1])
    app = durable(recording(FakeMoto(), journal), journal)

    call(app, environ("DynamoDB_20120810.GetItem", {"TableName": "t"}))
    events.append("read answered")
    call(app, environ("DynamoDB_20120810.PutItem", {"TableName": "t"}))
    events.append("write answered")

    assert events == ["read answered", "fsync", "write answered"]
    journal.close()


def test_one_fsync_serves_every_write_already_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN three entries written before anyone synced WHEN each waits for its own THEN
    the first fsync covers all three (group commit)."""
    journal, _ = opened(tmp_path / "dynamodb.journal")
    tickets = [journal.append(put(pk)) for pk in "ABC"]
    synced: list[int] = []
    fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), fsync(fd))[1])

    for ticket in tickets:
        journal.sync(ticket)

    assert len(synced) == 1
    journal.close()


def test_a_journal_that_cannot_be_written_refuses_writes_but_not_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN a disk that is full WHEN a write is sent THEN the client gets a 500, not an
    acknowledgement, and every later write is refused before moto sees it; reads are
    still answered."""
    journal, _ = opened(tmp_path / "dynamodb.journal")
    moto = FakeMoto()
    app = recording(moto, journal)
    statuses: list[str] = []

    def full(fd: int, data: Any) -> int:
        raise OSError(28, "No space left on device")

    def send(target: str) -> None:
        env = environ(target, {"TableName": "t"})
        b"".join(app(env, lambda status, headers, exc_info=None: statuses.append(status)))

    monkeypatch.setattr(os, "write", full)
    send("DynamoDB_20120810.PutItem")
    send("DynamoDB_20120810.PutItem")
    send("DynamoDB_20120810.GetItem")

    assert statuses == ["500 Internal Server Error", "500 Internal Server Error", "200 OK"]
    assert len(moto.bodies) == 2  # the first write (applied, not acknowledged) and the read
    journal.close()


# --- stream positions ------------------------------------------------------------------


class FakePositions:
    """A region's positions table in memory."""

    def __init__(self) -> None:
        self.saved: dict[tuple[str, str], str] = {}
        self.saves = 0

    def get(self, consumer: str, source: str) -> str | None:
        return self.saved.get((consumer, source))

    def save(self, consumer: str, source: str, sequence: str) -> None:
        self.saved[(consumer, source)] = sequence
        self.saves += 1

    def put(self, consumer: str, source: str, sequence: str) -> dict[str, Any]:
        item = {"pk": {"S": consumer}, "sk": {"S": source}, "sequence": {"S": sequence}}
        return {"TableName": "gateway-stream-positions", "Item": item}


class FakeStream:
    """One shard of a stream, numbered as moto numbers it, read as DynamoDB Streams reads."""

    def __init__(self, pks: list[str]) -> None:
        self.records = [
            {
                "eventName": "INSERT",
                "dynamodb": {
                    "SequenceNumber": str(FIRST_SEQUENCE + index),
                    "Keys": {"pk": {"S": pk}, "sk": {"S": "EVENT#1"}},
                    "NewImage": {
                        "pk": {"S": pk},
                        "sk": {"S": "EVENT#1"},
                        "recordKind": {"S": "EVENT"},
                    },
                },
            }
            for index, pk in enumerate(pks)
        ]
        self.iterator_requests: list[dict[str, str]] = []

    def describe_stream(self, *, StreamArn: str) -> dict[str, Any]:
        return {"StreamDescription": {"Shards": [{"ShardId": "shard-1"}]}}

    def get_shard_iterator(self, **request: str) -> dict[str, Any]:
        self.iterator_requests.append(request)
        if request["ShardIteratorType"] == "AFTER_SEQUENCE_NUMBER":
            return {"ShardIterator": str(int(request["SequenceNumber"]) - FIRST_SEQUENCE + 1)}
        return {"ShardIterator": "0"}

    def get_records(self, *, ShardIterator: str, Limit: int) -> dict[str, Any]:
        start = int(ShardIterator)
        records = self.records[start : start + Limit]
        return {"Records": records, "NextShardIterator": str(start + len(records))}


def poller(stream: FakeStream, positions: FakePositions, applied: list[str]) -> StreamPoller:
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        applied.extend(record["dynamodb"]["NewImage"]["pk"]["S"] for record in event["Records"])
        return {"batchItemFailures": []}

    built = StreamPoller("us-east-1", StreamReader(stream, "arn"), handler)
    built.resume(positions)  # type: ignore[arg-type]
    return built


def test_a_restarted_poller_starts_after_the_last_record_it_handled() -> None:
    """GIVEN a poller that handled a stream of three records and saved its position WHEN
    the stream grows by two and a new poller resumes from the same positions THEN the new
    one is handed only the two new records, and saves the last one's number."""
    stream, positions, applied = FakeStream(["A", "B", "C"]), FakePositions(), []
    poller(stream, positions, applied).take()
    assert positions.saved == {(POLLER, "us-east-1"): str(FIRST_SEQUENCE + 2)}
    stream.records += FakeStream(["A", "B", "C", "D", "E"]).records[3:]

    restarted: list[str] = []
    poller(stream, positions, restarted).take()

    assert applied == ["A", "B", "C"]
    assert restarted == ["D", "E"]
    assert stream.iterator_requests[-1]["ShardIteratorType"] == "AFTER_SEQUENCE_NUMBER"
    assert positions.saved[(POLLER, "us-east-1")] == str(FIRST_SEQUENCE + 4)


def test_a_poller_saves_its_position_after_each_batch_it_settles_and_only_then() -> None:
    """GIVEN a running poller WHEN it reads a batch, then one whose poison record cannot be
    parked at first (the region is down), then nothing THEN it saves once per batch, only
    once the batch is settled, and not for a read that found nothing: what a restart
    hands it again is the batch in hand."""
    stream, positions, applied, parked = FakeStream(["A"]), FakePositions(), [], []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        records = event["Records"]
        pks = [record["dynamodb"]["NewImage"]["pk"]["S"] for record in records]
        applied.extend(pk for pk in pks if pk != "POISON")
        failed = [r for r, pk in zip(records, pks, strict=True) if pk == "POISON"]
        return {
            "batchItemFailures": [
                {"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in failed
            ]
        }

    def park(record: dict[str, Any], attempts: int) -> None:
        if not parked:
            parked.append("refused")
            raise ClientError({"Error": {"Code": "ServiceUnavailable"}}, "PutItem")
        parked.append(record["dynamodb"]["NewImage"]["pk"]["S"])

    running = StreamPoller("us-east-1", StreamReader(stream, "arn"), handler, park=park)
    running.resume(positions)  # type: ignore[arg-type]
    running.take()
    stream.records += FakeStream(["A", "POISON"]).records[1:]
    with pytest.raises(ClientError):
        running.take()
    assert positions.saved[(POLLER, "us-east-1")] == str(FIRST_SEQUENCE)
    running.take()  # the poison is parked now
    running.take()  # nothing new

    assert (applied, parked) == (["A"], ["refused", "POISON"])
    assert positions.saves == 2
    assert positions.saved[(POLLER, "us-east-1")] == str(FIRST_SEQUENCE + 1)


# --- replication's writes ------------------------------------------------------------


class FakeClient:
    """A DynamoDB client that records the transactions it is sent."""

    def __init__(self) -> None:
        self.transactions: list[list[dict[str, Any]]] = []

    def transact_write_items(self, *, TransactItems: list[dict[str, Any]]) -> dict[str, Any]:
        self.transactions.append(TransactItems)
        return {}


def change(source: str, index: int, pk: str) -> Change:
    record = FakeStream([pk]).records[0]
    record["dynamodb"]["SequenceNumber"] = str(FIRST_SEQUENCE + index)
    return Change(source, 0.0, record)


def test_copies_land_with_the_position_of_the_last_change_from_each_source() -> None:
    """GIVEN changes from two regions due in eu-west-1 WHEN one write carries them THEN it is
    one transaction: every copy, and for each source the position of its last change."""
    client = FakeClient()
    writer = ReplicaWriter(client, "gateway-write", FakePositions())  # type: ignore[arg-type]
    due = [change("us-east-1", 0, "A"), change("ap-south-1", 7, "B"), change("us-east-1", 1, "C")]

    assert writer.take(due) == 3
    assert writer.write(due) == [True, True, True]

    [transaction] = client.transactions
    copies = [op["Put"]["Item"]["pk"]["S"] for op in transaction[:3]]
    saved = {op["Put"]["Item"]["sk"]["S"]: op["Put"]["Item"] for op in transaction[3:]}
    assert copies == ["A", "B", "C"]
    assert {source: item["sequence"]["S"] for source, item in saved.items()} == {
        "us-east-1": str(FIRST_SEQUENCE + 1),
        "ap-south-1": str(FIRST_SEQUENCE + 7),
    }
    assert {item["pk"]["S"] for item in saved.values()} == {REPLICATION}


def test_a_superseded_copy_is_left_out_but_its_position_is_saved() -> None:
    """GIVEN three due changes, the middle one older than what eu-west-1 holds of its item
    WHEN they are written THEN the transaction copies the other two and still saves the
    source's position past all three, so a restart does not offer the stale one again."""
    client = FakeClient()
    writer = ReplicaWriter(client, "gateway-write", FakePositions())  # type: ignore[arg-type]
    due = [change("us-east-1", n, pk) for n, pk in enumerate("ABC")]

    made = writer.write(due, superseded={1})

    [transaction] = client.transactions
    copies = [
        op["Put"]["Item"]["pk"]["S"] for op in transaction if "sequence" not in op["Put"]["Item"]
    ]
    saved = [
        op["Put"]["Item"]["sequence"]["S"] for op in transaction if "sequence" in op["Put"]["Item"]
    ]
    assert made == [True, False, True]
    assert copies == ["A", "C"]
    assert saved == [str(FIRST_SEQUENCE + 2)]


def test_one_write_never_carries_one_item_twice_nor_more_than_its_limit() -> None:
    """GIVEN due changes WHEN the writer takes some THEN it stops before a second change of
    an item already taken (DynamoDB refuses that in one transaction), and at the limit."""
    writer = ReplicaWriter(FakeClient(), "gateway-write", FakePositions())  # type: ignore[arg-type]
    repeated = [change("us-east-1", n, pk) for n, pk in enumerate("ABA")]
    many = [change("us-east-1", n, f"P{n}") for n in range(MAX_CHANGES_PER_WRITE + 5)]

    assert writer.take(repeated) == 2
    assert writer.take(many) == MAX_CHANGES_PER_WRITE
