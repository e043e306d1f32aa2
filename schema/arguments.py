"""Arguments that several features share: paging, read-your-writes, and publishing."""

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
