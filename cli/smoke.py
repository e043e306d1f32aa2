"""``gateway smoke``: does a deployment work, end to end, as its users will use it?

The same checks run against a running ``gateway dev`` and a deployed stage
(:mod:`cli.targets`), in this order:

1. sign-in: a user-pool token for a user in ``staff`` (:mod:`cli.smoke_signin`);
2. the public client token anonymous readers send: given, ``gateway dev``'s, or read
   from the secret the stage's stack names;
3. each region directly: an anonymous read of ``region``, answered by that region;
4. the public endpoint (the domain on AWS; ``gateway dev``'s global endpoint locally);
5. a subscription to product changes through the public endpoint;
6. a write through a replica (a region that is not the primary), then a read back
   with ``minVersion`` in every region, then the subscription hearing it;
7. on a stage, each region's alarm topic: CloudWatch is made to fire the dead-letter
   alarm (SetAlarmState), and its history must show the topic notified (the alarm
   returns to its true state at its next evaluation); and someone must be subscribed.

Every check prints a line: PASS, FAIL or SKIP, its time, and what it saw. SKIP is only
for a part the deployment does not have (a ``gateway dev`` without a global endpoint;
alarms, which ``gateway dev`` has none of), or for a check whose prerequisite failed.
Exit 0 when nothing failed. The write goes to one product, category ``gateway-smoke``,
whose stock moves between 0 and 1, so runs do not pile up data.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from cli import smoke_alarms, smoke_signin, target_args
from cli.checks import Failed, Result, Skipped
from cli.graphql_client import GraphQLFailed, Subscription, Unreachable, post
from cli.targets import RegionResources, Target

CATEGORY = "gateway-smoke"
SKU = "GATEWAY-SMOKE"
HEARD_WITHIN_S = 15.0
REGION = "query { region { name primary mode } }"
FIND = "query($c: String) { products(category: $c, first: 1) { items { id stock version } } }"
CREATE = "mutation($i: CreateProductInput!) { createProduct(input: $i) { id stock version } }"
ADJUST = "mutation($i: AdjustStockInput!) { adjustStock(input: $i) { id stock version } }"
READ = "query($id: ID!, $v: Int) { product(id: $id, minVersion: $v) { id stock version } }"
# (the region written through, the product's id, the version written)
Written = tuple[str, str, int]
SUBSCRIBE = "subscription($c: String) { onProductChanged(category: $c) { id stock version } }"


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "smoke", help="check a deployment end to end: regions, public endpoint, write, alarms"
    )
    target_args.add_arguments(parser)
    parser.add_argument(
        "--region", help="with --stage: where to look the stage up (default: the profile's)"
    )
    smoke_signin.add_arguments(parser)
    parser.add_argument(
        "--public-token",
        help="the public client token anonymous readers send (default: gateway dev's, or "
        "on a stage the one in the secret its stack names)",
    )


def run(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Run every check; 0 when none failed, 1 when one did, 2 when asked wrongly."""
    target = target_args.open_target(args, args.region)
    try:
        sign_in = smoke_signin.sign_in_step(target, args)
    except smoke_signin.NeedsInput as error:
        print(f"gateway smoke: {error}", file=err)
        return 2
    results = Smoke(target, sign_in, args.public_token, out).run()
    failed = sum(result.status == "FAIL" for result in results)
    skipped = sum(result.status == "SKIP" for result in results)
    passed = len(results) - failed - skipped
    print(
        f"smoke: {passed} passed, {failed} failed, {skipped} skipped ({target.description})",
        file=out,
    )
    return 1 if failed else 0


class Smoke:
    """One run of the checks, printing each result as it comes."""

    def __init__(
        self,
        target: Target,
        sign_in: Callable[[], smoke_signin.SignedIn],
        public_token: str | None,
        out: TextIO,
    ) -> None:
        self._target = target
        self._sign_in = sign_in
        self._public_token = public_token
        self._anonymous: dict[str, str] | None = None
        self._out = out
        self._results: list[Result] = []
        self._user: dict[str, str] | None = None
        self._primary: str | None = None

    def run(self) -> list[Result]:
        target = self._target
        self.check("sign-in", self._signed_in)
        self.check("public client token", self._client_token)
        for region in target.regions:
            self.check(f"region {region}", partial(self.region, region))
        public = self.check("public endpoint", self._public)
        subscription = self._subscribe(public.status == "PASS")
        written = self._write()
        for region in target.regions:
            self.check(f"read back in {region}", partial(self._read_back, region, written))
        self.check("subscription heard it", lambda: self._heard(subscription, written))
        if subscription is not None:
            subscription.close()
        self._alarms()
        return self._results

    def check(self, name: str, step: Callable[[], str]) -> Result:
        started = time.perf_counter()
        try:
            status, detail = "PASS", step()
        except Skipped as why:
            status, detail = "SKIP", str(why)
        except (Failed, GraphQLFailed, smoke_signin.SignInFailed) as why:
            status, detail = "FAIL", str(why)
        except ClientError as why:  # the operator may not make the call, or AWS refused
            code = why.response.get("Error", {}).get("Code", "?")
            status, detail = "FAIL", f"{why.operation_name} was refused: {code}"
        except BotoCoreError as why:
            status, detail = "FAIL", f"an AWS call failed: {why}"
        result = Result(name, status, round((time.perf_counter() - started) * 1000), detail)
        print(result.line(), file=self._out, flush=True)
        self._results.append(result)
        return result

    def _signed_in(self) -> str:
        try:
            signed_in = self._sign_in()
        except smoke_signin.SignInFailed as error:
            raise Failed(str(error)) from None
        groups = ", ".join(signed_in.groups) or "none"
        if "staff" not in signed_in.groups:
            raise Failed(f"{signed_in.subject} is in groups {groups}; the write needs staff")
        self._user = {"Authorization": signed_in.token}
        return f"{signed_in.how}: {signed_in.subject} (groups {groups})"

    def _client_token(self) -> str:
        """The token anonymous readers send, as every region must take it."""
        if self._public_token:
            token, source = self._public_token, "given on the command line"
        elif self._target.local is not None:
            token, source = self._target.local.credentials.public_token, "gateway dev's"
        else:
            token, source = smoke_signin.public_token(self._target)
        self._anonymous = {"Authorization": token}
        return source

    def _reader(self) -> dict[str, str]:
        headers = self._anonymous or self._user
        if headers is None:
            raise Skipped("no credential: sign-in and the public client token both failed")
        return headers

    def resources(self, region: str) -> RegionResources:
        """The region's resources; a check of a region whose stack cannot be read fails."""
        if region in self._target.unreadable:
            raise Failed(self._target.unreadable[region])
        return self._target.resources[region]

    def region(self, region: str) -> str:
        url = self.resources(region).graphql_url
        answer = post(url, REGION, {}, self._reader())["region"]
        if answer["name"] != region:
            raise Failed(f"{url} answered as {answer['name']}")
        self._primary = self._primary or answer["primary"]
        return f"answered by {region} (primary {answer['primary']}, {answer['mode']})"

    def _public(self) -> str:
        url = self._target.public_url
        if url is None:
            raise Failed("the stage names no public URL (is its edge stack deployed?)")
        try:
            answer = post(url, REGION, {}, self._reader())["region"]
        except Unreachable as error:
            if self._target.is_local:
                raise Skipped(f"this gateway dev serves no global endpoint ({error})") from None
            raise
        if answer["name"] not in self._target.regions:
            raise Failed(f"{url} answered as {answer['name']}, no region of this deployment")
        return f"{url} answered by {answer['name']}"

    def _subscribe(self, through_public: bool) -> Subscription | None:
        """Open the subscription, through the public endpoint when it answers."""
        target = self._target
        first = next(iter(target.resources.values()))
        if through_public and target.public_realtime_url and target.public_url:
            name = "subscribe through the public endpoint"
            where = (target.public_realtime_url, target.public_url)
        else:
            name = f"subscribe through {first.region} (no public endpoint)"
            where = (first.realtime_url or "", first.graphql_url)
        opened: list[Subscription] = []

        def subscribe() -> str:
            opened.append(
                Subscription(where[0], where[1], self._reader(), SUBSCRIBE, {"c": CATEGORY})
            )
            return f"{where[0]} acknowledged onProductChanged(category: {CATEGORY})"

        self.check(name, subscribe)
        return opened[0] if opened else None

    def _write(self) -> Written | None:
        """``(region written through, product id, version)``; None when it failed."""
        regions = self._target.regions
        through = next((r for r in regions if r != (self._primary or regions[0])), regions[0])
        written: list[Written] = []

        def write() -> str:
            if self._user is None:
                raise Skipped("needs the signed-in user, and sign-in failed")
            product = _touch(self.resources(through).graphql_url, self._user)
            written.append((through, product["id"], int(product["version"])))
            alone = " (the only region)" if through == self._primary else ""
            return f"product {product['id']} is at version {product['version']}{alone}"

        self.check(f"write through {through}", write)
        return written[0] if written else None

    def _read_back(self, region: str, written: Written | None) -> str:
        if written is None:
            raise Skipped("nothing was written")
        _, product_id, version = written
        url = self.resources(region).graphql_url
        variables = {"id": product_id, "v": version}
        product = post(url, READ, variables, self._reader())["product"]
        if product is None or int(product["version"]) < version:
            raise Failed(f"product(minVersion: {version}) answered {product}")
        return f"version {product['version']} (asked at least {version})"

    def _heard(self, subscription: Subscription | None, written: Written | None) -> str:
        if subscription is None or written is None:
            raise Skipped("needs the subscription and the write")
        _, product_id, version = written

        def wanted(data: Any) -> bool:
            change = (data or {}).get("onProductChanged") or {}
            return change.get("id") == product_id and int(change.get("version", 0)) >= version

        subscription.wait_for(wanted, HEARD_WITHIN_S)
        return f"onProductChanged delivered version {version} of {product_id}"

    def _alarms(self) -> None:
        if self._target.is_local:
            self.check("alarm topics", _no_alarms_locally)
            return
        for region, resources in self._target.resources.items():
            self.check(
                f"alarm reaches the topic in {region}",
                partial(smoke_alarms.fire, self._target, resources),
            )
            self.check(
                f"alarm topic subscribers in {region}",
                partial(smoke_alarms.subscribers, self._target, resources),
            )


def _no_alarms_locally() -> str:
    raise Skipped("gateway dev has no CloudWatch alarms; run smoke --stage after deploying")


def _touch(url: str, user: dict[str, str]) -> dict[str, Any]:
    """Move the smoke product's stock between 0 and 1, creating it the first time."""
    found = post(url, FIND, {"c": CATEGORY}, user)["products"]["items"]
    if not found:
        product = {
            "sku": SKU,
            "name": "Gateway smoke check",
            "description": "Written by `gateway smoke`; its stock moves between 0 and 1.",
            "category": CATEGORY,
            "priceCents": 1,
            "currency": "EUR",
            "stock": 0,
            "idempotencyKey": str(uuid.uuid4()),
        }
        try:
            return dict(post(url, CREATE, {"i": product}, user)["createProduct"])
        except GraphQLFailed as error:
            # Created meanwhile, by another run, and not yet projected here.
            raise Failed(f"{error} (run the smoke again in a few seconds)") from None
    current = found[0]
    delta = -1 if int(current["stock"]) > 0 else 1
    change = {"id": current["id"], "delta": delta, "idempotencyKey": str(uuid.uuid4())}
    return dict(post(url, ADJUST, {"i": change}, user)["adjustStock"])
