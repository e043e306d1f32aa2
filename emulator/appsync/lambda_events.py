"""The direct Lambda resolver event AppSync sends for one root field.

``stash`` is empty on AppSync for a direct Lambda resolver; the emulator, standing in
for AppSync, puts there what is left of the request's read-your-writes budget
(``waitMsLeft``), so that every field of a request shares one deadline
(:mod:`resolvers.freshness`).
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLResolveInfo,
    InlineFragmentNode,
    SelectionSetNode,
    print_ast,
)

from emulator.appsync.auth import Caller
from resolvers.freshness import WAIT_LEFT_KEY


def appsync_event(
    info: GraphQLResolveInfo,
    arguments: dict[str, Any],
    caller: Caller,
    wait_ms_left: int | None = None,
) -> dict[str, Any]:
    """The direct Lambda resolver event AppSync sends for one field."""
    return field_event(
        info.parent_type.name,
        info.field_nodes[0],
        arguments,
        caller,
        info.fragments,
        # graphql-core 3.3 keeps where each value came from beside the values.
        dict(info.variable_values.coerced),
        wait_ms_left,
    )


def field_event(
    parent_type: str,
    node: FieldNode,
    arguments: dict[str, Any],
    caller: Caller,
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict[str, Any],
    wait_ms_left: int | None = None,
) -> dict[str, Any]:
    """The direct Lambda resolver event for ``node``, a field of ``parent_type``;
    ``wait_ms_left`` is what the request has left of its read-your-writes budget."""
    return {
        "arguments": arguments,
        "identity": caller.identity,
        "source": None,
        "request": {"headers": caller.headers, "domainName": None},
        "prev": None,
        "stash": {} if wait_ms_left is None else {WAIT_LEFT_KEY: wait_ms_left},
        "info": {
            "fieldName": node.name.value,
            "parentTypeName": parent_type,
            "variables": variables,
            "selectionSetList": selection_list(node.selection_set, fragments),
            "selectionSetGraphQL": print_ast(node.selection_set) if node.selection_set else "",
        },
    }


def selection_list(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    prefix: str = "",
    expanded: set[tuple[str, str]] | None = None,
) -> list[str]:
    """AppSync's ``selectionSetList``: every selected field as a slash-separated path.

    ``expanded`` holds the ``(prefix, fragment)`` pairs already listed. A fragment adds
    the same paths each time it is spread under one prefix, so listing it once keeps a
    small document that spreads each fragment twice in a chain from costing 2^n steps.
    """
    expanded = set() if expanded is None else expanded
    paths: list[str] = []
    for selection in selection_set.selections if selection_set else ():
        if isinstance(selection, FieldNode):
            path = prefix + selection.name.value
            paths.append(path)
            paths += selection_list(selection.selection_set, fragments, path + "/", expanded)
        elif isinstance(selection, InlineFragmentNode):
            paths += selection_list(selection.selection_set, fragments, prefix, expanded)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value in fragments:
            if (prefix, selection.name.value) in expanded:
                continue
            expanded.add((prefix, selection.name.value))
            fragment = fragments[selection.name.value]
            paths += selection_list(fragment.selection_set, fragments, prefix, expanded)
    return list(dict.fromkeys(paths))
