"""The local cloud: one moto server for every region, and the gateway's tables in each.

moto has no global tables (``ReplicaUpdates`` is ignored), so each region gets its own
write table with a stream, and :mod:`emulator.streams` replicates between them.
"""

from __future__ import annotations

import logging
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server

from emulator.fault_gate import fault_gate
from emulator.faults import FaultRegistry
from emulator.moto_fixes import install_iterator_expiry, install_transactions, serialized
from projections import keys
from projections.settings import Settings

LOCAL_ACCOUNT_ID = "123456789012"


class _SerializedMotoServer(ThreadedMotoServer):
    """moto's threaded server, answering one request at a time (see moto_fixes), behind
    the injected region faults (see fault_gate)."""

    def __init__(self, faults: FaultRegistry, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._faults = faults

    def _server_entry(self) -> None:
        moto = serialized(DomainDispatcherApplication(create_backend_app))
        app = fault_gate(moto, self._faults)
        self._server = make_server(
            self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()


class LocalCloud:
    """A moto server on a free loopback port; stopped with :meth:`stop`.

    ``faults`` are the deployment's injected faults; the server answers for the
    region-wide ones (outage, throttle) itself.
    """

    def __init__(self, host: str = "127.0.0.1", faults: FaultRegistry | None = None) -> None:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        install_transactions()
        install_iterator_expiry()
        self.faults = faults or FaultRegistry()
        self._server = _SerializedMotoServer(self.faults, ip_address=host, port=0, verbose=False)
        self._server.start()
        bound_host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{bound_host}:{port}"

    def stop(self) -> None:
        self.faults.clear_all()  # lets go of any request an outage holds
        self._server.stop()


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


def _create(client: Any, **definition: Any) -> None:
    try:
        client.create_table(**definition)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceInUseException":
            raise


def _string_attributes(*names: str) -> list[dict[str, str]]:
    return [{"AttributeName": name, "AttributeType": "S"} for name in names]
