"""README and docs/ keep their promises: README stays a short guide that leads to every page, every link
leads somewhere (files and ``#anchors``, as GitHub computes them), every test or file a page names exists
(so "every promise names a test that would fail" stays true when tests move), and so does every test the
code, the deployment and the tools name; and the project speaks of itself, not of its tracker."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
TESTS = ROOT / "tests"
README_MAX_LINES = 220
PROSE_MAX_WIDTH = 120

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"`[^`\n]+`")
LINK = re.compile(r"(?<!!)\[([^\]]*)\]\(([^)\s]+)\)")
# A path a page names: a .py file (optionally ::test_name) or anything under tests/; "::name" alone
# refers to the last file named before it on the page; a bare `test_name` is a test somewhere in tests/.
NAMED = re.compile(
    r"(?P<path>(?<![\w/.*-])\w[\w./-]*\.py(?:::(?P<test>\w+))?|(?<![\w/.*-])tests/[\w/]*\w)|"
    r"(?<![\w.])::(?P<same>\w+)|`(?P<bare>test_\w+)`"
)
TRACKER = re.compile(r"\b[Ii]ssues? #?\d+|(?<![\w/])#\d+\b")


def _text(page: Path) -> str:
    return page.read_text(encoding="utf-8")


def _prose(text: str) -> str:
    """The page without its fenced code blocks (kept as blank lines, so line numbers hold)."""
    return FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: the rendered text, lower case, punctuation dropped, spaces to '-'."""
    text = LINK.sub(r"\1", heading).replace("`", "")
    text = re.sub(r"[*~]|(?<!\w)_|_(?!\w)", "", text)
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


@cache
def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *#*$", _prose(_text(page)), flags=re.MULTILINE):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(page: Path) -> Iterator[tuple[str, str]]:
    """(text, target) of each link outside code."""
    for match in LINK.finditer(CODE_SPAN.sub("", _prose(_text(page)))):
        yield match[1], match[2]


def broken_links(page: Path) -> list[str]:
    broken = []
    for _, target in links(page):
        if re.match(r"[a-z]+:", target):  # https:, mailto:: not ours to check
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and (resolved.suffix != ".md" or anchor not in anchors(resolved)):
            broken.append(f"{target}: no heading #{anchor} in {resolved.name}")
    return broken


@cache
def _test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}


@cache
def _all_test_names() -> set[str]:
    return {name for path in TESTS.rglob("test_*.py") for name in _test_names(path)}


def _resolve(path: str) -> list[Path]:
    """Where a named path may be: from the root, under tests/ or src/, or (a partial path such as
    ``presentation/servicer.py``, or a bare file name) the end of a path under tests/ or src/."""
    direct = [base / path for base in (ROOT, TESTS, ROOT / "src") if (base / path).exists()]
    if direct:
        return direct
    tail = "/" + path.lstrip("./")
    return [p for base in (TESTS, ROOT / "src") for p in base.rglob(Path(path).name) if str(p).endswith(tail)]


def missing_names(page: Path) -> list[str]:
    missing: list[str] = []
    last: list[Path] = []
    for match in NAMED.finditer(_text(page)):
        if match["path"]:
            path = match["path"].split("::")[0]
            candidates = _resolve(path)
            if not candidates:
                missing.append(f"{path}: no such file")
                continue
            last = candidates
            if match["test"] and not any(match["test"] in _test_names(c) for c in candidates):
                missing.append(f"{match['path']}: no such test")
        elif match["same"]:
            if not any(match["same"] in _test_names(c) for c in last if c.suffix == ".py"):
                after = [str(p.relative_to(ROOT)) for p in last]
                missing.append(f"::{match['same']} (after {after}): no such test")
        elif match["bare"] and match["bare"] not in _all_test_names():
            missing.append(f"{match['bare']}: no such test")
    return missing


def _ids(pages: list[Path]) -> list[str]:
    return [str(p.relative_to(ROOT)) for p in pages]


def test_readme_is_a_guide_not_a_report() -> None:
    lines = _text(README).count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; topics belong in docs/"


def test_readme_leads_to_every_page_of_the_docs() -> None:
    linked = {(ROOT / target.partition("#")[0]).resolve() for _, target in links(README)}
    assert [p.name for p in PAGES[1:] if p.resolve() not in linked] == []


@pytest.mark.parametrize("page", PAGES, ids=_ids(PAGES))
def test_every_link_leads_somewhere(page: Path) -> None:
    assert broken_links(page) == []


@pytest.mark.parametrize("page", PAGES, ids=_ids(PAGES))
def test_every_test_and_file_a_page_names_exists(page: Path) -> None:
    assert missing_names(page) == []


@pytest.mark.parametrize("page", PAGES, ids=_ids(PAGES))
def test_no_tracker_issue_numbers(page: Path) -> None:
    """The project speaks of itself: say what the thing is, not which issue asked for it."""
    assert TRACKER.findall(_text(page)) == []


def _project_text_files() -> Iterator[Path]:
    """Every text file of the code, its tests, tools and deployment (what is not a docs page): not what
    tools leave inside those trees (CI's own virtualenv in .ci/.venv, caches, build metadata)."""
    for top in CODE_TREES:
        for path in sorted((ROOT / top).rglob("*")):
            inside = path.relative_to(ROOT / top).parts
            left_by_tools = any(
                part.startswith(".") or part == "__pycache__" or part.endswith(".egg-info") for part in inside
            )
            if path.is_file() and not left_by_tools and path.suffix in TEXT_SUFFIXES:
                yield path
    yield from (ROOT / name for name in ("pyproject.toml", "tox.ini", "constraints.txt"))


CODE_TREES = ("src", "tests", "benchmarks", "tools", "deploy", ".ci")
TEXT_SUFFIXES = {".py", ".pyi", ".md", ".toml", ".ini", ".cfg", ".txt", ".yml", ".yaml", ".json", ".sh", ""}


def test_no_tracker_issue_numbers_in_the_code_tests_or_tools() -> None:
    """The same rule for comments, docstrings and messages as for the pages."""
    files = list(_project_text_files())
    assert len(files) > 300  # the trees were found
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()[:60]}"
        for path in files
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
        if TRACKER.search(line)
    ]
    assert found == []


TEST_PATH = re.compile(r"(?<![\w/.-])tests/[\w/]+\.py(?:::(?P<test>\w+))?")


def test_every_test_the_code_deployment_and_tools_name_exists() -> None:
    """Comments and docstrings outside docs/ (src/, deploy/, benchmarks/, tools/, examples/, CI and
    packaging files) that point at a test point at one that is there: the same rule as for the pages."""
    files = [p for p in _project_text_files() if p.relative_to(ROOT).parts[0] != "tests"]
    files += sorted((ROOT / "examples").rglob("*.py"))
    named = [
        (path, match)
        for path in files
        for match in TEST_PATH.finditer(path.read_text(encoding="utf-8", errors="replace"))
    ]
    assert len(named) > 5  # the pattern finds what is there
    missing = [
        f"{path.relative_to(ROOT)}: {match[0]}"
        for path, match in named
        if not (ROOT / match[0].split("::")[0]).is_file()
        or (match["test"] and match["test"] not in _test_names(ROOT / match[0].split("::")[0]))
    ]
    assert missing == []


@pytest.mark.parametrize("page", PAGES, ids=_ids(PAGES))
def test_no_merge_conflict_markers(page: Path) -> None:
    """A merge left unresolved reads as prose to every other check; this one does not."""
    markers = re.compile(r"^(<{7}|={7}|>{7})( |$)", re.M)
    assert markers.findall(_text(page)) == []


def _too_wide(line: str) -> bool:
    """Wider than the limit for its prose: a table row, or one name or link that cannot be broken, may be."""
    if len(line) <= PROSE_MAX_WIDTH or line.startswith("|"):
        return False
    unbreakable = [*CODE_SPAN.findall(line), *(m.group(0) for m in LINK.finditer(line))]
    return len(line) - len(max(unbreakable, key=len, default="")) > PROSE_MAX_WIDTH


@pytest.mark.parametrize("page", PAGES, ids=_ids(PAGES))
def test_prose_is_wrapped(page: Path) -> None:
    lines = enumerate(_prose(_text(page)).splitlines(), 1)
    assert [f"line {number}: {line[:50]}…" for number, line in lines if _too_wide(line)] == []


def test_the_checks_see_the_pages_and_their_names() -> None:
    # Guards the tests above against passing vacuously (a wrong root or pattern finds nothing).
    assert {"guarantees.md", "configuration.md", "architecture.md"} <= {p.name for p in PAGES}
    guarantees = ROOT / "docs" / "guarantees.md"
    assert len(list(NAMED.finditer(_text(guarantees)))) > 50
    assert "the-server-model" in anchors(ROOT / "docs" / "architecture.md")
    assert slug("Metrics (Prometheus and `OTLP`)") == "metrics-prometheus-and-otlp"
    assert slug("9. Tests") == "9-tests"
