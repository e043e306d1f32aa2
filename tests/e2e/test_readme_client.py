"""The README's typed-client Python snippet works as written against `gateway dev`."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest

from tests.e2e.support import REPO_ROOT, Gateway, unique, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

SECTION = "### Typed clients"
README_URL = "ws://127.0.0.1:4001/graphql"
README_TOKEN = "gatewayLocalPublicClientToken00000000001"
CREATE = "mutation($i: CreateProductInput!) { createProduct(input: $i) { id } }"
WRITE_EVERY_S = 0.5


def readme_snippet() -> str:
    """The first Python block of the README's typed-client section."""
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme[readme.index(SECTION) :]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found is not None, "the typed-client section has no Python block"
    return found.group(1)


def test_the_readme_subscription_snippet_hears_a_change(gateway: Gateway) -> None:
    """GIVEN the README's gql snippet, pointed at this gateway's replica WHEN staff create
    lighting products in the primary THEN the snippet prints one change and exits 0."""
    code = readme_snippet()
    assert README_URL in code and README_TOKEN in code
    code = code.replace(README_URL, gateway.ws_url("eu-west-1"))
    code = code.replace(README_TOKEN, gateway.public_token)
    snippet = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    written: list[float] = []

    def heard() -> bool:
        # The snippet subscribes on its own time: write until it has heard one change.
        if snippet.poll() is not None:
            return True
        if not written or time.monotonic() - written[-1] >= WRITE_EVERY_S:
            product = {
                "sku": unique("README").upper(),
                "name": "Reading lamp",
                "category": "lighting",
                "priceCents": 3900,
                "currency": "EUR",
                "stock": 2,
            }
            gateway.query(gateway.primary, CREATE, {"i": product})
            written.append(time.monotonic())
        return False

    try:
        wait_until(heard, 30, "the README snippet to hear a change")
        out, err = snippet.communicate(timeout=10)
    finally:
        if snippet.poll() is None:
            snippet.kill()
            snippet.communicate()

    assert snippet.returncode == 0, err
    assert re.fullmatch(r".+: \d+ in stock \(v\d+\)\n", out), out
