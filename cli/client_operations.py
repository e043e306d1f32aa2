"""Client operation documents, checked against the schema as a front end's build would.

A front-end repository keeps its queries, mutations, subscriptions and fragments in
``.graphql`` files; codegen treats them as one set, so a fragment defined in one file
may be spread in another, and a file of fragments alone is not an error. Names must
be unique across the set: codegen names a generated type after each.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    NoUnusedFragmentsRule,
    OperationDefinitionNode,
    Source,
    Visitor,
    concat_ast,
    parse,
    specified_rules,
    validate,
    visit,
)

from cli.schema_gate import Located, SchemaProblem, located, read_text

SUFFIXES = (".graphql", ".gql")
# Fragments live in files of their own, used by other files.
_RULES = [rule for rule in specified_rules if rule is not NoUnusedFragmentsRule]


class NoOperations(Exception):
    """The folder cannot be checked: it is missing, or holds no operation files."""


@dataclass(frozen=True)
class Report:
    """What a check of a folder found: the files, their operations, and every problem."""

    files: list[str]
    operations: list[OperationDefinitionNode]
    problems: list[Located]


def operation_files(folder: Path) -> list[Path]:
    """The ``.graphql`` and ``.gql`` files under ``folder``, in a stable order.

    Raises
    ------
    NoOperations
        ``folder`` is not a folder, or holds no such file.
    """
    if not folder.exists():
        raise NoOperations(f"{folder}: no such folder")
    if not folder.is_dir():
        raise NoOperations(f"{folder}: not a folder; pass the folder that holds the .graphql files")
    files = sorted(path for path in folder.rglob("*") if path.suffix in SUFFIXES and path.is_file())
    if not files:
        raise NoOperations(f"{folder}: no .graphql or .gql files in it or below it")
    return files


def check_folder(schema: GraphQLSchema, folder: Path) -> Report:
    """Parse every operation file under ``folder`` and validate each against ``schema``."""
    labels = [path.as_posix() for path in operation_files(folder)]
    documents: dict[str, DocumentNode] = {}
    problems: list[Located] = []
    for label in labels:
        path = Path(label)
        try:
            documents[label] = parse(Source(read_text(path, label), label))
        except SchemaProblem as unreadable:
            problems += unreadable.problems
        except GraphQLError as error:
            problems.append(located(error, label))
    fragments, duplicates = _names(documents.values())
    problems += duplicates
    for label, document in documents.items():
        merged = concat_ast([document, *_borrowed(document, fragments)])
        problems += [located(error, label) for error in validate(schema, merged, _RULES)]
    operations = [
        definition
        for document in documents.values()
        for definition in document.definitions
        if isinstance(definition, OperationDefinitionNode)
    ]
    return Report(labels, operations, sorted(set(problems)))


def _names(
    documents: Iterable[DocumentNode],
) -> tuple[dict[str, FragmentDefinitionNode], list[Located]]:
    """Every fragment by name, and a problem for each name used twice in the set."""
    fragments: dict[str, FragmentDefinitionNode] = {}
    seen: dict[tuple[str, str], OperationDefinitionNode | FragmentDefinitionNode] = {}
    problems = []
    for document in documents:
        for definition in document.definitions:
            if not isinstance(definition, OperationDefinitionNode | FragmentDefinitionNode):
                continue
            if definition.name is None:
                continue
            kind = "fragment" if isinstance(definition, FragmentDefinitionNode) else "operation"
            key = (kind, definition.name.value)
            first = seen.setdefault(key, definition)
            if first is not definition and _file(first) != _file(definition):
                message = f'There can be only one {kind} named "{key[1]}" in the set.'
                problems.append(located(GraphQLError(message, [definition, first]), ""))
            if isinstance(definition, FragmentDefinitionNode):
                fragments.setdefault(definition.name.value, definition)
    return fragments, problems


def _file(node: OperationDefinitionNode | FragmentDefinitionNode) -> str:
    return node.loc.source.name if node.loc else ""


def _borrowed(
    document: DocumentNode, fragments: dict[str, FragmentDefinitionNode]
) -> list[DocumentNode]:
    """The fragments ``document`` spreads (directly or through others) that other files
    define, each as a one-definition document."""
    own = {
        definition.name.value
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    needed: dict[str, FragmentDefinitionNode] = {}
    pending = _spreads(document)
    while pending:
        name = pending.pop()
        if name in own or name in needed or name not in fragments:
            continue
        needed[name] = fragments[name]
        pending |= _spreads(fragments[name])
    return [DocumentNode(definitions=(fragment,)) for fragment in needed.values()]


def _spreads(node: DocumentNode | FragmentDefinitionNode) -> set[str]:
    names: set[str] = set()

    class Spreads(Visitor):
        def enter_fragment_spread(self, spread: FragmentSpreadNode, *_: object) -> None:
            names.add(spread.name.value)

    visit(node, Spreads())
    return names
