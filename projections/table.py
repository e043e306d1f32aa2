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

    def put_if_revision(self, item: dict[str, Any], revision: int | None) -> bool:
        """Write a merged view only if nobody wrote it since it was read at ``revision``
        (None: it did not exist); True if written."""
        if revision is None:
            condition, values = "attribute_not_exists(#pk)", None
        else:
            condition, values = "#rev = :rev", {":rev": {"N": str(revision)}}
        request: dict[str, Any] = {
            "TableName": self.name,
            "Item": encode(item),
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {"#pk": keys.PARTITION_KEY}
            if revision is None
            else {"#rev": "rev"},
        }
        if values:
            request["ExpressionAttributeValues"] = values
        try:
            self.client.put_item(**request)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
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


def encode(values: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in values.items()}


def decode(item: dict[str, Any]) -> dict[str, Any]:
    return plain({key: _deserializer.deserialize(value) for key, value in item.items()})
