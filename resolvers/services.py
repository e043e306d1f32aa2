"""What the routers use, built once per Lambda (or per emulated region) in bootstrap."""

from __future__ import annotations

from typing import NamedTuple

from aws_lambda_powertools.event_handler.appsync import Router

from domain.dependencies import Dependencies
from domain.store import WriteStore
from projections.settings import Settings
from projections.table import ProjectionTable
from resolvers.tokens import TokenSigner


class Services(NamedTuple):
    """Adapters for one region.

    Attributes
    ----------
    projections
        THIS region's projection table: every query reads only from it.
    write_store
        The PRIMARY region's write table: every mutation writes only to it.
    """

    settings: Settings
    projections: ProjectionTable
    write_store: WriteStore
    tokens: TokenSigner

    def command_deps(self, router: Router) -> Dependencies:
        """What a command handler gets for the request ``router`` is serving."""
        correlation_id = str(router.context.get("correlation_id", ""))
        return Dependencies(store=self.write_store, correlation_id=correlation_id)
