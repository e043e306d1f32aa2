"""Input rules shared by every aggregate: each failure is a ValidationError naming the field."""

from __future__ import annotations

import unicodedata

from domain.data import camel
from domain.errors import ValidationError

# GraphQL's Int is signed 32-bit, and AppSync refuses to return a larger one: a number
# past it could be stored but never read back, so every amount, count and version
# written to an Int field is checked against it before anything is written.
MAX_INT = 2**31 - 1


def text(field: str, value: object) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{camel(field)} must be a string.")
    return value


def whole(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{camel(field)} must be a whole number.")
    return value


def visible_text(field: str, value: object, limit: int) -> str:
    """Stripped text that shows at least one character, at most ``limit`` long."""
    cleaned = text(field, value).strip()
    # strip() leaves zero-width and other format characters, which render as nothing.
    if not any(unicodedata.category(char)[0] not in "CZ" for char in cleaned):
        raise ValidationError(f"{camel(field)} must not be empty.")
    return bounded_text(field, cleaned, limit)


def bounded_text(field: str, value: object, limit: int) -> str:
    checked = text(field, value)
    if len(checked) > limit:
        raise ValidationError(f"{camel(field)} must be at most {limit} characters.")
    return checked


def next_version(kind: str, aggregate_id: str, version: int) -> int:
    """The version after ``version``; refused at Int's limit, where it could not be read."""
    if version >= MAX_INT:
        raise ValidationError(
            f"{kind.title()} {aggregate_id} has reached the most changes a version can "
            f"count ({MAX_INT}); it cannot change again.",
            {"id": aggregate_id, "maxVersion": MAX_INT},
        )
    return version + 1
