"""Correlation ids: accept well-formed ones, replace the rest with a UUID4."""

from __future__ import annotations

from uuid import UUID

import pytest

from common import correlation


def is_uuid4(value: str) -> bool:
    return UUID(value).version == 4 and str(UUID(value)) == value


@pytest.mark.parametrize(
    "value", ["a", "abc-123", "A.b_c:d-e", "x" * 128, "0f1e2d3c-aaaa-4bbb-8ccc-123456789abc"]
)
def test_a_well_formed_id_is_kept(value: str) -> None:
    assert correlation.accept_or_new(value) == value


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "x" * 129,
        "x" * 200,
        "bad id!",
        "tab\tid",
        "new\nline",
        "ümlaut",
        "semi;colon",
        "a/b",
        b"abc",
    ],
)
def test_anything_else_gets_a_fresh_uuid4(value: str | bytes | None) -> None:
    replaced = correlation.accept_or_new(value)
    assert replaced != value
    assert is_uuid4(replaced)


def test_fresh_ids_differ() -> None:
    assert correlation.new_id() != correlation.new_id()


def test_a_trailing_newline_is_not_accepted() -> None:
    assert not correlation.is_valid("abc\n")
