"""Does an alarm reach anyone? ``gateway smoke``'s check of each region's alarm topic.

What can honestly be seen from outside: CloudWatch records, in an alarm's history,
each action it executed and whether it succeeded ("Successfully executed action
<topic ARN>", or "Failed to execute action ..." when, say, the topic's key refuses it).
So the check sets the dead-letter alarm to ALARM (SetAlarmState, which runs its
actions) and waits for that record; the alarm returns to its true state at its next
evaluation, within a minute. An alarm already in ALARM is real and is left alone.
Whether a person is paged is the topic's subscriptions: at least one must be confirmed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from cli.checks import Failed, Skipped
from cli.targets import RegionResources, Target

REASON = "gateway smoke: a test notification, not an incident"
RECORDED_WITHIN_S = 60.0
POLL_S = 2.0


def fire(
    target: Target,
    resources: RegionResources,
    clock: Callable[[], float] = time.monotonic,
    pause: Callable[[float], None] = time.sleep,
) -> str:
    """Set the region's dead-letter alarm off; what CloudWatch did with its topic."""
    alarm, topic = resources.dead_letter_alarm, resources.alarm_topic_arn
    if not alarm or not topic:
        raise Failed("the stack names no alarm or alarm topic: deploy it with this infra/")
    cloudwatch = target.client("cloudwatch", resources.region)
    found = cloudwatch.describe_alarms(AlarmNames=[alarm]).get("MetricAlarms", [])
    if not found:
        raise Failed(f"no alarm {alarm} in {resources.region}")
    if found[0]["StateValue"] == "ALARM":
        raise Skipped(f"{alarm} is in ALARM for real; not testing over it")
    if topic not in found[0].get("AlarmActions", []):
        raise Failed(f"{alarm} does not notify {topic}")
    since = datetime.now(UTC) - timedelta(seconds=1)
    cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason=REASON)
    deadline = clock() + RECORDED_WITHIN_S
    while True:
        history = cloudwatch.describe_alarm_history(
            AlarmName=alarm, HistoryItemType="Action", StartDate=since
        ).get("AlarmHistoryItems", [])
        for item in history:
            summary = str(item.get("HistorySummary", ""))
            if topic in summary:
                if summary.startswith("Successfully"):
                    return f"{alarm} notified {topic}"
                raise Failed(f"CloudWatch could not notify the topic: {summary}")
        if clock() >= deadline:
            raise Failed(f"CloudWatch recorded no action of {alarm} within {RECORDED_WITHIN_S:g} s")
        pause(POLL_S)


def subscribers(target: Target, resources: RegionResources) -> str:
    """Someone hears the topic: at least one confirmed subscription."""
    topic = resources.alarm_topic_arn
    if not topic:
        raise Failed("the stack names no alarm topic: deploy it with this infra/")
    sns = target.client("sns", resources.region)
    attributes = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    confirmed = int(attributes.get("SubscriptionsConfirmed", "0"))
    pending = int(attributes.get("SubscriptionsPending", "0"))
    if not confirmed:
        raise Failed(f"nobody is subscribed to {topic} ({pending} pending): an alarm pages no one")
    return f"{confirmed} confirmed subscriptions to {topic}"
