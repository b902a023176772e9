"""Where a test goes needs no paragraph: the rule docs/testing.md states, held for every test file.

A unit test of ``src/a/b/c.py`` is ``tests/unit/a/b/test_c.py`` (a module with several test files has a
directory of its own: ``tests/unit/a/b/c/test_*.py``); an integration test of one module mirrors it the
same way under ``tests/integration/``, and one of behaviour across services sits in a feature directory.
What no test is about lives in ``tests/support/``; checks of the project as a whole in ``tests/project/``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
SRC = TESTS.parent / "src"
# Behaviour across services, through their public API, their processes or their tools.
FEATURES = {
    "auth",
    "benchmarks",
    "catalogue",
    "cli",
    "events",
    "observability",
    "orders",
    "reliability",
    "scale_out",
    "stock",
    "tls",
}
TOP = {"unit", "integration", "project", "support", "deploy"}


def mirrors(relative: Path) -> bool:
    """``a/b/test_c.py`` names ``src/a/b/c.py`` (or the package ``src/a/b/c``); ``a/b/c/test_x.py`` is one
    of several files for ``src/a/b/c.py``."""
    directory, name = relative.parent, relative.stem.removeprefix("test_")
    return (
        (SRC / directory / f"{name}.py").is_file()
        or (SRC / directory / name / "__init__.py").is_file()
        or (directory != Path(".") and (SRC / directory).with_suffix(".py").is_file())
    )


def misplaced(kind: str, relative: Path) -> str | None:
    """Why ``tests/<kind>/<relative>`` is in the wrong place (None: it is where the rule puts it)."""
    if relative.name in ("__init__.py", "conftest.py"):
        return None
    if not relative.name.startswith("test_"):
        return "support code belongs in tests/support/"
    if kind == "integration" and relative.parts[0] in FEATURES:
        return None
    if mirrors(relative):
        return None
    return f"names no module of src/ (tests/{kind}/a/b/test_c.py tests src/a/b/c.py)"


def test_every_unit_and_integration_test_mirrors_a_module_or_sits_in_a_feature_directory() -> None:
    wrong = [
        f"tests/{kind}/{relative}: {why}"
        for kind in ("unit", "integration")
        for path in sorted((TESTS / kind).rglob("*.py"))
        if (why := misplaced(kind, relative := path.relative_to(TESTS / kind))) is not None
    ]
    assert wrong == []


def test_the_tests_directory_holds_only_its_parts() -> None:
    assert {p.name for p in TESTS.iterdir() if p.is_dir() and p.name != "__pycache__"} == TOP
    assert {p.name for p in TESTS.glob("*.py")} == {"__init__.py", "conftest.py"}
    assert not [p.name for p in (TESTS / "support").glob("test_*.py")], (
        "tests of the support code: tests/project/"
    )


def test_a_feature_directory_is_never_named_like_a_package_of_src() -> None:
    """Otherwise ``tests/integration/order/`` could be read as either."""
    packages = {p.name for p in SRC.iterdir() if (p / "__init__.py").is_file()}
    assert FEATURES & packages == set()
    assert {p.name for p in (TESTS / "integration").iterdir() if p.is_dir()} - {
        "__pycache__"
    } <= FEATURES | packages


@pytest.mark.parametrize(
    ("kind", "path", "placed"),
    [
        ("unit", "order/application/test_order_handlers.py", True),
        ("unit", "order/application/order_handlers/test_create_order.py", True),
        ("unit", "common/auth/test_tokens.py", True),
        ("unit", "common/test_db.py", True),  # the package src/common/db
        ("unit", "order/test_create_order.py", False),
        ("unit", "test_something.py", False),
        ("unit", "order/fakes.py", False),
        ("integration", "orders/test_anything.py", True),
        ("integration", "order/infrastructure/test_repositories.py", True),
        ("integration", "order/test_orders.py", False),
    ],
)
def test_the_rule_tells_a_right_place_from_a_wrong_one(kind: str, path: str, placed: bool) -> None:
    assert (misplaced(kind, Path(path)) is None) is placed
