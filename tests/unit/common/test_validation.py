"""Shared field checks: UUIDs, order lines, text, prices; one violation per bad field."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.errors import FieldViolation, InvalidArgument
from common.validation import (
    MAX_PRICE,
    Violations,
    check_lines,
    check_non_negative,
    check_price,
    check_text,
    check_uuid,
    is_uuid,
    parse_price,
)


@dataclass(frozen=True)
class Line:
    product_id: str
    quantity: int


def fields(v: Violations) -> list[str]:
    return [item.field for item in v.items]


@given(st.uuids())
def test_every_canonical_uuid_in_either_case_is_accepted(value: UUID) -> None:
    assert is_uuid(str(value))
    assert is_uuid(str(value).upper())


@pytest.mark.parametrize(
    "value",
    [
        "",
        "0123456789abcdef0123456789abcdef",
        "urn:0123456789abcdef0123456789abcdef",
        "0123-4567-89ab-cdef-0123456789abcdef",
        "12345678-1234-1234-1234-1234567890ag",
        "\uff11" * 8 + "-1234-1234-1234-1234567890ab",  # full-width digits
    ],
)
def test_anything_but_the_canonical_form_is_not_a_uuid(value: str) -> None:
    assert not is_uuid(value)


def test_check_uuid_says_required_or_malformed_and_quotes_short() -> None:
    v = Violations()
    check_uuid(v, "a", "")
    check_uuid(v, "b", "", required=False)
    check_uuid(v, "c", "x" * 1000)
    assert fields(v) == ["a", "c"]
    assert v.items[0].description == "is required"
    assert v.items[1].description == "must be a UUID, got '" + "x" * 40 + "…'"


def test_raise_if_any_raises_with_every_violation_or_not_at_all() -> None:
    v = Violations()
    v.raise_if_any()
    v.add("a", "bad")
    v.add("b", "worse")
    with pytest.raises(InvalidArgument) as raised:
        v.raise_if_any()
    assert raised.value.violations == [FieldViolation("a", "bad"), FieldViolation("b", "worse")]
    assert raised.value.message == "invalid request: a: bad; b: worse"


def test_check_lines_names_each_bad_line_by_index() -> None:
    p = str(uuid4())
    v = Violations()
    check_lines(v, "items", [Line(p, 1), Line("nope", 5), Line(p.upper(), 10_001)])
    assert fields(v) == ["items[1].product_id", "items[2].product_id", "items[2].quantity"]
    assert "appears more than once" in v.items[1].description


def test_check_lines_refuses_empty_and_too_many_with_one_violation() -> None:
    for lines in ([], [Line("bad", 0)] * 101):
        v = Violations()
        check_lines(v, "items", lines)
        assert fields(v) == ["items"]


def test_check_text_required_and_length() -> None:
    v = Violations()
    check_text(v, "a", " \t", max_length=5, required=True)
    check_text(v, "b", "", max_length=5, required=False)
    check_text(v, "c", "123456", max_length=5, required=False)
    check_text(v, "d", "12345", max_length=5, required=True)
    assert fields(v) == ["a", "c"]
    assert v.items[1].description == "must be at most 5 characters, got 6"


@given(st.integers(min_value=0, max_value=100_000_000))
def test_every_cent_amount_up_to_the_maximum_parses(cents: int) -> None:
    text = f"{cents // 100}.{cents % 100:02d}"
    assert parse_price(text) == Decimal(cents) / 100


@given(st.decimals(min_value=0, max_value=MAX_PRICE, places=3, allow_nan=False))
def test_three_fractional_digits_never_parse(amount: Decimal) -> None:
    assert parse_price(f"{amount:.3f}") is None


@pytest.mark.parametrize(
    "text", ["19.999", "-1", "1000000.01", "abc", "1e3", "1E3", "nan", "inf", "", ".", "1.2.3"]
)
def test_bad_prices_do_not_parse(text: str) -> None:
    assert parse_price(text) is None


@pytest.mark.parametrize(
    ("text", "value"), [("19.99", "19.99"), ("0", "0"), ("1000000", "1000000"), ("5.5", "5.5")]
)
def test_good_prices_parse_exactly(text: str, value: str) -> None:
    assert parse_price(text) == Decimal(value)


def test_check_price_and_non_negative_name_their_field() -> None:
    v = Violations()
    check_price(v, "price", "1e3")
    check_price(v, "ok", "1.00")
    check_non_negative(v, "page_size", -1)
    check_non_negative(v, "zero", 0)
    assert fields(v) == ["price", "page_size"]
