"""The call's context variables: each bound for its block only (and per task), the correlation id on
every log line written inside; and no module but ``common.call_context`` defines one."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path
from typing import Any

import pytest
from loguru import logger

import common
import eshop_cli
import order
import product
from common import call_context
from common.auth.principal import AuthMethod, Principal
from common.call_context import Origin


def test_a_correlation_id_bound_sets_the_current_id_and_resets_it_after() -> None:
    assert call_context.correlation_id() is None
    with call_context.correlation_bound("outer") as cid:
        assert (cid, call_context.correlation_id()) == ("outer", "outer")
        with call_context.correlation_bound("inner"):
            assert call_context.correlation_id() == "inner"
        assert call_context.correlation_id() == "outer"
    assert call_context.correlation_id() is None


def test_a_correlation_id_bound_resets_even_when_the_block_raises() -> None:
    with pytest.raises(RuntimeError), call_context.correlation_bound("doomed"):
        raise RuntimeError("boom")
    assert call_context.correlation_id() is None


def test_a_correlation_id_bound_puts_the_id_on_every_log_line_inside_only() -> None:
    extras: list[dict[str, Any]] = []
    sink = logger.add(lambda m: extras.append(dict(m.record["extra"])), level="DEBUG")
    try:
        with call_context.correlation_bound("cid-42"):
            logger.info("inside")
        logger.info("outside")
    finally:
        logger.remove(sink)

    assert extras[0]["correlation_id"] == "cid-42"
    assert extras[1].get("correlation_id") != "cid-42"


def test_the_caller_is_bound_for_the_block_only() -> None:
    who = Principal("customer-1", frozenset({"orders:admin"}), AuthMethod.BEARER_TOKEN)
    assert call_context.caller() is None

    with call_context.caller_bound(who):
        assert call_context.caller() is who
    assert call_context.caller() is None


def test_concurrent_tasks_each_see_their_own_caller() -> None:
    async def serve(name: str) -> str | None:
        with call_context.caller_bound(Principal(name, frozenset(), AuthMethod.BEARER_TOKEN)):
            await asyncio.sleep(0)
            seen = call_context.caller()
            return seen.subject if seen else None

    async def both() -> list[str | None]:
        return list(await asyncio.gather(serve("a"), serve("b")))

    assert asyncio.run(both()) == ["a", "b"]


def test_a_deadline_is_the_time_remaining_from_when_it_was_bound() -> None:
    assert call_context.time_remaining() is None
    with call_context.deadline_bound(30.0):
        left = call_context.time_remaining()
        assert left is not None and 29.0 < left <= 30.0
        with call_context.deadline_bound(None):
            assert call_context.time_remaining() is None
    assert call_context.time_remaining() is None


def test_work_of_no_call_gets_an_origin_of_its_own() -> None:
    first, second = Origin.new(), Origin.new()
    assert first.correlation_id != second.correlation_id
    assert first.trace_context == ""


def test_no_module_but_call_context_defines_a_context_variable() -> None:
    """The variables that cross every layer are few and listed in one place (its docstring)."""
    # The project's own packages only: under tox they sit in site-packages beside others.
    roots = [Path(str(package.__file__)).resolve().parent for package in (common, eshop_cli, order, product)]
    src = roots[0].parent
    defining = sorted(
        str(path.relative_to(src))
        for root in roots
        for path in root.rglob("*.py")
        if "generated" not in path.parts
        and any(
            isinstance(node, ast.Call)
            and getattr(node.func, "id", getattr(node.func, "attr", "")) == "ContextVar"
            for node in ast.walk(ast.parse(path.read_text()))
        )
    )
    assert defining == ["common/call_context.py"]
