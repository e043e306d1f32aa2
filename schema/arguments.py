"""Arguments that several features share: paging, read-your-writes, publishing, and the
idempotency key every mutation's input takes."""

from __future__ import annotations

import strawberry

MIN_VERSION = strawberry.argument(
    description="The version a mutation returned: never answer with an older one. The "
    "region waits up to a second for its projection, then reads the primary."
)
FIRST = strawberry.argument(description="Page size: 1 to 100, 20 when left out.")
AFTER = strawberry.argument(
    description="The `nextToken` of the page before; the first page when left out."
)
INPUT = strawberry.argument(description="What to write; see the input type.")
PUBLISHED = strawberry.argument(description="Returned as the field of the same name.")
IDEMPOTENCY_KEY = (
    "Up to 128 characters of your choosing, scoped to you: the same input sent again with "
    "the same key (a retry after a timeout, say) returns the first result, at its version, "
    "and applies nothing again; other input with a used key is a ValidationError."
)
OPTIONAL_IDEMPOTENCY_KEY = IDEMPOTENCY_KEY + " Left out, every request is applied."
