"""The local user pool: tokens it signed are accepted, anything else is refused."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import pytest

from emulator.appsync.auth import COGNITO, LocalCredentials, authenticate
from emulator.appsync.executor import Executor, load_schema
from emulator.cloud.jwt_issuer import ISSUER, LocalIssuer


@pytest.fixture
def issuer(tmp_path: Path) -> LocalIssuer:
    return LocalIssuer.in_state_dir(tmp_path)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_minted_token_carries_cognitos_claims(issuer: LocalIssuer) -> None:
    """GIVEN a token for customer c-1 WHEN verified THEN its claims are Cognito's."""
    claims = issuer.verify(issuer.mint("c-1", ["customers"], 60))
    assert claims is not None
    assert (claims["sub"], claims["cognito:groups"], claims["iss"]) == (
        "c-1",
        ["customers"],
        ISSUER,
    )
    assert (claims["token_use"], claims["exp"] - claims["iat"]) == ("id", 60)


def test_the_key_survives_a_restart(tmp_path: Path) -> None:
    """GIVEN a token minted by one issuer WHEN another loads the same state directory
    THEN it accepts the token (tokens outlive a `gateway dev` restart)."""
    token = LocalIssuer.in_state_dir(tmp_path).mint("c-1", [])
    assert LocalIssuer.in_state_dir(tmp_path).verify(token) is not None
    assert (tmp_path / "jwt-signing-key.pem").stat().st_mode & 0o077 == 0


def test_refused_tokens(issuer: LocalIssuer, tmp_path: Path) -> None:
    """GIVEN expired, forged, re-signed, alg=none, or garbled tokens THEN each is refused."""
    good = issuer.mint("c-1", ["customers"])
    header, payload, signature = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    other = LocalIssuer.in_state_dir(tmp_path / "other")
    refused = [
        issuer.mint("c-1", [], ttl_s=-1),
        f"{header}.{_b64({**claims, 'cognito:groups': ['staff']})}.{signature}",
        other.mint("c-1", ["staff"]),
        f"{_b64({'alg': 'none'})}.{payload}.",
        f"{_b64({'alg': 'HS256'})}.{payload}.{signature}",
        "not.a.token",
        "",
        "a.b",
        good + "x",
    ]
    assert [issuer.verify(token) for token in refused] == [None] * len(refused)


def test_authenticate_turns_a_token_into_appsyncs_cognito_identity(issuer: LocalIssuer) -> None:
    """GIVEN a raw or Bearer token in Authorization THEN the caller's identity has the
    shape AppSync gives a Lambda; a bad token proves nobody."""
    token = issuer.mint("c-1", ["customers"])
    for header in (token, f"Bearer {token}"):
        caller = asyncio.run(
            authenticate(LocalCredentials(), "eu-west-1", {"authorization": header}, None, issuer)
        )
        assert caller is not None and caller.mode == COGNITO
        identity = caller.identity or {}
        assert (identity["sub"], identity["groups"], identity["issuer"]) == (
            "c-1",
            ["customers"],
            ISSUER,
        )
        assert identity["claims"]["token_use"] == "id"
    refused = authenticate(
        LocalCredentials(), "eu-west-1", {"authorization": "x.y.z"}, None, issuer
    )
    assert asyncio.run(refused) is None


def test_group_directives_are_enforced(issuer: LocalIssuer) -> None:
    """GIVEN createProduct, which user-pool callers may use only in group staff WHEN a
    customer calls it THEN Unauthorized and nothing is invoked; WHEN staff call it THEN
    the resolver Lambda receives the Cognito identity."""
    invoked: list[dict[str, Any]] = []
    executor = Executor(load_schema(), lambda event: invoked.append(event) or {"id": "p"})
    query = (
        'mutation { createProduct(input: {sku: "S", name: "N", category: "c", '
        'priceCents: 1, currency: "USD", stock: 1}) { id } }'
    )

    def as_user(groups: list[str]) -> dict[str, Any]:
        headers = {"authorization": issuer.mint("u-1", groups)}
        caller = asyncio.run(authenticate(LocalCredentials(), "eu-west-1", headers, None, issuer))
        assert caller is not None
        return asyncio.run(executor.execute(query, None, None, caller)).response

    refused = as_user(["customers"])
    assert refused["errors"][0]["errorType"] == "Unauthorized"
    assert invoked == []
    accepted = as_user(["staff"])
    assert "errors" not in accepted
    assert invoked[0]["identity"]["groups"] == ["staff"]
