"""The schema documents itself: front-end teams read schema.graphql, not our code."""

from __future__ import annotations

import re

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
    parse,
)

from domain import errors
from emulator.appsync.executor import load_schema
from schema import export

_ERRORS = re.compile(r"Errors: (?P<list>[^.]*)\.")


def defined_in_schema_file() -> list[str]:
    """The names of the types schema.graphql itself defines (not AppSync's, not GraphQL's)."""
    document = parse(export.SCHEMA_FILE.read_text())
    return [
        definition.name.value
        for definition in document.definitions
        if hasattr(definition, "name") and definition.name is not None
    ]


def undocumented(schema: GraphQLSchema, names: list[str]) -> list[str]:
    """Every type of ``names``, and each of its fields, arguments, input fields and enum
    values, that has no description."""
    missing: list[str] = []
    for name in names:
        named = schema.get_type(name)
        if not (named and named.description):
            missing.append(name)
        if isinstance(named, GraphQLObjectType):
            for field_name, field in named.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                missing += [
                    f"{name}.{field_name}({arg}:)"
                    for arg, argument in field.args.items()
                    if not argument.description
                ]
        elif isinstance(named, GraphQLInputObjectType):
            missing += [
                f"{name}.{field_name}"
                for field_name, field in named.fields.items()
                if not field.description
            ]
        elif isinstance(named, GraphQLEnumType):
            missing += [
                f"{name}.{value_name}"
                for value_name, value in named.values.items()
                if not value.description
            ]
    return missing


def documented_errors(description: str | None) -> list[str]:
    """The errorTypes a field's description lists after "Errors:", without the asides."""
    found = _ERRORS.search(re.sub(r"\([^)]*\)", "", description or ""))
    if found is None:
        return []
    return [name.strip() for name in found.group("list").split(",") if name.strip()]


def test_every_element_of_the_schema_has_a_description() -> None:
    """GIVEN schema.graphql WHEN every type, field, argument and enum value is read THEN
    each one says what it is: nothing is left for a front-end developer to guess."""
    assert undocumented(load_schema(), defined_in_schema_file()) == []


def test_a_missing_description_is_reported_by_name() -> None:
    """GIVEN a schema with one undocumented argument and enum value THEN the check names
    exactly those, so the failure says what to write."""
    schema = build_schema(
        '"""Reads."""\ntype Query {\n  """One."""\n  one(id: ID, kind: Kind): Int\n}\n'
        '"""Kinds."""\nenum Kind {\n  """A."""\n  A\n  B\n}\n'
        'input Filter {\n  """Its kind."""\n  kind: Kind\n  name: String\n}\n'
    )
    missing = undocumented(schema, ["Query", "Kind", "Filter"])
    assert missing == ["Query.one(id:)", "Query.one(kind:)", "Kind.B", "Filter", "Filter.name"]


def test_every_mutation_lists_the_error_types_it_can_return() -> None:
    """GIVEN each Mutation field WHEN its description is read THEN it lists its errorTypes
    after "Errors:", and each one is a class in domain/errors.py, so a client can switch
    on every name it reads there."""
    schema = load_schema()
    assert schema.mutation_type is not None
    known = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, errors.GatewayError)
    }
    listed = {
        name: documented_errors(field.description)
        for name, field in schema.mutation_type.fields.items()
    }
    assert all(listed.values()), {name: types for name, types in listed.items() if not types}
    unknown = {name: set(types) - known for name, types in listed.items() if set(types) - known}
    assert unknown == {}


def test_error_lists_name_what_the_domain_raises_for_each_write() -> None:
    """GIVEN the write mutations THEN each lists PrimaryUnavailable (every write can meet
    a lost primary), and the ones that read an existing aggregate list NotFound."""
    schema = load_schema()
    assert schema.mutation_type is not None
    fields = schema.mutation_type.fields
    writes = [name for name in fields if not name.startswith("publish")]
    for name in writes:
        assert "PrimaryUnavailable" in documented_errors(fields[name].description), name
    for name in ("updateProduct", "adjustStock", "placeOrder", "cancelOrder", "shipOrder"):
        assert "NotFound" in documented_errors(fields[name].description), name
    for name in ("cancelOrder", "shipOrder"):
        assert "InvalidTransition" in documented_errors(fields[name].description), name
