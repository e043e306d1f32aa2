"""`gateway smoke` against a running `gateway dev`: the checks an operator runs after
`cdk deploy`, known to work before anyone has an account."""

from __future__ import annotations

import re

import pytest

from tests.e2e.support import Gateway, gateway_cli

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

LINE = re.compile(r"^(PASS|FAIL|SKIP)\s+(\d+) ms  (.+?): (.*)$")
REGIONS = ("us-east-1", "eu-west-1")


def checks(output: str) -> dict[str, tuple[str, str]]:
    """Each check's ``(status, detail)`` by name; every line but the summary is one."""
    found: dict[str, tuple[str, str]] = {}
    for line in output.splitlines()[:-1]:
        match = LINE.match(line)
        assert match, f"not a check line: {line!r}"
        found[match[3]] = (match[1], match[4])
    return found


def test_smoke_passes_against_gateway_dev_and_reuses_its_product(gateway: Gateway) -> None:
    """
    GIVEN the two-region gateway dev
    WHEN gateway smoke runs against it, twice
    THEN each time it exits 0 after signing in, reading each region directly with
         gateway dev's public client token, writing
         through eu-west-1 (the replica), reading that version back in every region and
         hearing it on a subscription opened through gateway dev's global endpoint,
         which answers the public endpoint's read as one of its regions; alarms are
         skipped (gateway dev has none); and the second run writes the same product,
         one version on
    """
    runs = [gateway_cli(gateway, "smoke") for _ in range(2)]

    versions = []
    for run in runs:
        assert run.returncode == 0, run.stdout + run.stderr
        found = checks(run.stdout)
        passed = {name for name, (status, _) in found.items() if status == "PASS"}
        assert passed >= {
            "sign-in",
            "public client token",
            *(f"region {region}" for region in REGIONS),
            "write through eu-west-1",
            *(f"read back in {region}" for region in REGIONS),
            "public endpoint",
            "subscribe through the public endpoint",
            "subscription heard it",
        }, run.stdout
        public = found["public endpoint"][1]
        assert re.fullmatch(
            rf"{re.escape(gateway.global_url)} answered by ({'|'.join(REGIONS)})", public
        )
        assert found["alarm topics"][0] == "SKIP"
        assert run.stdout.splitlines()[-1].startswith("smoke: ")
        assert ", 0 failed," in run.stdout.splitlines()[-1]
        written = re.match(
            r"product (\S+) is at version (\d+)", found["write through eu-west-1"][1]
        )
        assert written, found["write through eu-west-1"]
        versions.append((written[1], int(written[2])))
    assert versions[1] == (versions[0][0], versions[0][1] + 1)


def test_smoke_fails_when_the_user_cannot_write(gateway: Gateway) -> None:
    """GIVEN a token of a customer, who may not write products WHEN gateway smoke signs in
    with it THEN sign-in fails saying the write needs staff, what needs it is skipped
    with the reason, the regions still pass, and it exits 1."""
    customer = gateway.token("smoke-customer", "customers")

    run = gateway_cli(gateway, "smoke", "--token", customer)

    assert run.returncode == 1, run.stdout + run.stderr
    found = checks(run.stdout)
    assert found["sign-in"][0] == "FAIL"
    assert "the write needs staff" in found["sign-in"][1]
    assert found["write through eu-west-1"] == (
        "SKIP",
        "needs the signed-in user, and sign-in failed",
    )
    assert {found[f"region {region}"][0] for region in REGIONS} == {"PASS"}
    assert "Traceback" not in run.stderr
