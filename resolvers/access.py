"""Owner rules, which AppSync's directives cannot express.

The schema's directives decide which auth mode (and which Cognito group) may reach a
field; these rules decide whose data a signed-in customer may touch. Staff, and
callers that are not users (the API key, IAM), are not narrowed here: the
directives already decided whether they may reach the field at all. A signed-in user
in neither group is refused here too, should a directive ever let one through: only
the ``customers`` group gets customer powers.

A record named by its own id says itself whose it is, so it must be read to decide.
Then one a customer may not see is answered as a missing one is, after the same reads,
whatever else was asked (``minVersion`` included): a refused caller learns nothing,
not even that it exists. Everything else is decided before anything is read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler.appsync import Router

from domain.errors import NotFound, Unauthorized

CUSTOMERS = "customers"
STAFF = "staff"

Read = Callable[[], dict[str, Any] | None]


def customer_sub(router: Router) -> str | None:
    """The signed-in customer's id, or None when the caller is staff or not a user.

    Raises
    ------
    Unauthorized
        The caller is a signed-in user in neither the customers nor the staff group:
        they have no customer powers.
    """
    identity: Any = router.context.get("identity")
    if not isinstance(identity, dict) or "sub" not in identity:
        return None
    groups = identity.get("groups") or []
    if STAFF in groups:
        return None
    if CUSTOMERS not in groups:
        raise Unauthorized("Not Authorized: customer operations need the customers group.")
    return str(identity["sub"])


def require_own(router: Router, customer_id: str, what: str) -> None:
    """Refuse a customer acting on another customer's ``what``."""
    sub = customer_sub(router)
    if sub is not None and sub != customer_id:
        raise Unauthorized(f"Not Authorized to access {what} of another customer.")


def visible(router: Router, read: Read) -> Read:
    """``read``, answering None for a record the caller may not see, as for a missing one.

    The record is read either way, so a refused caller waits as long as for a missing
    one; the caller is resolved first, so a user in no group reads nothing.
    """
    sub = customer_sub(router)

    def read_visible() -> dict[str, Any] | None:
        found = read()
        if found is None or (sub is not None and found.get("customerId") != sub):
            return None
        return found

    return read_visible


def require_visible(router: Router, kind: str, aggregate_id: str, load: Read) -> None:
    """Refuse a customer naming another customer's ``kind`` as a missing one is refused:
    NotFound, after the same read. Staff and callers that are not users read nothing."""
    if customer_sub(router) is None:
        return
    if visible(router, load)() is None:
        raise not_found(kind, aggregate_id)


def not_found(kind: str, aggregate_id: str) -> NotFound:
    """The error a missing ``kind`` gets from its command handler, word for word
    (``domain.order_handlers``), for a record the caller may not know of."""
    return NotFound(f"{kind.title()} {aggregate_id} does not exist.", {"id": aggregate_id})
