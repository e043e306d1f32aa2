"""`gateway dev --public-token`: the client token anonymous clients send, in every region."""

from __future__ import annotations

import re

import pytest

from cli.main import _parser, main
from emulator.appsync.auth import DEFAULT_PUBLIC_TOKEN
from infra.config import CLIENT_TOKEN_LENGTH, CLIENT_TOKEN_PATTERN

TOKEN = "MyFrontEndsPublicClientToken000000000001"


def test_the_default_token_has_the_deployed_shape() -> None:
    """GIVEN no flag THEN gateway dev hands out a token the deployed authorizer's pattern
    accepts, as long as the one Secrets Manager generates."""
    args = _parser().parse_args(["dev"])

    assert args.public_token == DEFAULT_PUBLIC_TOKEN
    assert len(DEFAULT_PUBLIC_TOKEN) == CLIENT_TOKEN_LENGTH
    assert re.fullmatch(CLIENT_TOKEN_PATTERN, DEFAULT_PUBLIC_TOKEN)


@pytest.mark.parametrize("flag", ["--public-token", "--api-key"])
def test_the_token_is_set_by_its_flag_or_by_the_old_api_key_flag(flag: str) -> None:
    """GIVEN --public-token, or --api-key (its old name, kept so scripts keep working)
    THEN either sets the client token."""
    assert _parser().parse_args(["dev", flag, TOKEN]).public_token == TOKEN


def test_a_token_the_authorizer_would_never_see_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """GIVEN an old API key's value WHEN gateway dev starts THEN it exits 2 before
    starting anything, naming the flag and the shape a token must have."""
    with pytest.raises(SystemExit) as exited:
        main(["dev", "--api-key", "da2-gatewaylocaldevelopmentkey"])

    assert exited.value.code == 2
    assert "--public-token must be 32 to 128 letters and digits" in capsys.readouterr().err
