"""The few CloudWatch figures the operator's tools read from a deployed stage.

A figure that cannot be read (no data in the window, or the call refused) is None:
the tools say "unknown" rather than guess, and never stop for it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

WINDOW = timedelta(minutes=5)


def replication_latency_ms(client: Any, table: str, receiving_region: str) -> int | None:
    """How late the global table's writes reached ``receiving_region`` lately, from the
    region of ``client`` (the most in the window): a forced failover's loss window."""
    return _maximum(
        client,
        "AWS/DynamoDB",
        "ReplicationLatency",
        {"TableName": table, "ReceivingRegion": receiving_region},
    )


def iterator_age_ms(client: Any, function_name: str) -> int | None:
    """How far the stream consumer trails its stream lately (the most in the window)."""
    return _maximum(client, "AWS/Lambda", "IteratorAge", {"FunctionName": function_name})


def _maximum(client: Any, namespace: str, metric: str, dimensions: dict[str, str]) -> int | None:
    now = datetime.now(UTC)
    try:
        answer = client.get_metric_statistics(
            Namespace=namespace,
            MetricName=metric,
            Dimensions=[{"Name": name, "Value": value} for name, value in dimensions.items()],
            StartTime=now - WINDOW,
            EndTime=now,
            Period=60,
            Statistics=["Maximum"],
        )
    except (ClientError, BotoCoreError):
        return None
    points = [point["Maximum"] for point in answer.get("Datapoints", [])]
    return round(max(points)) if points else None
