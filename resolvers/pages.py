"""Page sizes and tokens, the same for every connection field."""

from __future__ import annotations

from typing import Any

from domain.errors import ValidationError
from resolvers.tokens import TokenSigner

DEFAULT_PAGE = 20
MAX_PAGE = 100


def page_size(first: int | None) -> int:
    size = DEFAULT_PAGE if first is None else first
    if not 1 <= size <= MAX_PAGE:
        raise ValidationError(f"first must be between 1 and {MAX_PAGE}.")
    return size


def connection(
    tokens: TokenSigner, scope: str, items: list[dict[str, Any]], last: dict[str, Any] | None
) -> dict[str, Any]:
    """A Connection: the page and the signed token for the next one."""
    return {"items": items, "nextToken": tokens.issue(scope, last)}
