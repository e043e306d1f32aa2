"""The schema as a contract: read it with locations, compare it with the last release.

* :func:`load_schema_file` builds a schema from SDL as AppSync would (its own
  declarations, from ``schema/appsync.graphql``, first), and says where SDL is wrong.
* :func:`compare` lists breaking and dangerous changes: graphql-core's, plus the auth
  directives a field lost, which graphql-core does not look at.
* A breaking change passes only when the changelog names it in the Breaking part of
  its Unreleased section (:func:`unrecorded`); :func:`released_changelog` then starts
  the next Unreleased section.

Pure functions of text and files; :mod:`cli.schema_commands` prints and exits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path

from graphql import (
    GraphQLError,
    GraphQLObjectType,
    GraphQLSchema,
    Source,
    build_ast_schema,
    concat_ast,
    find_breaking_changes,
    find_dangerous_changes,
    get_location,
    parse,
    validate_schema,
)
from graphql.validation.validate import validate_sdl

from emulator.appsync import scalars
from emulator.appsync.executor import auth_modes

APPSYNC_DECLARATIONS = "schema/appsync.graphql"
AUTH_NARROWED = "AUTH_NARROWED"
# A schema coordinate, as graphql-core writes them in its change descriptions:
# Type, Type.field, Type.field(arg:), @directive, @directive(arg:).
_COORDINATE = re.compile(r"@?[_A-Za-z]\w*(?:\.[_A-Za-z]\w*)?(?:\([_A-Za-z]\w*:\))?")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_VERSION = re.compile(r"\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?")


@dataclass(frozen=True, order=True)
class Located:
    """A problem at a place in a file, printed as ``file:line:column: message``."""

    source: str
    line: int | None
    column: int | None
    message: str

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}:{self.column}"
        return f"{where}: {self.message}"


class SchemaProblem(Exception):
    """SDL that cannot be built into a schema, with each problem located."""

    def __init__(self, problems: list[Located]) -> None:
        super().__init__("\n".join(str(problem) for problem in problems))
        self.problems = problems


class ReleaseRefused(Exception):
    """A release that cannot be recorded as asked; the message says what to fix."""


@dataclass(frozen=True)
class Change:
    """One difference between the baseline and the current schema.

    ``coordinate`` is the schema coordinate the changelog must name to record it.
    """

    breaking: bool
    kind: str
    description: str
    coordinate: str

    @property
    def plain_kind(self) -> str:
        return self.kind.lower().replace("_", " ")


def read_text(path: Path, label: str) -> str:
    """The file as text, or a located reason it is not readable UTF-8."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SchemaProblem([Located(label, None, None, "no such file")]) from None
    except OSError as error:
        raise SchemaProblem([Located(label, None, None, error.strerror or str(error))]) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        column = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
        message = f"not UTF-8 text (byte 0x{raw[error.start]:02x}); is this a GraphQL file?"
        raise SchemaProblem([Located(label, line, column, message)]) from None


def located(error: GraphQLError, label: str) -> Located:
    """Where ``error`` is, in the file each of its nodes came from.

    graphql-core computes every location against the first node's source; a document
    merged from several files (AppSync's declarations, or fragments from other
    operation files) needs each node's own.
    """
    places = [
        (node.loc.source.name, get_location(node.loc.source, node.loc.start))
        for node in error.nodes or ()
        if node.loc is not None
    ]
    if not places and error.source is not None and error.locations:
        places = [(error.source.name, location) for location in error.locations]
    if not places:
        return Located(label, None, None, error.message)
    # The reader's own file first: they can change it, not AppSync's declarations.
    places.sort(key=lambda place: place[0] != label)
    (source, first), others = places[0], places[1:]
    also = "".join(f" (also at {name}:{at.line}:{at.column})" for name, at in others)
    if source == label and any(name == APPSYNC_DECLARATIONS for name, _ in others):
        also += "; AppSync declares it itself, so leave it out"
    return Located(source, first.line, first.column, error.message + also)


def load_schema_file(path: Path, label: str | None = None) -> GraphQLSchema:
    """The schema in ``path``, built as AppSync builds it.

    Raises
    ------
    SchemaProblem
        The file is missing, not text, or not valid SDL; every problem is located.
    """
    name = label or path.as_posix()
    return load_schema_text(read_text(path, name), name)


def load_schema_text(sdl: str, label: str) -> GraphQLSchema:
    """The schema in ``sdl``, after AppSync's own declarations; see :func:`load_schema_file`."""
    prelude = resources.files("schema").joinpath("appsync.graphql").read_text()
    try:
        document = parse(Source(sdl, label))
    except GraphQLError as error:
        raise SchemaProblem([located(error, label)]) from None
    merged = concat_ast([parse(Source(prelude, APPSYNC_DECLARATIONS)), document])
    errors = validate_sdl(merged)
    if not errors:
        schema = build_ast_schema(merged, assume_valid_sdl=True)
        errors = validate_schema(schema)
    if errors:
        raise SchemaProblem([located(error, label) for error in errors])
    scalars.install(schema)
    return schema


def compare(baseline: GraphQLSchema, current: GraphQLSchema) -> list[Change]:
    """Every breaking change, then every dangerous one, from ``baseline`` to ``current``."""
    breaking = [
        _change(True, change.type.name, change.description, baseline)
        for change in find_breaking_changes(baseline, current)
    ]
    dangerous = [
        _change(False, change.type.name, change.description, baseline)
        for change in find_dangerous_changes(baseline, current)
    ]
    return [*breaking, *_auth_narrowed(baseline, current), *dangerous]


def _change(breaking: bool, kind: str, description: str, baseline: GraphQLSchema) -> Change:
    tokens = [match.group() for match in _COORDINATE.finditer(description)]
    precise = [token for token in tokens if "." in token or "(" in token or "@" in token]
    types = [token for token in tokens if token in baseline.type_map]
    coordinate = (precise or types or [description])[0]
    return Change(breaking, kind, description, coordinate)


def _auth_narrowed(baseline: GraphQLSchema, current: GraphQLSchema) -> list[Change]:
    """Fields some caller could use before and cannot now: AppSync refuses them."""
    changes = []
    for type_name, old_type in baseline.type_map.items():
        new_type = current.type_map.get(type_name)
        if not isinstance(old_type, GraphQLObjectType) or not isinstance(
            new_type, GraphQLObjectType
        ):
            continue
        for field_name, old_field in old_type.fields.items():
            new_field = new_type.fields.get(field_name)
            if new_field is None:
                continue  # graphql-core reports the removal
            before = auth_modes(old_field, old_type)
            after = auth_modes(new_field, new_type)
            for mode, groups in before.items():
                lost = _lost(groups, after, mode)
                if lost:
                    coordinate = f"{type_name}.{field_name}"
                    description = f"{coordinate} no longer allows {lost}."
                    changes.append(Change(True, AUTH_NARROWED, description, coordinate))
    return changes


def _lost(groups: set[str] | None, after: dict[str, set[str] | None], mode: str) -> str:
    """Who, of ``mode`` with ``groups``, may no longer call; empty when nobody lost."""
    if mode not in after:
        return f"{mode} callers"
    allowed = after[mode]
    if allowed is None:
        return ""
    if groups is None:
        return f"{mode} callers outside the groups {', '.join(sorted(allowed))}"
    dropped = groups - allowed
    return f"{mode} callers in the groups {', '.join(sorted(dropped))}" if dropped else ""


def breaking_section(changelog: str) -> str:
    """The text under a "Breaking" heading inside the changelog's "Unreleased" section."""
    section: list[str] = []
    unreleased_level = breaking_level = 0
    for line in changelog.splitlines():
        heading = _HEADING.match(line)
        if heading:
            level, title = len(heading.group(1)), heading.group(2).strip("[] ").lower()
            if breaking_level and level <= breaking_level:
                breaking_level = 0
            if unreleased_level and level <= unreleased_level:
                unreleased_level = 0
            if title.startswith("unreleased"):
                unreleased_level = level
            elif unreleased_level and "breaking" in title:
                breaking_level = level
            continue
        if breaking_level:
            section.append(line)
    return "\n".join(section)


def unrecorded(changes: list[Change], changelog: str | None) -> list[Change]:
    """The breaking changes the changelog does not name under Unreleased > Breaking."""
    recorded = breaking_section(changelog or "")
    return [
        change
        for change in changes
        if change.breaking
        and not re.search(rf"(?<![\w.@]){re.escape(change.coordinate)}(?![\w(])", recorded)
    ]


def released_changelog(changelog: str, version: str, day: date) -> str:
    """``changelog`` with its Unreleased section titled ``version`` and ``day``, under a
    new, empty Unreleased section.

    Raises
    ------
    ReleaseRefused
        ``version`` is not a version number or is released already, or the changelog
        has no Unreleased section, or that section says nothing.
    """
    if not _VERSION.fullmatch(version):
        raise ReleaseRefused(f"{version!r} is not a version number such as 1.4.0")
    if re.search(rf"^##\s+\[?{re.escape(version)}\]?(\s|$)", changelog, re.M):
        raise ReleaseRefused(f"CHANGELOG.md already has a release {version}")
    heading = re.search(r"^##\s+\[?Unreleased\]?[^\n]*$", changelog, re.M | re.I)
    if heading is None:
        raise ReleaseRefused(
            'CHANGELOG.md has no "## Unreleased" section: describe this release there first'
        )
    following = re.search(r"^##\s", changelog[heading.end() :], re.M)
    body_end = heading.end() + following.start() if following else len(changelog)
    body = changelog[heading.end() : body_end]
    if not any(line.strip() and not _HEADING.match(line) for line in body.splitlines()):
        raise ReleaseRefused(
            'the "## Unreleased" section of CHANGELOG.md is empty: say what this release changes'
        )
    title = f"## Unreleased\n\n## {version} - {day.isoformat()}"
    return changelog[: heading.start()] + title + changelog[heading.end() :]
