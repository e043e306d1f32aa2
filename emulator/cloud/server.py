"""The local cloud: one moto server for every region, and the gateway's tables in each.

moto has no global tables (``ReplicaUpdates`` is ignored), so each region gets its own
write table with a stream, and :mod:`emulator.cloud.streams` replicates between them.

With a :class:`~emulator.cloud.journal.Journal`, the cloud replays it into moto before it
serves anyone, journals every change it accepts from then on, and can rewrite the
journal as a snapshot of its tables (:meth:`LocalCloud.compact`).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import boto3
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server

from emulator.chaos.faults import FaultRegistry
from emulator.chaos.gate import fault_gate
from emulator.cloud import moto_fixes
from emulator.cloud.guard import guard
from emulator.cloud.journal import Entry, Items, Journal, Wsgi, durable, recording
from emulator.cloud.positions import POSITIONS_TABLE
from emulator.cloud.replay import replay
from projections import keys
from projections.settings import Settings

LOCAL_ACCOUNT_ID = "123456789012"
SNAPSHOT_ITEMS_PER_ENTRY = 500

logger = logging.getLogger("gateway.cloud")


class _SerializedMotoServer(ThreadedMotoServer):
    """moto's threaded server, serving ``app``: moto answering one request at a time
    (see moto_fixes), behind the injected region faults (see fault_gate)."""

    def __init__(self, app: Wsgi, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._app = app

    def _server_entry(self) -> None:
        app = self._app
        self._server = make_server(
            self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()


class LocalCloud:
    """A moto server on a free loopback port; stopped with :meth:`stop`.

    ``faults`` are the deployment's injected faults; the server answers for the
    region-wide ones (outage, throttle) itself. ``journal`` is opened and replayed
    before the server starts, then kept up to date (:mod:`emulator.cloud.journal`).
    ``key_pair`` is the only IAM key pair whose signed requests it serves
    (:mod:`emulator.cloud.guard`); by default, the one this process's AWS SDK signs with.

    Raises
    ------
    emulator.cloud.journal.JournalCorrupt, emulator.cloud.journal.JournalInUse
        The journal cannot be replayed, or another process holds it.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        faults: FaultRegistry | None = None,
        journal: Journal | None = None,
        key_pair: Credentials | None = None,
    ) -> None:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        key_pair = key_pair or boto3.Session().get_credentials()
        signer = key_pair.get_frozen_credentials() if key_pair is not None else None
        if signer is None or not signer.access_key or not signer.secret_key:
            raise ValueError("the local cloud needs the IAM key pair it is to accept")
        moto_fixes.install_transactions()
        moto_fixes.install_client_request_tokens()
        moto_fixes.install_iterator_expiry()
        moto_fixes.install_write_marks()
        moto_fixes.install_dispatch_cache()
        moto_fixes.install_module_list_cache()
        self.faults = faults or FaultRegistry()
        self.journal = journal
        self._lock = threading.Lock()
        moto = DomainDispatcherApplication(create_backend_app)
        self.replayed_changes = replay(moto, journal.open() if journal else (), LOCAL_ACCOUNT_ID)
        if journal is None:
            app = moto_fixes.serialized(moto, self._lock)
        else:
            app = durable(moto_fixes.serialized(recording(moto, journal), self._lock), journal)
        self._server = _SerializedMotoServer(
            guard(fault_gate(app, self.faults), signer.access_key, signer.secret_key),
            ip_address=host,
            port=0,
            verbose=False,
        )
        self._server.start()
        bound_host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{bound_host}:{port}"

    def compact(self) -> None:
        """Rewrite the journal as the tables' definitions and items as they are now, and
        start every stream afresh, as a replay of that snapshot will.

        Only when every stream's reader has handled every record: the records are
        gone, and the stream positions, which count them, are cleared with them.
        """
        if self.journal is None:
            return
        with self._lock:
            snapshot: list[Entry] = []
            for region, table, items in moto_fixes.table_items(LOCAL_ACCOUNT_ID):
                if table == POSITIONS_TABLE:
                    moto_fixes.clear_table(LOCAL_ACCOUNT_ID, region, table)
                    continue
                for start in range(0, len(items), SNAPSHOT_ITEMS_PER_ENTRY):
                    chunk = items[start : start + SNAPSHOT_ITEMS_PER_ENTRY]
                    snapshot.append(Items(region, table, chunk))
            self.journal.rewrite([*self.journal.table_requests, *snapshot])
            moto_fixes.forget_stream_records(LOCAL_ACCOUNT_ID)

    def stop(self) -> None:
        self.faults.clear_all()  # lets go of any request an outage holds
        self._server.stop()
        if self.journal is not None:
            self.journal.close()


def streams_client(settings: Settings) -> Any:
    """A DynamoDB Streams client for ``settings``' region, with the same short timeouts
    as :meth:`Settings.dynamodb`, so a hung region holds its reader for seconds, not
    minutes."""
    config = Config(
        connect_timeout=1,
        read_timeout=2,
        retries={"max_attempts": 2, "mode": "standard"},
        account_id_endpoint_mode="disabled",
    )
    return boto3.client(
        "dynamodbstreams",
        region_name=settings.region,
        endpoint_url=settings.endpoint_url,
        config=config,
    )


def create_tables(settings: Settings) -> None:
    """Create this region's write table (with its stream) and projection table."""
    client = settings.dynamodb(settings.region)
    key_schema = [
        {"AttributeName": keys.PARTITION_KEY, "KeyType": "HASH"},
        {"AttributeName": keys.SORT_KEY, "KeyType": "RANGE"},
    ]
    _create(
        client,
        TableName=settings.write_table,
        KeySchema=key_schema,
        AttributeDefinitions=_string_attributes(keys.PARTITION_KEY, keys.SORT_KEY),
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    index_attributes = {name for pair in keys.INDEXES.values() for name in pair}
    _create(
        client,
        TableName=settings.projection_table,
        KeySchema=key_schema,
        AttributeDefinitions=_string_attributes(
            keys.PARTITION_KEY, keys.SORT_KEY, *sorted(index_attributes)
        ),
        BillingMode="PAY_PER_REQUEST",
        GlobalSecondaryIndexes=[
            {
                "IndexName": index,
                "KeySchema": [
                    {"AttributeName": partition, "KeyType": "HASH"},
                    {"AttributeName": sort, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index, (partition, sort) in keys.INDEXES.items()
        ],
    )


def create_dead_letter_table(settings: Settings, name: str) -> None:
    """The local stand-in for the stream consumer's SQS on-failure destination."""
    _create(
        settings.dynamodb(settings.region),
        TableName=name,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=_string_attributes("pk", "sk"),
        BillingMode="PAY_PER_REQUEST",
    )


def stream_arn(settings: Settings) -> str:
    """The write table's latest stream in this region."""
    client = settings.dynamodb(settings.region)
    table = client.describe_table(TableName=settings.write_table)["Table"]
    return str(table["LatestStreamArn"])


def create_positions_table(settings: Settings) -> None:
    """Where this region's stream consumers keep how far they got
    (:mod:`emulator.cloud.positions`)."""
    _create(
        settings.dynamodb(settings.region),
        TableName=POSITIONS_TABLE,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=_string_attributes("pk", "sk"),
        BillingMode="PAY_PER_REQUEST",
    )


def _create(client: Any, **definition: Any) -> None:
    try:
        client.create_table(**definition)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceInUseException":
            raise


def _string_attributes(*names: str) -> list[dict[str, str]]:
    return [{"AttributeName": name, "AttributeType": "S"} for name in names]
