"""The schema is a contract: the committed file, the code and the resolvers agree."""

from __future__ import annotations

import subprocess
import sys

from graphql import GraphQLObjectType

from domain.control import Control, ControlRecord
from emulator.appsync.executor import load_schema, subscribed_mutations
from projections.settings import Settings
from projections.table import ProjectionTable
from resolvers.bootstrap import build_app
from resolvers.services import Services
from resolvers.tokens import TokenSigner
from schema import export
from tests.unit.fakes import FakeWriteStore


def _app_registry() -> object:
    settings = Settings(region="eu-west-1", primary_region="us-east-1")
    control = ControlRecord(None, settings.write_table, Control("us-east-1", "ACTIVE", 0))
    services = Services(
        settings, ProjectionTable(client=None), FakeWriteStore(), TokenSigner("s"), control
    )
    return build_app(services)._resolver_registry


def test_committed_schema_matches_the_code() -> None:
    """GIVEN the strawberry types WHEN exported THEN they equal schema/schema.graphql.

    Run `make schema` after changing a type, and commit the file.
    """
    assert export.SCHEMA_FILE.read_text() == export.render()


def test_exported_schema_leaves_out_what_appsync_declares_itself() -> None:
    """GIVEN the deployable file THEN it uses AWS scalars and directives but defines none."""
    sdl = export.SCHEMA_FILE.read_text()
    assert "scalar AWS" not in sdl
    assert "directive @aws_" not in sdl
    assert "updatedAt: AWSDateTime!" in sdl
    assert '@aws_subscribe(mutations: ["publishProductChanged"])' in sdl


def test_every_query_and_mutation_field_has_a_resolver() -> None:
    """GIVEN the deployed schema WHEN each root field is looked up THEN a resolver answers it."""
    registry = _app_registry()
    schema = load_schema()
    missing = [
        f"{root.name}.{name}"
        for root in (schema.query_type, schema.mutation_type)
        if isinstance(root, GraphQLObjectType)
        for name in root.fields
        if registry.find_resolver(root.name, name) is None  # type: ignore[attr-defined]
    ]
    assert missing == []


def test_every_subscription_is_bound_to_a_resolved_publish_mutation() -> None:
    """GIVEN each Subscription field THEN its @aws_subscribe names mutations that exist."""
    schema = load_schema()
    assert schema.subscription_type is not None and schema.mutation_type is not None
    bound = subscribed_mutations(schema)
    listeners = {field for fields in bound.values() for field in fields}
    assert listeners == set(schema.subscription_type.fields)
    assert set(bound) <= set(schema.mutation_type.fields)
    assert all(name.startswith("publish") for name in bound)


def test_no_resolver_answers_a_field_the_schema_lacks() -> None:
    """GIVEN the registered resolvers THEN each one names a field of the schema."""
    schema = load_schema()
    registered = _app_registry().resolvers  # type: ignore[attr-defined]
    for address in registered:
        type_name, field_name = address.split(".")
        root = schema.get_type(type_name)
        assert isinstance(root, GraphQLObjectType) and field_name in root.fields, address


def test_lambda_paths_import_neither_strawberry_nor_the_emulator() -> None:
    """GIVEN a fresh interpreter WHEN both Lambda handlers are imported THEN cold starts stay
    small: no strawberry, no graphql-core, no emulator, no moto."""
    probe = (
        "import sys, resolvers.handler, projections.stream;"
        "heavy = ('strawberry', 'graphql', 'emulator', 'cli', 'moto', 'starlette', 'uvicorn');"
        "print(sorted({m.split('.')[0] for m in sys.modules if m.startswith(heavy)}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_the_authorizer_imports_neither_powertools_nor_boto3_before_its_first_request() -> None:
    """GIVEN a fresh interpreter WHEN the Lambda authorizer's handler is imported THEN it
    holds no powertools, no boto3 (made on the first request, with the secret's client),
    and nothing of the emulator: it runs before every uncached request, so its cold
    start stays short."""
    probe = (
        "import sys, resolvers.authorizer;"
        "heavy = ('aws_lambda_powertools', 'boto3', 'strawberry', 'graphql', 'emulator',"
        " 'cli', 'moto');"
        "print(sorted({m.split('.')[0] for m in sys.modules if m.startswith(heavy)}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
