"""Money is Decimal in the code and a decimal string on the wire; never float."""

from __future__ import annotations

from decimal import Decimal

CENT = Decimal("0.01")


def to_cents(amount: Decimal) -> int:
    return int((amount / CENT).to_integral_value())


def from_cents(cents: int) -> Decimal:
    return (Decimal(cents) * CENT).quantize(CENT)


def format_money(amount: Decimal) -> str:
    """Two fractional digits: Decimal('19.9') -> '19.90'."""
    return str(amount.quantize(CENT))
