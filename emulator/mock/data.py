"""Plausible data for any type of the schema: the same seed and place give the same data.

Every value is drawn from a generator seeded with ``seed`` and the value's place (the
root field with its arguments, then the path below it), so a screen shows the same
product each time it asks, and a snapshot test stays still. Fields are recognised by
name (``priceCents``, ``email``, ``currency``, ``updatedAt``...), then by type; one
object draws one product or one person, so its name, sku, category and email agree.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLUnionType,
)

# (name, sku prefix, category)
PRODUCTS = [
    ("desk lamp", "LAMP", "lighting"),
    ("floor lamp", "LAMP", "lighting"),
    ("pendant light", "LIGHT", "lighting"),
    ("armchair", "CHAIR", "furniture"),
    ("side table", "TABLE", "furniture"),
    ("bookshelf", "SHELF", "furniture"),
    ("teapot", "POT", "kitchen"),
    ("chef's knife", "KNIFE", "kitchen"),
    ("throw blanket", "THROW", "textiles"),
    ("cushion cover", "CUSH", "textiles"),
    ("planter", "PLANT", "garden"),
    ("headphones", "AUDIO", "audio"),
]
MATERIALS = ["Oak", "Walnut", "Linen", "Ceramic", "Brass", "Wool", "Bamboo", "Steel", "Glass"]
FIRST_NAMES = ["Ana", "Bruno", "Chloé", "Dmitri", "Emma", "Farah", "Giulia", "Hiroshi", "Inês"]
LAST_NAMES = ["Costa", "Dubois", "Nakamura", "Okafor", "Schmidt", "Rossi", "Novak", "Haddad"]
CURRENCIES = ["USD", "EUR", "GBP"]
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]
PRICES = [499, 1299, 1999, 2450, 3900, 4500, 7900, 12900, 24900, 59900]
# Every timestamp falls in the 30 days before this moment.
EPOCH = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DEEPEST = 4


@dataclass(frozen=True)
class _Persona:
    """What one object is about, so that its fields agree with one another."""

    product: str
    sku: str
    category: str
    person: str
    email: str
    currency: str
    region: str


class MockData:
    """Generates values for the schema's types; ``seed`` picks one consistent world."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def value(
        self,
        type_: GraphQLOutputType,
        key: str,
        overrides: dict[str, Any] | None = None,
        items: int | None = None,
    ) -> Any:
        """A value of ``type_`` for the place ``key``.

        ``overrides`` are taken for the fields they name (an object or a list of
        objects is merged into the generated one); a connection's ``items`` take them
        too, and number ``items`` when given (a ``first`` argument).
        """
        return self._value(type_, key, "", "", overrides or {}, items, 0)

    def fill(self, type_: GraphQLOutputType, answer: Any, key: str) -> Any:
        """``answer`` with every field it lacks generated: the fields a resolver does
        not produce yet. What it holds, null included, stays."""
        named = _unwrap(type_)
        if isinstance(answer, list):
            return [self.fill(_item(type_), item, f"{key}[{i}]") for i, item in enumerate(answer)]
        if not isinstance(answer, dict) or not isinstance(named, GraphQLObjectType):
            return answer
        place = f"{key}#{answer.get('id', '')}"
        filled = dict(answer)
        for name, field in named.fields.items():
            if name in answer:
                filled[name] = self.fill(field.type, answer[name], f"{place}.{name}")
            else:
                filled[name] = self._value(
                    field.type, f"{place}.{name}", name, named.name, None, None, 1
                )
        return filled

    def _value(
        self,
        type_: GraphQLOutputType,
        key: str,
        field: str,
        parent: str,
        given: Any,
        items: int | None,
        depth: int,
    ) -> Any:
        nullable = not isinstance(type_, GraphQLNonNull)
        inner = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
        if isinstance(inner, GraphQLList):
            if isinstance(given, list):
                each: list[Any] = given
            else:
                if depth > DEEPEST:
                    return []
                count = items if items is not None else self._rng(key).randint(2, 4)
                each = [given] * count
            return [
                self._value(inner.of_type, f"{key}[{i}]", field, parent, item, None, depth)
                for i, item in enumerate(each)
            ]
        if isinstance(inner, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType):
            if depth > DEEPEST and nullable and not given:
                return None
            return self._object(inner, key, given if isinstance(given, dict) else {}, items, depth)
        if given is not None and not isinstance(given, dict):
            return given
        persona = self._persona(key.rsplit(".", 1)[0])
        return self._agree(self._leaf(inner, key), field, parent, persona, key)

    def _object(
        self,
        type_: GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType,
        key: str,
        overrides: dict[str, Any],
        items: int | None,
        depth: int,
    ) -> dict[str, Any]:
        if isinstance(type_, GraphQLUnionType):
            member = self._rng(key).choice(type_.types)
            return {"__typename": member.name, **self._object(member, key, overrides, items, depth)}
        built: dict[str, Any] = {}
        for name, definition in type_.fields.items():
            given = overrides.get(name)
            composite = isinstance(_unwrap(definition.type), GraphQLObjectType)
            if name in overrides and not (composite and isinstance(given, dict | list)):
                built[name] = given
                continue
            if name == "items" and given is None:
                given = overrides  # a connection's filter applies to what it lists
            count = items if name == "items" else None
            built[name] = self._value(
                definition.type, f"{key}.{name}", name, type_.name, given, count, depth + 1
            )
        return _consistent(built, overrides)

    def _leaf(self, type_: Any, key: str) -> Any:
        rng = self._rng(key)
        if isinstance(type_, GraphQLEnumType):
            # Mostly the first value, the everyday one (ACTIVE, PLACED), sometimes another.
            values = list(type_.values)
            return values[0] if rng.random() < 0.6 else rng.choice(values)
        name = type_.name if isinstance(type_, GraphQLScalarType) else ""
        return _SCALARS.get(name, lambda r: " ".join(r.sample(MATERIALS, 2)).lower())(rng)

    def _agree(self, value: Any, field: str, parent: str, persona: _Persona, key: str) -> Any:
        """The value a field of this name should have, for this object's persona."""
        rng = self._rng(key)
        lowered = field.lower()
        if not isinstance(value, str | int) or isinstance(value, bool):
            return value
        if isinstance(value, int):
            return _number(lowered, rng, value)
        if lowered == "id" or field.endswith("Id"):
            return value if _is_id(value) else str(uuid.UUID(int=rng.getrandbits(128), version=4))
        by_name = {
            "email": persona.email,
            "currency": persona.currency,
            "sku": persona.sku,
            "category": persona.category,
            "description": f"{persona.product}, made to last. Ships in {rng.randint(1, 5)} days.",
            "primary": persona.region,
            "nexttoken": f"mock-{uuid.UUID(int=rng.getrandbits(128)).hex[:16]}",
        }
        if lowered in by_name:
            return by_name[lowered]
        if lowered.endswith("name"):
            if "product" in lowered or parent.startswith("Product"):
                return persona.product
            return persona.region if parent.startswith("Region") else persona.person
        return value

    def _persona(self, key: str) -> _Persona:
        rng = self._rng(key + "#persona")
        noun, prefix, category = rng.choice(PRODUCTS)
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        ascii_first = first.encode("ascii", "ignore").decode().lower() or "user"
        return _Persona(
            product=f"{rng.choice(MATERIALS)} {noun}",
            sku=f"{prefix}-{rng.randint(1, 999):03d}",
            category=category,
            person=f"{first} {last}",
            email=f"{ascii_first}.{last.lower()}@example.com",
            currency=rng.choice(CURRENCIES),
            region=rng.choice(REGIONS),
        )

    def _rng(self, key: str) -> random.Random:
        return random.Random(f"{self.seed}|{key}")


def place(parent: str, field: str, arguments: dict[str, Any]) -> str:
    """The key of a root field's answer: the same call, the same data."""
    return f"{parent}.{field}({json.dumps(arguments, sort_keys=True, default=str)})"


def _number(field: str, rng: random.Random, drawn: int) -> int:
    if field.endswith("cents"):
        return rng.choice(PRICES)
    ranges = {"stock": (0, 250), "quantity": (1, 4), "version": (1, 9), "delta": (-5, 5)}
    if field in ranges:
        return rng.randint(*ranges[field])
    if field.endswith("count"):
        return rng.randint(0, 30)
    if field.endswith("ms"):
        return rng.randint(5, 400)
    return drawn


def _timestamp(rng: random.Random) -> str:
    moment = EPOCH - timedelta(seconds=rng.randint(0, 30 * 24 * 3600))
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


_SCALARS: dict[str, Any] = {
    "ID": lambda r: str(uuid.UUID(int=r.getrandbits(128), version=4)),
    "Int": lambda r: r.randint(1, 100),
    "Float": lambda r: round(r.uniform(1, 5), 1),
    "Boolean": lambda r: r.random() < 0.5,
    "AWSDateTime": _timestamp,
    "AWSDate": lambda r: _timestamp(r)[:10],
    "AWSTime": lambda r: _timestamp(r)[11:23] + "Z",
    "AWSTimestamp": lambda r: int(EPOCH.timestamp()) - r.randint(0, 30 * 24 * 3600),
    "AWSEmail": lambda r: f"{r.choice(FIRST_NAMES).lower()}@example.com",
    "AWSJSON": lambda r: json.dumps({"note": r.choice(MATERIALS).lower()}),
    "AWSURL": lambda r: f"https://example.com/{r.choice(PRODUCTS)[1].lower()}",
    "AWSPhone": lambda r: f"+1 555 01{r.randint(0, 99):02d}",
    "AWSIPAddress": lambda r: f"192.0.2.{r.randint(1, 254)}",
}


def _is_id(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _consistent(built: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Make the generated (not the given) fields of one object agree with one another."""
    line = {"quantity", "unitPriceCents", "lineTotalCents"} <= built.keys()
    if line and "lineTotalCents" not in overrides:
        built["lineTotalCents"] = built["quantity"] * built["unitPriceCents"]
    lines = built.get("lines")
    if "totalCents" in built and "totalCents" not in overrides and isinstance(lines, list):
        built["totalCents"] = sum(
            line.get("lineTotalCents", 0) for line in lines if isinstance(line, dict)
        )
    for start in ("createdAt", "placedAt"):
        if start in built and "updatedAt" in built and "updatedAt" not in overrides:
            built["updatedAt"] = max(built["updatedAt"], built[start])
    for name, value in built.items():
        # customerId and customer { id } name the same customer.
        owner = built.get(name.removesuffix("Id")) if name.endswith("Id") else None
        if isinstance(owner, dict) and "id" in owner and name.removesuffix("Id") not in overrides:
            owner["id"] = value
    return built


def _unwrap(type_: Any) -> Any:
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        type_ = type_.of_type
    return type_


def _item(type_: Any) -> Any:
    inner = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    return inner.of_type if isinstance(inner, GraphQLList) else inner
