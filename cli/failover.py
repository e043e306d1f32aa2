"""`gateway failover`: move the primary to another region, by the control record.

Planned (the old primary answers): fence it (READ_ONLY at a new epoch, written in its
own table), wait until the fence has replicated into the new region, which means
every write the old primary took before it has arrived too, then promote the new
region (ACTIVE, the next epoch). Forced (the old primary is lost): promote at once,
and say how much may be lost: the replication lag from the old primary at the time.

The same steps run against a deployed stage (``--stage``): only the clients differ
(:mod:`cli.failover_command` runs them on a target).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from domain import records
from domain.control import Control, MalformedControl, parse
from domain.dependencies import utc_now

_serializer = TypeSerializer()
DRAIN_TIMEOUT_S = 30.0


class FailoverError(Exception):
    """The failover cannot go on; the message says why and what to do."""


class FailoverReport(NamedTuple):
    old_primary: str
    new_primary: str
    epoch: int
    forced: bool
    # Forced only: how far the new primary trailed the old one when it was promoted,
    # the window of writes that may be lost or arrive late (None if unknown).
    data_loss_window_ms: int | None
    took_ms: int


def read_control(client: Any, table: str, default_primary: str) -> Control:
    """The control as ``client``'s region holds it, read consistently."""
    answer = client.get_item(
        TableName=table, Key=_encode(records.control_key()), ConsistentRead=True
    )
    item = answer.get("Item")
    if item is None:
        return Control(default_primary, records.MODE_ACTIVE, 0)
    try:
        return parse(item)
    except MalformedControl as error:
        raise FailoverError(f"the control record in {table} is malformed: {error}") from None


def failover(
    clients: Mapping[str, Any],
    table: str,
    default_primary: str,
    to_region: str,
    *,
    force: bool = False,
    replication_lag_ms: Callable[[str, str], int | None] = lambda _from, _to: None,
    drain_timeout_s: float = DRAIN_TIMEOUT_S,
    clock: Callable[[], float] = time.monotonic,
    pause: Callable[[float], None] = time.sleep,
) -> FailoverReport:
    """Make ``to_region`` the primary; see the module's docstring for the steps.

    Parameters
    ----------
    clients
        A DynamoDB client for every region of the deployment.
    replication_lag_ms
        ``(from_region, to_region) -> ms``: how far ``to_region`` trails.
    """
    started = clock()
    if to_region not in clients:
        raise FailoverError(
            f"{to_region} is not a region of this deployment ({', '.join(clients)})"
        )
    copies, unreachable = _copies(clients, table, default_primary)
    if to_region in unreachable:
        raise FailoverError(
            f"{to_region} cannot be reached ({unreachable[to_region]}), so it cannot become "
            "the primary now; nothing was changed"
        )
    # Every region follows the highest epoch among the copies it reads (domain.control),
    # and so does the failover: the primary to fence is the latest one, wherever its
    # promotion has replicated so far.
    current = max(copies.values(), key=lambda control: control.epoch)
    old = current.primary_region
    if old == to_region and current.mode == records.MODE_ACTIVE:
        raise FailoverError(f"{to_region} is already the primary (epoch {current.epoch})")
    if force:
        lag = replication_lag_ms(old, to_region) if old != to_region else 0
        # Above every copy it can read, so the promotion outranks them all.
        epoch = current.epoch + 1
        promoted = Control(to_region, records.MODE_ACTIVE, epoch)
        _put(clients[to_region], table, promoted, copies[to_region])
        return FailoverReport(old, to_region, epoch, True, lag, _ms(clock() - started))
    for region, why in unreachable.items():
        if region != old:
            raise FailoverError(
                f"the control record in {region} cannot be read ({why}), so this failover "
                "could miss a newer one; check that region, or add --force"
            )
    if old in unreachable:
        raise _primary_unreachable(old, unreachable[old], to_region)
    _same_epoch(old, copies[old], current)
    fence = Control(old, records.MODE_READ_ONLY, current.epoch + 1)
    try:
        _put(clients[old], table, fence, current)
    except (BotoCoreError, ClientError) as error:
        raise _primary_unreachable(old, type(error).__name__, to_region) from None
    _wait_for(clients[to_region], table, default_primary, fence, drain_timeout_s, clock, pause)
    promoted = Control(to_region, records.MODE_ACTIVE, fence.epoch + 1)
    _put(clients[to_region], table, promoted, fence)
    return FailoverReport(old, to_region, promoted.epoch, False, 0, _ms(clock() - started))


def _primary_unreachable(old: str, why: str, to_region: str) -> FailoverError:
    return FailoverError(
        f"the primary {old} cannot be reached ({why}); to promote "
        f"{to_region} anyway, accepting the loss of what has not replicated, add --force"
    )


def _copies(
    clients: Mapping[str, Any], table: str, default_primary: str
) -> tuple[dict[str, Control], dict[str, str]]:
    """Each reachable region's copy of the control record, and why the others failed."""
    copies: dict[str, Control] = {}
    unreachable: dict[str, str] = {}
    for region, client in clients.items():
        try:
            copies[region] = read_control(client, table, default_primary)
        except (BotoCoreError, ClientError) as error:
            unreachable[region] = type(error).__name__
    return copies, unreachable


def _same_epoch(region: str, held: Control, current: Control) -> None:
    if held.epoch != current.epoch:
        raise FailoverError(
            f"{region} holds epoch {held.epoch} but the latest is {current.epoch}: "
            "replication has not caught up; wait and try again"
        )


def _wait_for(
    client: Any,
    table: str,
    default_primary: str,
    fence: Control,
    timeout_s: float,
    clock: Callable[[], float],
    pause: Callable[[float], None],
) -> None:
    """Until the fence shows in ``client``'s region: replication carries changes in
    order, so every write the old primary took before the fence is there too."""
    deadline = clock() + timeout_s
    while read_control(client, table, default_primary).epoch < fence.epoch:
        if clock() > deadline:
            raise FailoverError(
                f"the fence (epoch {fence.epoch}) has not replicated within {timeout_s:.0f} s; "
                f"writes stay paused in {fence.primary_region}. Check replication, then run "
                "the failover again, or with --force"
            )
        pause(0.05)


def _put(client: Any, table: str, control: Control, expected: Control) -> None:
    """Write ``control``, only if the region still holds ``expected``'s epoch."""
    item = {
        **records.control_key(),
        records.RECORD_KIND: records.CONTROL_RECORD,
        records.CONTROL_PRIMARY_REGION: control.primary_region,
        records.CONTROL_MODE: control.mode,
        records.CONTROL_EPOCH: control.epoch,
        records.CONTROL_UPDATED_AT: utc_now(),
    }
    try:
        client.put_item(
            TableName=table,
            Item=_encode(item),
            ConditionExpression="attribute_not_exists(#pk) OR #epoch = :epoch",
            ExpressionAttributeNames={
                "#pk": records.PARTITION_KEY,
                "#epoch": records.CONTROL_EPOCH,
            },
            ExpressionAttributeValues=_encode({":epoch": expected.epoch}),
        )
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            raise FailoverError(
                "another failover changed the control record meanwhile; read "
                "`gateway status` and decide again"
            ) from None
        raise


def _encode(values: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in values.items()}


def _ms(seconds: float) -> int:
    return round(seconds * 1000)
