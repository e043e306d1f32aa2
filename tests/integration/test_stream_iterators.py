"""moto forgets used shard iterators, so a long-running ``gateway dev`` does not grow."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws
from moto.dynamodbstreams.models import dynamodbstreams_backends

from emulator.cloud.server import LOCAL_ACCOUNT_ID, create_tables, moto_fixes, stream_arn
from emulator.cloud.streams import StreamReader
from projections.settings import Settings

REGION = "us-east-1"


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    # Every used iterator is stale at once, and pruned on every read.
    monkeypatch.setattr(moto_fixes, "USED_ITERATOR_LIFETIME_S", 0.0)
    monkeypatch.setattr(moto_fixes, "_PRUNE_EVERY_S", 0.0)
    moto_fixes.install_iterator_expiry()
    with mock_aws():
        region = Settings(region=REGION, primary_region=REGION)
        create_tables(region)
        yield region


def reader(settings: Settings) -> StreamReader:
    client = boto3.client(
        "dynamodbstreams", region_name=REGION, config=Config(account_id_endpoint_mode="disabled")
    )
    return StreamReader(client, stream_arn(settings))


def test_polling_keeps_moto_holding_a_few_iterators_and_loses_no_record(
    settings: Settings,
) -> None:
    """GIVEN two readers of one stream WHEN they poll 200 times between writes THEN moto
    holds only their next iterators, and each reader still gets every record once."""
    readers = [reader(settings), reader(settings)]
    write = settings.dynamodb(REGION)
    seen: list[list[str]] = [[], []]
    for poll in range(200):
        if poll % 50 == 0:
            item = {"pk": {"S": f"PRODUCT#{poll}"}, "sk": {"S": "STATE"}}
            write.put_item(TableName=settings.write_table, Item=item)
        for index, each in enumerate(readers):
            seen[index] += [r["dynamodb"]["Keys"]["pk"]["S"] for r in each.read()]

    held = dynamodbstreams_backends[LOCAL_ACCOUNT_ID][REGION].shard_iterators
    expected = [f"PRODUCT#{poll}" for poll in (0, 50, 100, 150)]
    assert seen == [expected, expected]
    assert len(held) <= 4
