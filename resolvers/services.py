"""What the routers use, built once per Lambda (or per emulated region) in bootstrap."""

from __future__ import annotations

from typing import Any, NamedTuple

from aws_lambda_powertools.event_handler.appsync import Router

from domain.control import ControlRecord
from domain.dependencies import Dependencies
from domain.store import WriteStore
from projections.settings import Settings
from projections.table import ProjectionTable
from resolvers.freshness import Offload, run_inline, wait_deadline
from resolvers.tokens import TokenSigner

# What the handler puts in the router's context: the event's ``stash.waitMsLeft``.
WAIT_MS_LEFT = "wait_ms_left"


class Services(NamedTuple):
    """Adapters for one region.

    Attributes
    ----------
    projections
        THIS region's projection table: every query reads only from it.
    write_store
        The PRIMARY region's write table, whichever region the control record names:
        every mutation writes only to it.
    control
        This region's view of the control record: which region is primary, and
        whether writes are taken.
    offload
        Runs a blocking read for an async resolver: in place on Lambda; on the
        region's threads in ``gateway dev``, so that a waiting read holds no thread.
    """

    settings: Settings
    projections: ProjectionTable
    write_store: WriteStore
    tokens: TokenSigner
    control: ControlRecord
    offload: Offload[Any] = run_inline

    def wait_until(self, router: Router) -> float:
        """When the read-your-writes wait of the invocation ``router`` is serving ends:
        this Lambda's budget, cut to what its request has left of one."""
        return wait_deadline(router.context.get(WAIT_MS_LEFT), self.settings.min_version_wait_ms)

    def command_deps(self, router: Router) -> Dependencies:
        """What a command handler gets for the request ``router`` is serving.

        Raises
        ------
        PrimaryUnavailable
            Writes are paused. Every mutation asks for its dependencies before its
            handler reads anything, so it is refused at once, whatever else is wrong
            with it, and the write store's ``commit`` refuses again as the last guard.
        """
        self.control.writable()
        correlation_id = str(router.context.get("correlation_id", ""))
        caller = caller_scope(router.context.get("identity"))
        return Dependencies(store=self.write_store, correlation_id=correlation_id, caller=caller)


def caller_scope(identity: Any) -> str:
    """Who asks, as the plain text that scopes their idempotency keys.

    A user-pool user by their ``sub`` (unique in the pool), an IAM caller by its ARN,
    and every holder of the public client token (the Lambda authorizer's callers) as
    one caller: keys of two callers never meet, since the kind of caller is part of the
    scope.
    """
    if isinstance(identity, dict):
        if identity.get("sub"):
            return f"user:{identity['sub']}"
        if identity.get("userArn"):
            return f"iam:{identity['userArn']}"
    return "public"
