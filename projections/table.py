"""The regional projection table, through boto3: the only code that touches it."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from domain.records import plain
from projections import keys

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class ProjectionTable:
    """One region's projection table.

    Parameters
    ----------
    client
        A DynamoDB client for THIS region: reads never leave it.
    """

    def __init__(self, client: Any, name: str = keys.PROJECTION_TABLE) -> None:
        self.client = client
        self.name = name

    def put_if_newer(self, item: dict[str, Any], version: int) -> bool:
        """Write a view unless the table holds a newer version; True if written.

        The same version is written again, so a redelivered record is harmless (the
        content is identical) and its subscribers are told again (at least once).
        """
        try:
            self.client.put_item(
                TableName=self.name,
                Item=encode(item),
                ConditionExpression="attribute_not_exists(#pk) OR #version <= :version",
                ExpressionAttributeNames={"#pk": keys.PARTITION_KEY, "#version": "version"},
                ExpressionAttributeValues={":version": {"N": str(version)}},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def put(self, item: dict[str, Any]) -> None:
        self.client.put_item(TableName=self.name, Item=encode(item))

    def get(self, key: dict[str, str]) -> dict[str, Any] | None:
        answer = self.client.get_item(TableName=self.name, Key=encode(key))
        item = answer.get("Item")
        return None if item is None else decode(item)

    def get_many(self, item_keys: list[dict[str, str]]) -> list[dict[str, Any] | None]:
        """Several items in one consistent BatchGetItem, in the order asked (None: absent).

        Consistent, because a builder writes on condition of what it read: a stale read
        would only fail that condition and cost a retry."""
        request: dict[str, Any] = {
            self.name: {"Keys": [encode(key) for key in item_keys], "ConsistentRead": True}
        }
        found: dict[tuple[str, str], dict[str, Any]] = {}
        while request:
            answer = self.client.batch_get_item(RequestItems=request)
            for item in answer.get("Responses", {}).get(self.name, []):
                decoded = decode(item)
                found[decoded[keys.PARTITION_KEY], decoded[keys.SORT_KEY]] = decoded
            request = answer.get("UnprocessedKeys") or {}
        return [found.get((key[keys.PARTITION_KEY], key[keys.SORT_KEY])) for key in item_keys]

    def update_if_older(
        self, key: dict[str, str], values: dict[str, Any], version: int, remove: tuple[str, ...]
    ) -> bool:
        """Set ``values`` on an item, and remove the attributes ``remove`` names, unless it
        holds ``version`` or a newer one; True if written. Other attributes stay."""
        names = {"#version": "version"}
        settings = []
        for number, (name, value) in enumerate(values.items()):
            names[f"#s{number}"] = name
            settings.append((f"#s{number}", f":s{number}", value))
        expression = "SET " + ", ".join(f"{name} = {value}" for name, value, _ in settings)
        if remove:
            names.update({f"#r{number}": name for number, name in enumerate(remove)})
            expression += " REMOVE " + ", ".join(f"#r{number}" for number in range(len(remove)))
        try:
            self.client.update_item(
                TableName=self.name,
                Key=encode(key),
                UpdateExpression=expression,
                ConditionExpression="attribute_not_exists(#version) OR #version < :version",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=encode(
                    {":version": version, **{value: given for _, value, given in settings}}
                ),
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def apply_order(
        self,
        view: dict[str, Any],
        replaces: int | None,
        customer: dict[str, str],
        moves: dict[str, int],
        sets: dict[str, Any],
        revision: int | None,
    ) -> bool:
        """Write an order's view and change its customer's view with it, all or nothing.

        Parameters
        ----------
        view
            The order view, written only over the version it replaces: ``replaces``, or
            None when there was none. So each change of an order moves the counters once.
        customer
            The customer view's key.
        moves
            Added to the customer's counters (``ADD`` creates them, and the item). When
            every move is 0 and nothing is set, the customer's view is not written.
        sets
            Attributes that replace the customer's (its recent orders), only if its
            revision is still ``revision`` (None: it has none); the revision then moves.
            A view in the layout from before 2026-12-04 loses its per-order history.

        Returns
        -------
        bool
            True if written; False if another writer got in first: read again and retry.
        """
        put = {
            "TableName": self.name,
            "Item": encode(view),
            **_version_condition(replaces),
        }
        update = _customer_update(self.name, customer, moves, sets, revision)
        try:
            if update is None:
                self.client.put_item(**put)
            else:
                self.client.transact_write_items(TransactItems=[{"Put": put}, {"Update": update}])
        except ClientError as error:
            if _lost_race(error):
                return False
            raise
        return True

    def query_index(
        self,
        index: str,
        partition_value: str,
        limit: int,
        start: dict[str, Any] | None,
        newest_first: bool = False,
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """One page of an index; returns the items and the key to continue from."""
        partition_attribute = keys.INDEXES[index][0]
        request: dict[str, Any] = {
            "TableName": self.name,
            "IndexName": index,
            "KeyConditionExpression": "#partition = :value",
            "ExpressionAttributeNames": {"#partition": partition_attribute},
            "ExpressionAttributeValues": {":value": {"S": partition_value}},
            "Limit": limit,
            "ScanIndexForward": not newest_first,
        }
        if start:
            request["ExclusiveStartKey"] = encode(start)
        answer = self.client.query(**request)
        items = [decode(item) for item in answer.get("Items", [])]
        last = answer.get("LastEvaluatedKey")
        return items, (decode(last) if last else None)


def _version_condition(replaces: int | None) -> dict[str, Any]:
    if replaces is None:
        return {
            "ConditionExpression": "attribute_not_exists(#pk)",
            "ExpressionAttributeNames": {"#pk": keys.PARTITION_KEY},
        }
    return {
        "ConditionExpression": "#version = :replaces",
        "ExpressionAttributeNames": {"#version": "version"},
        "ExpressionAttributeValues": {":replaces": {"N": str(replaces)}},
    }


def _customer_update(
    table: str,
    key: dict[str, str],
    moves: dict[str, int],
    sets: dict[str, Any],
    revision: int | None,
) -> dict[str, Any] | None:
    """The customer view's half of :meth:`ProjectionTable.apply_order`, or None if it
    has nothing to change."""
    if not any(moves.values()) and not sets:
        return None
    names = {f"#a{number}": name for number, name in enumerate(moves)}
    values: dict[str, Any] = {f":a{number}": move for number, move in enumerate(moves.values())}
    parts = []
    condition: dict[str, Any] = {}
    if sets:
        names.update({f"#s{number}": name for number, name in enumerate(sets)})
        values.update({f":s{number}": value for number, value in enumerate(sets.values())})
        names["#rev"] = keys.REVISION
        values[":next"] = (revision or 0) + 1
        assignments = [f"#s{number} = :s{number}" for number in range(len(sets))]
        parts.append("SET " + ", ".join([*assignments, "#rev = :next"]))
        if revision is None:
            condition = {"ConditionExpression": "attribute_not_exists(#rev)"}
        else:
            values[":rev"] = revision
            condition = {"ConditionExpression": "#rev = :rev"}
    if moves:
        parts.append("ADD " + ", ".join(f"#a{number} :a{number}" for number in range(len(moves))))
    names["#old"] = keys.OLD_ORDER_HISTORY
    parts.append("REMOVE #old")
    return {
        "TableName": table,
        "Key": encode(key),
        "UpdateExpression": " ".join(parts),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": encode(values),
        **condition,
    }


def _lost_race(error: ClientError) -> bool:
    """A condition failed, or another transaction held an item: worth reading again.
    Any other cancellation (an item too large, say) is not."""
    code = error.response["Error"]["Code"]
    if code == "ConditionalCheckFailedException":
        return True
    if code != "TransactionCanceledException":
        return False
    reasons = {reason.get("Code") for reason in error.response.get("CancellationReasons", [])}
    return reasons <= {"None", "ConditionalCheckFailed", "TransactionConflict"}


def encode(values: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in values.items()}


def decode(item: dict[str, Any]) -> dict[str, Any]:
    return plain({key: _deserializer.deserialize(value) for key, value in item.items()})
