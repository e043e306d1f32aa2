"""The write table's item layout: the one home of its keys.

The write table is a DynamoDB global table with a stream (NEW_IMAGE). It holds four
kinds of item, all keyed ``pk``/``sk``:

* an aggregate: ``pk = "<KIND>#<id>"``, ``sk = "STATE"``, with a ``version``;
* an event: ``pk = "<KIND>#<id>"``, ``sk = "EVENT#<version, 10 digits>"``, written in the
  same transaction as the aggregate it changed;
* the control record, at most one: ``pk = "CONTROL"``, ``sk = "PRIMARY"``,
  ``recordKind = "CONTROL"``, with ``primaryRegion`` (a region name), ``mode``
  (``"ACTIVE"`` or ``"READ_ONLY"``), ``epoch`` (a whole number, 0 or more) and
  ``updatedAt`` (AWSDateTime, for people; the runtime ignores it). An operator writes
  it in any region; the global table carries it to every replica, and each region
  reads its own copy (:mod:`domain.control`). While it is missing, every region uses
  its deployment's primary, ACTIVE, epoch 0. Its ``pk`` has no ``#``, so it never
  meets an aggregate's partition;
* a heartbeat, one per region: ``pk = "HEARTBEAT#<region>"``, ``sk = "BEAT"``,
  ``recordKind = "HEARTBEAT"``, with ``region`` and ``writtenAt`` (AWSDateTime, to the
  ms). Only that region's heartbeat writer puts it, in that region's replica, on a
  schedule; the global table carries it everywhere, and each region's stream handler
  measures its age (:mod:`projections.heartbeat`). ``HEARTBEAT`` is no aggregate kind.

Stdlib only, so infra and the projections' key module can read it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

WRITE_TABLE = "gateway-write"
PARTITION_KEY = "pk"
SORT_KEY = "sk"
STATE_SORT_KEY = "STATE"
EVENT_SORT_KEY_PREFIX = "EVENT#"
RECORD_KIND = "recordKind"
EVENT_RECORD = "EVENT"
AGGREGATE_RECORD = "AGGREGATE"
CONTROL_RECORD = "CONTROL"
HEARTBEAT_RECORD = "HEARTBEAT"

PRODUCT = "PRODUCT"
CUSTOMER = "CUSTOMER"
ORDER = "ORDER"
SKU = "SKU"
EMAIL = "EMAIL"
IDEMPOTENCY = "IDEMPOTENCY"

CONTROL_PARTITION_KEY = "CONTROL"
CONTROL_SORT_KEY = "PRIMARY"
CONTROL_PRIMARY_REGION = "primaryRegion"
CONTROL_MODE = "mode"
CONTROL_EPOCH = "epoch"
CONTROL_UPDATED_AT = "updatedAt"
MODE_ACTIVE = "ACTIVE"
MODE_READ_ONLY = "READ_ONLY"
CONTROL_MODES = (MODE_ACTIVE, MODE_READ_ONLY)

HEARTBEAT_SORT_KEY = "BEAT"
HEARTBEAT_REGION = "region"
HEARTBEAT_WRITTEN_AT = "writtenAt"


def aggregate_pk(kind: str, aggregate_id: str) -> str:
    """Partition key shared by an aggregate and all of its events."""
    return f"{kind}#{aggregate_id}"


def state_key(kind: str, aggregate_id: str) -> dict[str, str]:
    """Primary key of an aggregate's current state."""
    return {PARTITION_KEY: aggregate_pk(kind, aggregate_id), SORT_KEY: STATE_SORT_KEY}


def event_key(kind: str, aggregate_id: str, version: int) -> dict[str, str]:
    """Primary key of the event that took an aggregate to ``version``.

    Zero-padded so that the events of one aggregate sort in version order.
    """
    return {
        PARTITION_KEY: aggregate_pk(kind, aggregate_id),
        SORT_KEY: f"{EVENT_SORT_KEY_PREFIX}{version:010d}",
    }


def control_key() -> dict[str, str]:
    """Primary key of the control record, which names the primary region and the mode."""
    return {PARTITION_KEY: CONTROL_PARTITION_KEY, SORT_KEY: CONTROL_SORT_KEY}


def heartbeat_key(region: str) -> dict[str, str]:
    """Primary key of ``region``'s heartbeat: one item, put again at every beat."""
    return {PARTITION_KEY: f"{HEARTBEAT_RECORD}#{region}", SORT_KEY: HEARTBEAT_SORT_KEY}


def is_heartbeat_item(item: dict[str, Any]) -> bool:
    """True for a region's heartbeat, which the stream handler measures, not applies."""
    return item.get(RECORD_KIND) == HEARTBEAT_RECORD


def is_event_item(item: dict[str, Any]) -> bool:
    """True for event items, the only records the stream handler applies."""
    return item.get(RECORD_KIND) == EVENT_RECORD


def plain(value: Any) -> Any:
    """Turn DynamoDB's Decimals back into ints, recursively.

    Every number the gateway stores is a whole number (cents, counts, versions).
    """
    if isinstance(value, Decimal):
        return int(value)
    if isinstance(value, dict):
        return {key: plain(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [plain(inner) for inner in value]
    return value
