"""Dependencies point one way: each folder imports only the layers DESIGN.md allows it.

Read from the source with ``ast``, so a lazy import inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
OURS = ("schema", "domain", "projections", "resolvers", "emulator", "cli", "infra")
# DESIGN.md's layout table: what each of our folders may import of ours.
ALLOWED: dict[str, set[str]] = {
    "schema": set(),
    "domain": set(),
    "projections": {"domain"},
    "resolvers": {"domain", "projections"},
    "emulator": {"domain", "projections", "resolvers", "schema", "infra"},
    "cli": {"domain", "projections", "resolvers", "schema", "emulator", "infra"},
    # The CDK app reads the key module (and the write table's names it re-exports)
    # and the schema file; it holds no runtime logic.
    "infra": {"projections.keys", "domain.records"},
}
# Lambda@Edge runs alone, with nothing of ours beside it.
EDGE = "infra/edge"


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports (absolute names), wherever the import stands."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def crossings(layer: str) -> list[str]:
    """``file: module`` for each import of ours that ``layer`` may not make."""
    allowed = ALLOWED[layer]
    refused = []
    for path in sorted((REPO / layer).rglob("*.py")):
        relative = path.relative_to(REPO).as_posix()
        for module in sorted(imports_of(path)):
            top = module.split(".")[0]
            if top not in OURS or top == layer:
                continue
            if relative.startswith(EDGE) or not _permitted(module, allowed):
                refused.append(f"{relative}: {module}")
    return refused


def _permitted(module: str, allowed: set[str]) -> bool:
    return any(module == name or module.startswith(name + ".") for name in allowed) or any(
        name.startswith(module + ".") for name in allowed
    )


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_each_layer_imports_only_what_the_layout_allows(layer: str) -> None:
    """GIVEN the layout table WHEN every module of a folder is read THEN none of its
    imports reaches a layer above it (or, for the edge function, any layer at all)."""
    assert crossings(layer) == []


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    """GIVEN a domain module that imports the emulator THEN the check names it."""
    module = tmp_path / "bad.py"
    module.write_text("def f():\n    from emulator.appsync import executor\n")
    found = imports_of(module)
    assert "emulator.appsync.executor" in found
    assert not _permitted("emulator.appsync.executor", ALLOWED["domain"])
