"""Money as Decimal and cents, never float."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.money import format_money, from_cents, to_cents


@given(st.integers(min_value=0, max_value=10**14))
def test_cents_round_trip(cents: int) -> None:
    assert to_cents(from_cents(cents)) == cents


@pytest.mark.parametrize(
    ("amount", "text"), [("19.9", "19.90"), ("0", "0.00"), ("1000000", "1000000.00"), ("0.05", "0.05")]
)
def test_money_is_formatted_with_two_fractional_digits(amount: str, text: str) -> None:
    assert format_money(Decimal(amount)) == text


def test_from_cents_is_exact_decimal() -> None:
    assert from_cents(1999) == Decimal("19.99")
    assert str(from_cents(1)) == "0.01"
    assert to_cents(Decimal("0.10")) * 3 == 30  # no float drift: 0.1 * 3 is 0.30 exactly
