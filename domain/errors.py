"""Errors a client can act on.

Each class name is the AppSync ``errorType`` the client sees: the Lambda runtime
reports an exception by its class name, and AppSync passes that on unchanged.
"""

from __future__ import annotations


class GatewayError(Exception):
    """Base for every error whose message is safe to show a client."""

    def __init__(self, message: str, info: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.info = info


class ValidationError(GatewayError):
    """The input breaks a rule; nothing was written."""


class NotFound(GatewayError):
    """A mutation named an aggregate that does not exist."""


class VersionConflict(GatewayError):
    """The caller's ``expectedVersion`` is not the current version.

    ``kind`` and ``aggregate_id`` name the aggregate that moved, so a handler whose
    transaction touched several can tell a stale client from a lost race.
    """

    def __init__(
        self,
        message: str,
        info: dict[str, object] | None = None,
        *,
        kind: str | None = None,
        aggregate_id: str | None = None,
    ) -> None:
        super().__init__(message, info)
        self.kind = kind
        self.aggregate_id = aggregate_id


class InsufficientStock(GatewayError):
    """The change would take a product's stock below zero."""


class InvalidTransition(GatewayError):
    """The aggregate's status does not allow this command."""


class Unauthorized(GatewayError):
    """The caller may not do this."""


class PrimaryUnavailable(GatewayError):
    """The primary region cannot take writes now; reads still work."""


class LimitExceeded(GatewayError):
    """A depth, size or rate limit was passed."""


class InternalFailure(GatewayError):
    """Something broke on our side; details are in the logs, never in the answer."""

    def __init__(self) -> None:
        super().__init__("An internal error occurred. It has been logged.")
