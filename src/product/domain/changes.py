"""What an update may change (AIP-134): the updatable fields, the effective update mask, the changes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

# In the order the fields appear in the Product message: an implied mask lists them in this order.
UPDATABLE_FIELDS = ("name", "description", "price", "low_stock_threshold", "category")
# AIP-134's full replacement: every updatable field.
WILDCARD = "*"


def is_updatable(path: str) -> bool:
    return path == WILDCARD or path in UPDATABLE_FIELDS


def effective_mask(requested: Sequence[str], given: Iterable[str]) -> tuple[str, ...]:
    """The fields an update changes: the request's mask (each field once, in its order), ``*`` for every
    updatable field, or, with no mask, the updatable fields the request gave a value (``given``).
    Paths that are not updatable are the validation's to refuse; here they are left out."""
    if not requested:
        set_fields = set(given)
        return tuple(f for f in UPDATABLE_FIELDS if f in set_fields)
    if WILDCARD in requested:
        return UPDATABLE_FIELDS
    return tuple(dict.fromkeys(p for p in requested if p in UPDATABLE_FIELDS))


@dataclass(frozen=True)
class ProductChanges:
    """The new values of the fields of an update's effective mask (``mask``); the other fields are None
    and stay as they are."""

    mask: tuple[str, ...]
    name: str | None = None
    description: str | None = None
    price: Decimal | None = None
    low_stock_threshold: int | None = None
    category: str | None = None
