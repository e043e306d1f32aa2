"""AppSync's scalars, validated as AppSync validates them.

Input that does not fit is refused before any resolver runs (a ValidationError with
the scalar's name); AWSJSON is parsed on input and serialized to a string on output.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any
from urllib.parse import urlparse

from graphql import GraphQLScalarType, GraphQLSchema, IntValueNode, StringValueNode, ValueNode
from graphql.error import GraphQLError

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PHONE = re.compile(r"\+?[0-9][0-9 ().-]{3,30}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(Z|[+-]\d{2}:\d{2}(:\d{2})?)?")
_TIME = re.compile(r"\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}(:\d{2})?)?")
_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}(:\d{2})?)"
)


def _date(value: str) -> bool:
    return bool(_DATE.fullmatch(value)) and _parses(date.fromisoformat, value[:10])


def _time(value: str) -> bool:
    return bool(_TIME.fullmatch(value)) and _parses(time.fromisoformat, value[:8].rstrip("Z+-"))


def _datetime(value: str) -> bool:
    return bool(_DATETIME.fullmatch(value)) and _parses(
        datetime.fromisoformat, re.sub(r"\.\d+", "", value).replace("Z", "+00:00")
    )


def _url(value: str) -> bool:
    parsed = urlparse(value)
    return bool(parsed.scheme) and bool(parsed.netloc or parsed.path)


def _ip(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True


def _parses(parse: Callable[[str], Any], value: str) -> bool:
    try:
        parse(value)
    except ValueError:
        return False
    return True


_STRING_CHECKS: dict[str, Callable[[str], bool]] = {
    "AWSDate": _date,
    "AWSTime": _time,
    "AWSDateTime": _datetime,
    "AWSEmail": lambda value: bool(_EMAIL.fullmatch(value)),
    "AWSURL": _url,
    "AWSPhone": lambda value: bool(_PHONE.fullmatch(value)),
    "AWSIPAddress": _ip,
}


def install(schema: GraphQLSchema) -> None:
    """Give the schema's AWS scalars AppSync's parsing and serialization."""
    for name, check in _STRING_CHECKS.items():
        _define(schema, name, _checked_string(name, check), StringValueNode)
    _define(schema, "AWSTimestamp", _timestamp, IntValueNode)
    _define(schema, "AWSJSON", _json_in, StringValueNode, serialize=_json_out)


def _define(
    schema: GraphQLSchema,
    name: str,
    parse_value: Callable[[Any], Any],
    literal_kind: type,
    serialize: Callable[[Any], Any] | None = None,
) -> None:
    scalar = schema.type_map.get(name)
    if not isinstance(scalar, GraphQLScalarType):
        return

    def parse_literal(node: ValueNode) -> Any:
        if not isinstance(node, literal_kind):
            raise GraphQLError(f"{name} cannot represent this literal.")
        raw = node.value  # type: ignore[attr-defined]
        return parse_value(int(raw) if literal_kind is IntValueNode else raw)

    # graphql-core 3.3 reads these when it coerces input and shapes output (the older
    # parse_value, parse_literal and serialize names are deprecated there).
    setattr(scalar, "coerce_input_value", parse_value)  # noqa: B010
    setattr(scalar, "coerce_input_literal", parse_literal)  # noqa: B010
    if serialize is not None:
        setattr(scalar, "coerce_output_value", serialize)  # noqa: B010


def _checked_string(name: str, check: Callable[[str], bool]) -> Callable[[Any], str]:
    def parse_value(value: Any) -> str:
        if not isinstance(value, str) or not check(value):
            raise GraphQLError(f"{name} cannot represent {json.dumps(value)[:100]}.")
        return value

    return parse_value


def _timestamp(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise GraphQLError("AWSTimestamp must be a whole number of seconds since the epoch.")
    return value


def _json_in(value: Any) -> Any:
    if not isinstance(value, str):
        raise GraphQLError("AWSJSON must be a string of JSON.")
    try:
        return json.loads(value)
    except ValueError:
        raise GraphQLError("AWSJSON cannot parse this string as JSON.") from None


def _json_out(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
