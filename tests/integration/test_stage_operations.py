"""The operator's commands against a deployed stage: found through CloudFormation's stack
outputs, acting on the stage's tables and dead-letter queue (moto, in-process).

Each command runs as `gateway ... --stage test` would, through the same parser and code
as against `gateway dev`; only the publisher a redrive tells is a recorder, as AppSync
is not in moto.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any, NamedTuple

import boto3
import pytest
from botocore.config import Config

from cli import failover_command, operations, operator_tools, status, target_args
from cli.failover import read_control
from cli.main import _parser
from cli.smoke_signin import public_token
from emulator.cloud import moto_fixes
from emulator.cloud.streams import StreamReader
from infra import outputs
from projections import keys
from projections.table import ProjectionTable, decode
from tests.integration.conftest import PRIMARY, REPLICA, RecordingPublisher, Stage
from tests.integration.stage import CLIENT_TOKENS, dead_letter, stack_outputs

ACCOUNT = "123456789012"
LAMP = {
    "sku": "LAMP-1",
    "name": "Desk lamp",
    "category": "lighting",
    "priceCents": 4500,
    "currency": "EUR",
    "stock": 9,
}


class Ran(NamedTuple):
    code: int
    out: str
    err: str


def gateway(*words: str, publisher: RecordingPublisher | None = None) -> Ran:
    """``gateway WORDS``, in this process; a redrive tells ``publisher``."""
    args = _parser().parse_args(list(words))
    out, err = io.StringIO(), io.StringIO()
    if publisher is not None:
        code = operations.run(args, out, err, publishers=lambda _target, _region: publisher)
    else:
        code = operator_tools.run(args, out, err)
    return Ran(code, out.getvalue(), err.getvalue())


def _on_stage(*words: str) -> list[str]:
    return [*words, "--stage", "test", "--region", REPLICA]


def _views(table: ProjectionTable) -> dict[tuple[str, str], dict[str, Any]]:
    items = [decode(item) for item in table.client.scan(TableName=table.name)["Items"]]
    progress = keys.progress_key()
    return {
        (item["pk"], item["sk"]): {name: v for name, v in item.items() if name != "rev"}
        for item in items
        if {"pk": item["pk"], "sk": item["sk"]} != progress
    }


def test_a_stage_is_found_through_its_stacks_outputs(stage: Stage) -> None:
    """GIVEN stage test deployed in us-east-1 and eu-west-1 WHEN a command names it and one
    of its regions THEN it finds every region through that stack's Regions output, each
    region's tables and queue by its own stack's outputs, and, once the edge stack
    exists, the public URL."""
    args = _parser().parse_args(_on_stage("dlq", "list"))

    target = target_args.open_target(args, args.region)

    assert target.regions == (PRIMARY, REPLICA)
    assert (target.primary, target.is_local, target.public_url) == (PRIMARY, False, None)
    for region in (PRIMARY, REPLICA):
        declared = stack_outputs("test", region)
        found = target.resources[region]
        assert found.write_table == "gateway-write-test"
        assert found.projection_table == declared[outputs.PROJECTION_TABLE]
        assert found.dead_letter_queue_url == declared[outputs.DEAD_LETTER_QUEUE_URL]
        assert found.write_stream_arn == declared[outputs.WRITE_STREAM_ARN]
    boto3.client("cloudformation", region_name="us-east-1").create_stack(
        StackName=outputs.edge_stack("test"),
        TemplateBody=json.dumps(
            {
                "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
                "Outputs": {outputs.PUBLIC_URL: {"Value": "https://api.shop.example/graphql"}},
            }
        ),
    )
    assert target_args.open_target(args, REPLICA).public_url == "https://api.shop.example/graphql"


def _old_stack() -> None:
    """A stack deployed before the tools' outputs existed."""
    boto3.client("cloudformation", region_name=REPLICA).create_stack(
        StackName=outputs.region_stack("old", REPLICA),
        TemplateBody=json.dumps(
            {
                "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
                "Outputs": {
                    outputs.REGION: {"Value": REPLICA},
                    outputs.REGIONS: {"Value": REPLICA},
                    outputs.GRAPHQL_URL: {"Value": "https://x/graphql"},
                },
            }
        ),
    )


@pytest.mark.parametrize(
    ("home", "words", "code", "complaint"),
    [
        (None, ["--stage", "nope", "--region", REPLICA], 1, f"no stack Gateway-nope-{REPLICA}"),
        (None, ["--stage", "test", "--region", "ap-south-1"], 1, "no stack Gateway-test-ap-"),
        (None, ["--stage", "test"], 1, "name one of its regions with --region"),
        (None, ["--stage", "old", "--region", REPLICA], 1, "has no output PrimaryRegion, Write"),
        (None, ["--stage", "test", "--state-dir", "x"], 2, "either --stage or --state-dir"),
        (None, ["--profile", "ops"], 2, "--profile goes with --stage"),
        (None, ["--stage", "test", "--profile", "nosuch"], 1, "nosuch"),
        (PRIMARY, ["--stage", "test", "--region", "mars-1"], 2, "unknown region mars-1; stage"),
    ],
)
def test_a_stage_that_cannot_be_used_is_refused_with_what_to_do(
    stage: Stage,
    monkeypatch: pytest.MonkeyPatch,
    home: str | None,
    words: list[str],
    code: int,
    complaint: str,
) -> None:
    """GIVEN a stage that is not there, a region it lacks, a stack older than the tools'
    outputs, or options that contradict WHEN an operator's command names it THEN it
    exits 1 (nothing to act on) or 2 (asked wrongly) with what to do, and no traceback."""
    monkeypatch.delenv("AWS_REGION", raising=False)
    if home is None:
        monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    else:
        monkeypatch.setenv("AWS_DEFAULT_REGION", home)
    _old_stack()

    for command in (["dlq", "list"], ["projections", "rebuild", "--dry-run"], ["status"]):
        ran = gateway(*command, *words)

        assert (ran.code, complaint in ran.err) == (code, True), (command, ran)
        assert "Traceback" not in ran.err


def _shop(stage: Stage) -> dict[str, Any]:
    lamp: dict[str, Any] = stage.cloud.replica.call("Mutation", "createProduct", {"input": LAMP})
    stage.cloud.settle()
    return lamp


def test_a_rebuild_of_a_stage_region_asks_first_and_restores_its_views(stage: Stage) -> None:
    """GIVEN eu-west-1's projections built by its stream, then damaged WHEN the operator
    rebuilds them THEN without --yes nothing changes and the warning says reads will
    miss data; --dry-run counts and changes nothing; --yes restores every view."""
    _shop(stage)
    table = stage.cloud.replica.projector._table
    built = _views(table)
    some = next(iter(built))
    table.client.delete_item(TableName=table.name, Key={"pk": {"S": some[0]}, "sk": {"S": some[1]}})
    table.put({"pk": "PRODUCT#bogus", "sk": "VIEW", "version": 9})
    damaged = _views(table)

    refused = gateway(*_on_stage("projections", "rebuild"))
    dry = gateway(*_on_stage("projections", "rebuild", "--dry-run"))
    assert _views(table) == damaged
    done = gateway(*_on_stage("projections", "rebuild", "--yes"))

    assert refused.code == 2 and "reads there miss data until it ends" in refused.err
    assert dry.code == 0, dry.err
    assert f"{REPLICA}: would delete {len(damaged)} views of gateway-projections-test" in dry.out
    assert "nothing changed" in dry.out
    assert done.code == 0, done.err
    assert done.out.startswith(f"{REPLICA}: rebuilt from ")
    assert "reads there miss the views not yet rebuilt" in done.err
    assert _views(table) == built


def _streams() -> Any:
    return boto3.client(
        "dynamodbstreams", region_name=REPLICA, config=Config(account_id_endpoint_mode="disabled")
    )


def _failed_batch(stage: Stage) -> tuple[dict[str, Any], str]:
    """A product written in us-east-1 and replicated to eu-west-1, whose consumer gave up
    on it: the dead letter AWS Lambda would send is in eu-west-1's queue. The product and
    the message body."""
    cloud = stage.cloud
    lamp = cloud.primary.call("Mutation", "createProduct", {"input": LAMP})
    cloud.primary.poller.step()
    cloud.replicator.step()  # eu-west-1's consumer is never stepped: it "failed"
    arn = stack_outputs("test", REPLICA)[outputs.WRITE_STREAM_ARN]
    shard = _streams().describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
    records = [
        record
        for record in StreamReader(_streams(), arn).read()
        if record["dynamodb"]["NewImage"].get(keys.RECORD_KIND) == {"S": keys.EVENT_RECORD}
    ]
    body = dead_letter(records, arn, shard["ShardId"], datetime.now(UTC))
    _send(body)
    return lamp, body


def _send(body: str) -> None:
    url = stack_outputs("test", REPLICA)[outputs.DEAD_LETTER_QUEUE_URL]
    boto3.client("sqs", region_name=REPLICA).send_message(QueueUrl=url, MessageBody=body)


def _waiting() -> int:
    url = stack_outputs("test", REPLICA)[outputs.DEAD_LETTER_QUEUE_URL]
    answer = boto3.client("sqs", region_name=REPLICA).get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(answer["Attributes"]["ApproximateNumberOfMessages"])


def test_a_dead_letter_is_listed_and_redriven_from_the_stream(stage: Stage) -> None:
    """GIVEN eu-west-1's consumer gave up on a product's batch, and Lambda's message for it
    waits in the queue WHEN the operator lists the dead letters THEN the batch shows with
    its shard, sequence range, size, failure and the records' items read again from the
    stream, and stays in the queue; WHEN redriven THEN the stream handler applies it in
    eu-west-1 and tells its subscribers, and the message is gone."""
    lamp, body = _failed_batch(stage)
    batch = json.loads(body)["DDBStreamBatchInfo"]
    told = RecordingPublisher()

    listed = gateway(*_on_stage("dlq", "list"))
    waiting_after_list = _waiting()
    redriven = gateway(*_on_stage("dlq", "redrive"), publisher=told)

    assert listed.code == 0, listed.err
    assert f"{REPLICA}: 1 dead letters" in listed.out
    assert f"shard {batch['shardId']}" in listed.out
    assert f"sequence {batch['startSequenceNumber']}" in listed.out
    assert "1 records" in listed.out and "(RetryAttemptsExhausted)" in listed.out
    assert f"PRODUCT#{lamp['id']} EVENT#0000000001 ProductCreated" in listed.out
    assert waiting_after_list == 1
    assert (redriven.code, redriven.out) == (0, f"{REPLICA}: 1 applied, 0 still failing\n")
    assert "1 records from the stream, applied" in redriven.err
    assert stage.cloud.replica.call("Query", "product", {"id": lamp["id"]})["version"] == 1
    assert [product["id"] for product in told.published] == [lamp["id"]]
    assert _waiting() == 0


def test_a_dead_letter_the_stream_no_longer_holds_is_replayed_from_the_write_table(
    stage: Stage,
) -> None:
    """GIVEN a dead letter whose records the stream no longer holds, and whose sequence
    numbers a restarted stream has given to later records WHEN listed THEN it says so
    and shows the events written in its window, from the write table; WHEN redriven THEN
    those events are applied in eu-west-1, and the message is gone."""
    lamp, _ = _failed_batch(stage)
    moto_fixes.forget_stream_records(ACCOUNT)  # the stream starts again, numbers reused
    stage.cloud.primary.call("Mutation", "createProduct", {"input": {**LAMP, "sku": "LAMP-2"}})
    stage.cloud.primary.poller.step()
    stage.cloud.replicator.step()

    listed = gateway(*_on_stage("dlq", "list"))
    redriven = gateway(*_on_stage("dlq", "redrive"), publisher=RecordingPublisher())

    assert "not in the stream any more: redrive replays the" in listed.out
    assert f"PRODUCT#{lamp['id']} EVENT#0000000001 ProductCreated" in listed.out
    assert (redriven.code, redriven.out) == (0, f"{REPLICA}: 1 applied, 0 still failing\n")
    assert "from the write table, applied" in redriven.err
    assert stage.cloud.replica.call("Query", "product", {"id": lamp["id"]})["version"] == 1
    assert _waiting() == 0


def test_a_message_that_is_no_stream_batch_is_left_in_the_queue(stage: Stage) -> None:
    """GIVEN a message in the dead-letter queue that is not a stream batch WHEN listed and
    redriven THEN it is shown with the reason, the redrive exits 1 saying it was left in
    place, and the message is still there: nothing is lost."""
    _send("{not json")

    listed = gateway(*_on_stage("dlq", "list"))
    redriven = gateway(*_on_stage("dlq", "redrive"), publisher=RecordingPublisher())

    assert "not a stream batch: the body is not JSON" in listed.out
    assert (redriven.code, redriven.out) == (1, f"{REPLICA}: 0 applied, 1 still failing\n")
    assert "left in place" in redriven.err
    assert _waiting() == 1


def test_a_planned_failover_of_a_stage_fences_drains_and_promotes(stage: Stage) -> None:
    """GIVEN stage test with us-east-1 primary WHEN the operator fails over to eu-west-1
    THEN the old primary is fenced, the fence replicates, eu-west-1 is promoted at the
    next epoch, and every region's copy names eu-west-1 once replication settles."""
    args = _parser().parse_args(["failover", "--to", REPLICA, "--stage", "test"])
    target = target_args.open_target(args, REPLICA)
    out, err = io.StringIO(), io.StringIO()

    code = failover_command.fail_over(
        target, REPLICA, False, out, err, pause=lambda _s: stage.cloud.replicator.step()
    )
    stage.cloud.replicator.step()

    assert code == 0, err.getvalue()
    assert out.getvalue().startswith(f"{REPLICA} is the primary now (epoch 2; was {PRIMARY})")
    for region in (PRIMARY, REPLICA):
        control = read_control(target.dynamodb(region), "gateway-write-test", PRIMARY)
        assert (control.primary_region, control.epoch) == (REPLICA, 2), region


def test_a_forced_failover_of_a_stage_says_the_loss_window_is_unknown_without_metrics(
    stage: Stage,
) -> None:
    """GIVEN no ReplicationLatency data in CloudWatch WHEN the operator forces a failover
    THEN eu-west-1 is promoted and the loss window is stated as unknown, not guessed."""
    ran = gateway("failover", "--to", REPLICA, "--force", "--stage", "test")

    assert ran.code == 0, ran.err
    assert f"{REPLICA} is the primary now (epoch 1; was {PRIMARY})" in ran.out
    assert f"forced: writes {PRIMARY} took in the last unknown before it was lost" in ran.out


def test_status_of_a_stage_shows_what_aws_can_tell(
    stage: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN stage test with a product projected everywhere and one dead letter in
    eu-west-1 WHEN the operator asks for its status THEN each region shows its copy of the
    control record, its dead letters and its projection progress; the stream lag is
    CloudWatch's, here no data; and nothing only the emulator knows is claimed."""
    _shop(stage)
    _send("{not json")
    monkeypatch.setenv("AWS_DEFAULT_REGION", PRIMARY)  # the profile's region
    args = _parser().parse_args(["status", "--stage", "test", "--json"])
    out, err = io.StringIO(), io.StringIO()

    code = status.run(args, out, err)
    text = gateway("status", "--stage", "test")

    assert code == 0, err.getvalue()
    answer = json.loads(out.getvalue())
    assert set(answer) == {"deployment"}
    deployment = answer["deployment"]
    assert (deployment["primary"], deployment["mode"], deployment["epoch"]) == (
        PRIMARY,
        "ACTIVE",
        0,
    )
    regions = {region["name"]: region for region in deployment["regions"]}
    assert [regions[r]["deadLetters"] for r in (PRIMARY, REPLICA)] == [0, 1]
    for region in regions.values():
        assert region["control"] == {"primary": PRIMARY, "mode": "ACTIVE", "epoch": 0}
        assert region["projection"]["lagMs"] >= 0
        assert region["streamLagMs"] is None
    lines = text.out.splitlines()
    assert lines[0].startswith("stage test: primary us-east-1, ACTIVE, epoch 0")
    assert lines[1].split() == [
        "region", "role", "mode", "epoch", "dead", "letters", "last", "projected", "stream", "lag"
    ]  # fmt: skip
    assert lines[3].split()[:5] == [REPLICA, "replica", "ACTIVE", "0", "1"]
    assert lines[3].endswith("no data")
    assert "emulator" not in text.out


def test_the_smoke_reads_the_public_client_token_from_the_secret_the_stage_names(
    stage: Stage,
) -> None:
    """GIVEN the stage's client-token secret lists a new token and the one it replaces
    WHEN the smoke needs the token anonymous readers send THEN it takes the newest from
    the secret its stack names, and says where it came from."""
    args = _parser().parse_args(["smoke", "--stage", "test", "--region", REPLICA])
    target = target_args.open_target(args, REPLICA)

    token, source = public_token(target)

    assert token == CLIENT_TOKENS[0]
    assert source == f"from secret gateway-client-token-test in {target.regions[0]}"
