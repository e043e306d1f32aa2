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
