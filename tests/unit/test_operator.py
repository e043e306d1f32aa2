"""The operator token in front of the admin apps: commands send it, browsers sign in once."""

from __future__ import annotations

import pytest

from emulator.operator import OperatorOnly, cookie_name, login_url, new_token, operator_headers
from tests.unit.asgi import Reached, call

TOKEN = new_token()


def guarded() -> tuple[OperatorOnly, Reached]:
    app = Reached()
    return OperatorOnly(app, TOKEN), app


def test_each_run_gets_a_new_unguessable_token() -> None:
    """GIVEN two runs WHEN each makes its token THEN they differ, and are long."""
    assert new_token() != new_token()
    assert len(TOKEN) >= 43  # 256 bits, base64url


def test_a_request_with_no_token_gets_401_saying_where_the_token_is() -> None:
    """GIVEN the admin app WHEN asked with no credential THEN 401, a Bearer challenge,
    a reason naming dev.json, and the app is never reached."""
    middleware, app = guarded()

    answer = call(middleware, "/_emulator/status")

    assert answer.status == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert "dev.json" in answer.body.decode()
    assert app.scopes == []


@pytest.mark.parametrize(
    "headers",
    [
        [("authorization", "Bearer not-it")],
        [("authorization", "Bearer " + TOKEN[:-1])],
        [("cookie", f"{cookie_name(TOKEN)}=not-it")],
        [("authorization", "Bearer ünïcode")],
    ],
    ids=["other-token", "almost", "other-cookie", "non-ascii"],
)
def test_a_wrong_token_gets_403_and_the_app_is_never_reached(
    headers: list[tuple[str, str]],
) -> None:
    """GIVEN a wrong token, in the header or the cookie WHEN it arrives THEN 403."""
    middleware, app = guarded()

    answer = call(middleware, "/_emulator/faults", method="DELETE", headers=headers)

    assert answer.status == 403
    assert app.scopes == []


@pytest.mark.parametrize(
    "headers",
    [
        list(operator_headers(TOKEN).items()),
        [("cookie", f"theme=dark; {cookie_name(TOKEN)}={TOKEN}")],
    ],
    ids=["bearer", "cookie"],
)
def test_the_token_in_the_header_or_the_cookie_reaches_the_app(
    headers: list[tuple[str, str]],
) -> None:
    """GIVEN this run's token as a command sends it, or as the browser's cookie WHEN it
    arrives THEN the app answers."""
    middleware, app = guarded()

    answer = call(middleware, "/_emulator/faults", headers=headers)

    assert (answer.status, answer.body) == (200, b"reached")
    assert len(app.scopes) == 1


def test_the_printed_url_signs_a_browser_in_and_drops_the_token_from_the_address() -> None:
    """GIVEN the status URL gateway dev prints WHEN a browser opens it THEN 303 to the
    same path without the token (other parameters kept), with an HttpOnly,
    SameSite=Strict cookie for /_emulator carrying the token, and nothing cached."""
    middleware, app = guarded()
    url = login_url("http://127.0.0.1:4000/_emulator/status", TOKEN)
    assert url.endswith("?token=" + TOKEN)

    answer = call(middleware, "/_emulator/status", query=f"token={TOKEN}&history=1")

    assert answer.status == 303
    assert answer.headers["location"] == "/_emulator/status?history=1"
    assert answer.headers["cache-control"] == "no-store"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{cookie_name(TOKEN)}={TOKEN};")
    assert {"Path=/_emulator", "HttpOnly", "SameSite=Strict"} <= {
        part.strip() for part in cookie.split(";")
    }
    assert app.scopes == []


def test_a_wrong_token_in_the_url_signs_nobody_in() -> None:
    """GIVEN a status URL with a wrong token WHEN opened THEN 403 and no cookie."""
    middleware, _ = guarded()

    answer = call(middleware, "/_emulator/status", query="token=guess")

    assert answer.status == 403
    assert "set-cookie" not in answer.headers


def test_two_runs_on_one_machine_keep_cookies_of_their_own() -> None:
    """GIVEN two tokens WHEN their cookie names are made THEN they differ: a browser
    keeps cookies by host, not port, and one run's sign-in must not undo the other's."""
    assert cookie_name(TOKEN) != cookie_name(new_token())
    assert TOKEN not in cookie_name(TOKEN)
