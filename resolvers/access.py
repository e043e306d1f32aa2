"""Owner rules, which AppSync's directives cannot express.

The schema's directives decide which auth mode (and which Cognito group) may reach a
field; these rules decide whose data a signed-in customer may touch. Staff, and
callers that are not users (the API key, IAM), are not narrowed here: the
directives already decided whether they may reach the field at all. A signed-in user
in neither group is refused here too, should a directive ever let one through: only
the ``customers`` group gets customer powers.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.appsync import Router

from domain.errors import Unauthorized

CUSTOMERS = "customers"
STAFF = "staff"


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
