"""`common` is the kernel both services and the CLI share: nothing in it may import upwards."""

from __future__ import annotations

import ast
from pathlib import Path

import common

COMMON = Path(common.__file__).resolve().parent
FORBIDDEN = ("order", "product", "eshop_cli")


def _imported_modules(tree: ast.AST) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):  # walks function bodies too: a deferred import is still a dependency
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def test_no_module_under_common_imports_a_service_or_the_cli() -> None:
    offending = [
        f"{path.relative_to(COMMON.parent)} imports {name}"
        for path in sorted(COMMON.rglob("*.py"))
        if "generated" not in path.relative_to(COMMON).parts
        for name in _imported_modules(ast.parse(path.read_text(), filename=str(path)))
        if name.split(".")[0] in FORBIDDEN
    ]
    assert offending == []


def test_the_walk_sees_the_kernel() -> None:
    # Guards the test above against passing vacuously (a wrong root finds no files).
    assert (COMMON / "mediator.py").is_file()
