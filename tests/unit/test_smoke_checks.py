"""`gateway smoke`'s checks that only AWS can answer, against fakes of CloudWatch and SNS
(moto records no alarm actions), and its reading of a sign-in token."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import pytest

from cli import smoke_alarms
from cli.checks import Failed, Skipped
from cli.smoke_signin import SignInFailed, from_token
from cli.targets import RegionResources
from tests.unit.fakes import ManualClock

TOPIC = "arn:aws:sns:eu-west-1:123456789012:gateway-alarms-prod"
ALARM = "gateway-prod-eu-west-1-DeadLetters"
RESOURCES = RegionResources(
    region="eu-west-1",
    write_table="gateway-write-prod",
    projection_table="gateway-projections-prod",
    graphql_url="https://x.appsync-api.eu-west-1.amazonaws.com/graphql",
    dead_letter_queue_url="https://sqs.eu-west-1.amazonaws.com/1/q",
    alarm_topic_arn=TOPIC,
    dead_letter_alarm=ALARM,
)


class FakeCloudWatch:
    """An alarm that runs its actions when set to ALARM, recording each in its history
    as CloudWatch does: ``outcome`` is the summary it records (None: it records nothing)."""

    def __init__(self, state: str = "OK", outcome: str | None = None, late: int = 0) -> None:
        self.state = state
        self.outcome = outcome
        self.late = late  # history reads before the action shows
        self.set_to: list[tuple[str, str]] = []
        self.actions = [TOPIC]

    def describe_alarms(self, AlarmNames: list[str]) -> dict[str, Any]:
        alarm = {"AlarmName": ALARM, "StateValue": self.state, "AlarmActions": self.actions}
        return {"MetricAlarms": [alarm] if AlarmNames == [ALARM] else []}

    def set_alarm_state(self, AlarmName: str, StateValue: str, StateReason: str) -> None:
        self.set_to.append((StateValue, StateReason))

    def describe_alarm_history(self, **request: Any) -> dict[str, Any]:
        assert request["HistoryItemType"] == "Action"
        if not self.set_to or self.outcome is None:
            return {"AlarmHistoryItems": []}
        if self.late:
            self.late -= 1
            return {"AlarmHistoryItems": []}
        return {"AlarmHistoryItems": [{"HistorySummary": self.outcome}]}


class FakeSns:
    def __init__(self, confirmed: int, pending: int = 0) -> None:
        self.attributes = {
            "SubscriptionsConfirmed": str(confirmed),
            "SubscriptionsPending": str(pending),
        }

    def get_topic_attributes(self, TopicArn: str) -> dict[str, Any]:
        assert TopicArn == TOPIC
        return {"Attributes": self.attributes}


class FakeTarget:
    def __init__(self, **clients: Any) -> None:
        self.clients = clients

    def client(self, service: str, region: str) -> Any:
        assert region == "eu-west-1"
        return self.clients[service]


def _fire(cloudwatch: FakeCloudWatch) -> str:
    clock = ManualClock()
    return smoke_alarms.fire(
        FakeTarget(cloudwatch=cloudwatch),  # type: ignore[arg-type]
        RESOURCES,
        clock=clock,
        pause=clock.advance,
    )


def test_an_alarm_that_notified_its_topic_passes() -> None:
    """GIVEN CloudWatch records that it notified the alarm topic, two polls after the
    alarm was set off WHEN checked THEN it passes, having set the alarm to ALARM once,
    with a reason that says it is a test."""
    cloudwatch = FakeCloudWatch(outcome=f"Successfully executed action {TOPIC}", late=2)

    assert _fire(cloudwatch) == f"{ALARM} notified {TOPIC}"
    assert cloudwatch.set_to == [("ALARM", smoke_alarms.REASON)]
    assert "not an incident" in smoke_alarms.REASON


def test_an_alarm_cloudwatch_could_not_deliver_fails_with_what_it_recorded() -> None:
    """GIVEN a topic CloudWatch cannot publish to (a key it may not use) WHEN checked THEN
    it fails with CloudWatch's own account of the failure."""
    summary = f"Failed to execute action {TOPIC}. Received error: KMS.AccessDeniedException"

    with pytest.raises(Failed, match=r"KMS\.AccessDeniedException"):
        _fire(FakeCloudWatch(outcome=summary))


def test_an_alarm_with_no_recorded_action_fails_after_the_wait() -> None:
    """GIVEN CloudWatch records no action WHEN a minute passes THEN the check fails."""
    with pytest.raises(Failed, match="recorded no action"):
        _fire(FakeCloudWatch(outcome=None))


def test_a_real_alarm_is_left_alone() -> None:
    """GIVEN the alarm is in ALARM already (dead letters wait) WHEN checked THEN it is not
    touched: the check is skipped, saying why."""
    cloudwatch = FakeCloudWatch(state="ALARM")

    with pytest.raises(Skipped, match="in ALARM for real"):
        _fire(cloudwatch)
    assert cloudwatch.set_to == []


def test_an_alarm_that_does_not_notify_the_topic_fails_before_it_is_set_off() -> None:
    cloudwatch = FakeCloudWatch()
    cloudwatch.actions = []

    with pytest.raises(Failed, match="does not notify"):
        _fire(cloudwatch)
    assert cloudwatch.set_to == []


@pytest.mark.parametrize(("confirmed", "passes"), [(0, False), (2, True)])
def test_a_topic_nobody_confirmed_a_subscription_to_fails(confirmed: int, passes: bool) -> None:
    """GIVEN an alarm topic WHEN nobody confirmed a subscription THEN the check fails: an
    alarm pages no one; with subscribers it passes, counting them."""
    target = FakeTarget(sns=FakeSns(confirmed, pending=1))

    if passes:
        assert smoke_alarms.subscribers(target, RESOURCES).startswith("2 confirmed")  # type: ignore[arg-type]
    else:
        with pytest.raises(Failed, match=r"nobody is subscribed .* \(1 pending\)"):
            smoke_alarms.subscribers(target, RESOURCES)  # type: ignore[arg-type]


def _jwt(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part(claims)}.signature"


def test_a_token_says_who_signed_in_and_their_groups() -> None:
    """GIVEN a user-pool ID token WHEN read THEN the user and groups come from its claims."""
    token = _jwt({"sub": "u-1", "cognito:username": "ana", "cognito:groups": ["staff"]})

    signed_in = from_token(token, "signed in as ana")

    assert (signed_in.subject, signed_in.groups, signed_in.token) == ("ana", ("staff",), token)


@pytest.mark.parametrize("token", ["", "abc", "a.b", "a.%%%.c", f"a.{'W10'}.c"])
def test_what_is_not_a_token_fails_the_sign_in(token: str) -> None:
    with pytest.raises(SignInFailed):
        from_token(token, "the token given")


def _stage(**extra: Any) -> Any:
    from cli.targets import Target

    return Target(
        description="stage prod",
        primary="us-east-1",
        regions=("us-east-1", "eu-west-1"),
        resources={"eu-west-1": RESOURCES},
        session=None,  # type: ignore[arg-type]
        config=None,  # type: ignore[arg-type]
        unreadable={"us-east-1": "cannot reach CloudFormation in us-east-1"},
        **extra,
    )


def test_a_check_that_aws_refuses_fails_alone_and_the_run_goes_on() -> None:
    """GIVEN the operator may not set an alarm's state WHEN that check runs THEN it fails,
    naming the call and the refusal, and the next check still runs."""
    from botocore.exceptions import ClientError

    from cli.smoke import Smoke

    def refused() -> str:
        failure = {"Error": {"Code": "AccessDenied", "Message": "not allowed"}}
        raise ClientError(failure, "SetAlarmState")

    out = io.StringIO()
    smoke = Smoke(_stage(), lambda: None, None, out)  # type: ignore[arg-type, return-value]

    first = smoke.check("alarm reaches the topic in eu-west-1", refused)
    second = smoke.check("next", lambda: "ran")

    assert (first.status, first.detail) == ("FAIL", "SetAlarmState was refused: AccessDenied")
    assert (second.status, second.detail) == ("PASS", "ran")
    assert out.getvalue().splitlines()[0].startswith("FAIL")


def test_a_region_whose_stack_cannot_be_read_fails_its_checks_with_why() -> None:
    """GIVEN a stage whose us-east-1 stack cannot be read WHEN the smoke checks that region
    THEN its checks fail with the reason, rather than the run breaking."""
    from cli.smoke import Smoke

    smoke = Smoke(_stage(), lambda: None, "token", io.StringIO())  # type: ignore[arg-type, return-value]

    result = smoke.check("region us-east-1", lambda: smoke.region("us-east-1"))

    assert (result.status, result.detail) == ("FAIL", "cannot reach CloudFormation in us-east-1")
