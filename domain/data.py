"""Dataclasses to and from their stored, GraphQL-shaped form (camelCase keys).

Every aggregate, and every event's copy of one, is stored this way, so the write table,
the stream and the projections all spell a field as the schema does.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, TypeVar

T = TypeVar("T")


def camel(name: str) -> str:
    """``price_cents`` -> ``priceCents``: the GraphQL (and stored) spelling."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def to_data(value: Any) -> Any:
    """A record (NamedTuple or dataclass, nested ones, tuples of them) as plain camelCase
    dicts and lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            camel(field.name): to_data(getattr(value, field.name))
            for field in dataclasses.fields(value)
        }
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a NamedTuple
        return {camel(name): to_data(getattr(value, name)) for name in value._fields}
    if isinstance(value, list | tuple):
        return [to_data(item) for item in value]
    return value


def from_data(cls: type[T], data: dict[str, Any]) -> T:
    """Inverse of :func:`to_data` for ``cls``; extra keys (such as table keys) are ignored."""
    hints = typing.get_type_hints(cls)
    # A NamedTuple lists its fields in _fields; a dataclass through dataclasses.fields.
    names = getattr(cls, "_fields", None) or [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    return cls(**{name: _typed(hints[name], data[camel(name)]) for name in names})


def _typed(hint: Any, value: Any) -> Any:
    record = dataclasses.is_dataclass(hint) or hasattr(hint, "_fields")
    if isinstance(hint, type) and record and isinstance(value, dict):
        return from_data(hint, value)
    if typing.get_origin(hint) is tuple and isinstance(value, list | tuple):
        (item_hint, *_) = typing.get_args(hint)
        return tuple(_typed(item_hint, item) for item in value)
    return value
