"""Settings are parsed once from the environment; a bad value names the variable to fix."""

from __future__ import annotations

import pytest

from projections.settings import Settings

DURATIONS = ["GATEWAY_CONTROL_CACHE_MS", "GATEWAY_MIN_VERSION_WAIT_MS"]


def test_unset_durations_take_their_defaults() -> None:
    """GIVEN no tuning variables WHEN settings are parsed THEN the control record is cached
    5 s and minVersion waits 1 s; the primary is this region."""
    settings = Settings.from_env({"GATEWAY_REGION": "eu-west-1"})

    assert settings.control_cache_ms == 5000
    assert settings.min_version_wait_ms == 1000
    assert settings.primary_region == "eu-west-1"


@pytest.mark.parametrize("name", DURATIONS)
@pytest.mark.parametrize(("raw", "expected"), [("250", 250), ("0", 0), (" 40 ", 40)])
def test_a_duration_is_read_in_milliseconds(name: str, raw: str, expected: int) -> None:
    """GIVEN a whole number of milliseconds, 0 included WHEN parsed THEN it is taken."""
    settings = Settings.from_env({name: raw})

    assert settings._asdict()[name.removeprefix("GATEWAY_").lower()] == expected


@pytest.mark.parametrize("name", DURATIONS)
def test_an_empty_duration_counts_as_unset(name: str) -> None:
    """GIVEN a variable set to the empty string (as a template leaves an unset value)
    WHEN parsed THEN the default holds, as if it were not set."""
    assert Settings.from_env({name: ""}) == Settings.from_env({})


@pytest.mark.parametrize("name", DURATIONS)
@pytest.mark.parametrize("raw", ["abc", "5s", "1.5", "1e3", "-1", "-0.5", "⑤"])
def test_a_hostile_duration_is_refused_naming_the_variable(name: str, raw: str) -> None:
    """GIVEN a value that is not a whole number of milliseconds, 0 or more WHEN settings are
    parsed THEN a ValueError names the variable and the value, so the fix is obvious."""
    with pytest.raises(ValueError, match=name) as refused:
        Settings.from_env({name: raw})

    assert "0 or more" in str(refused.value)
    assert raw in str(refused.value)


def test_the_primarys_write_client_makes_one_attempt_as_the_breaker_counts_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """GIVEN the write client for the primary WHEN its attempt times out THEN it gives up:
    :class:`domain.breaker.Guard` does the retrying, within a deadline that counts one
    attempt of at most 1.3 s per call, so a lost primary is refused within 2 s.

    botocore's ``retries={"max_attempts": N}`` means N retries after the first try
    (``total_max_attempts`` counts them all): ``max_attempts=1`` makes two attempts,
    1.6 s against a hanging primary before the guard even sees a failure.
    """
    from botocore.exceptions import ReadTimeoutError

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    settings = Settings(region="eu-west-1", primary_region="us-east-1")
    client = settings._replace(endpoint_url="http://dynamodb.invalid").write_dynamodb("us-east-1")
    sent: list[str] = []

    def time_out(request: object, **_: object) -> None:
        sent.append(str(getattr(request, "url", "")))
        raise ReadTimeoutError(endpoint_url="http://dynamodb.invalid")

    client.meta.events.register("before-send.dynamodb.GetItem", time_out)
    with pytest.raises(ReadTimeoutError):
        client.get_item(TableName="gateway-write", Key={"pk": {"S": "A"}, "sk": {"S": "B"}})

    assert len(sent) == 1


def test_the_deployments_regions_give_each_region_its_peers() -> None:
    """GIVEN GATEWAY_REGIONS listing three regions, spaces and a repeat included WHEN
    eu-west-1 parses its settings THEN its peers are the other two, once each, in order."""
    env = {
        "AWS_REGION": "eu-west-1",
        "GATEWAY_REGIONS": "us-east-1, eu-west-1,ap-south-1,us-east-1",
    }

    assert Settings.from_env(env).peer_regions == ("us-east-1", "ap-south-1")


@pytest.mark.parametrize("raw", ["us-east-1,../etc", "us-east-1;rm", "US-EAST-1", "x" * 300])
def test_a_hostile_region_list_is_refused_naming_the_variable(raw: str) -> None:
    """GIVEN GATEWAY_REGIONS holding something that is not a region's name WHEN parsed THEN
    it is refused naming the variable, rather than making a client for nonsense."""
    with pytest.raises(ValueError, match="GATEWAY_REGIONS") as refused:
        Settings.from_env({"AWS_REGION": "us-east-1", "GATEWAY_REGIONS": raw})

    assert "is not one" in str(refused.value)
