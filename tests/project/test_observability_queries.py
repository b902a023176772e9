"""docs/observability.md shows the queries an operator loads, not hand-copied variants: every PromQL
block on the page is the expression of a rule in deploy/prometheus/rules.yml, and every rule and alert
of that file is named on the page."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "observability.md"
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
PROMQL_BLOCK = re.compile(r"^```promql\n(.*?)^```", re.MULTILINE | re.DOTALL)
EXPR = re.compile(r"^(?P<indent> *)(?:- )?expr: ?(?P<value>.*)$")
NAME = re.compile(r"^ *- (?:record|alert): (?P<name>\S+)$", re.MULTILINE)


def _collapsed(text: str) -> str:
    return " ".join(text.split())


def rule_expressions(rules_yaml: str) -> set[str]:
    """Every ``expr`` of the rules file, whitespace collapsed: a one-line value or a ``|`` block."""
    lines = rules_yaml.splitlines()
    found = set()
    for number, line in enumerate(lines):
        match = EXPR.match(line)
        if match is None:
            continue
        value = match["value"].strip()
        if value == "|":
            indent = len(match["indent"])
            block = []
            for following in lines[number + 1 :]:
                if following.strip() and len(following) - len(following.lstrip()) <= indent:
                    break
                block.append(following)
            value = "\n".join(block)
        found.add(_collapsed(value))
    return found


def test_the_reader_finds_one_line_and_block_expressions() -> None:
    sample = (
        "rules:\n  - record: a\n    expr: sum(x)\n"
        "  - alert: B\n    expr: |\n      y\n        > 1\n    for: 1m\n"
    )
    assert rule_expressions(sample) == {"sum(x)", "y > 1"}


def test_every_query_on_the_page_is_a_shipped_rule() -> None:
    shipped = rule_expressions(RULES.read_text(encoding="utf-8"))
    blocks = [_collapsed(block) for block in PROMQL_BLOCK.findall(PAGE.read_text(encoding="utf-8"))]

    assert len(blocks) >= 5
    assert [block for block in blocks if block not in shipped] == []


def test_every_rule_and_alert_is_named_on_the_page() -> None:
    page = PAGE.read_text(encoding="utf-8")
    names = NAME.findall(RULES.read_text(encoding="utf-8"))

    assert len(names) >= 15
    assert [name for name in names if f"`{name}`" not in page] == []
