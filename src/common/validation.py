"""Field checks shared by both services. Each check appends a violation instead of raising, so one
response names every bad field (AIP-193 BadRequest)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from common.errors import FieldViolation, InvalidArgument

MAX_LINES = 100
MAX_QUANTITY = 10_000
MAX_NAME_LENGTH = 200
MAX_DESCRIPTION_LENGTH = 2000
# BatchGetProducts answers every id at once, so it takes no more ids than its largest answer fits in
# the 3 MiB response budget (common.grpc.response_size): a product with a 200-character name and a
# 2000-character description, each character 4 bytes of UTF-8, weighs 8,901 bytes on the wire, and
# 3 MiB / 8,901 = 353. (tests/unit/common/grpc/test_response_size.py redoes the arithmetic.)
MAX_BATCH_GET_IDS = 350
MAX_PRICE = Decimal("1000000")
MAX_STOCK = 2**31 - 1
_PRICE = re.compile(r"[0-9]{1,7}(\.[0-9]{1,2})?")


class Line(Protocol):
    @property
    def product_id(self) -> str: ...
    @property
    def quantity(self) -> int: ...


@dataclass
class Violations:
    items: list[FieldViolation]

    def __init__(self) -> None:
        self.items = []

    def add(self, field: str, description: str) -> None:
        self.items.append(FieldViolation(field, description))

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidArgument(self.items)


def is_uuid(value: str) -> bool:
    # The canonical 36-character form only: '{...}', 'urn:uuid:' and bare hex are refused so that the
    # same id is never stored under two spellings.
    # uuid.UUID alone also takes hyphens anywhere, 'urn:' + 32 hex digits and non-ASCII digits.
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def is_canonical_uuid(value: str) -> bool:
    """Exactly the lower-case hyphenated form ``str(UUID(...))`` writes: the one spelling of an id that
    may identify someone (upper case is accepted in a request, never as an identity)."""
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


def check_uuid(v: Violations, field: str, value: str, *, required: bool = True) -> None:
    if not value:
        if required:
            v.add(field, "is required")
        return
    if not is_uuid(value):
        v.add(field, f"must be a UUID, got {shown(value)}")


def check_lines(v: Violations, field: str, lines: Sequence[Line]) -> None:
    """Order lines: 1..100 of them, distinct valid product ids, quantity 1..10000."""
    if not lines:
        v.add(field, "must have at least one line")
        return
    if len(lines) > MAX_LINES:
        v.add(field, f"must have at most {MAX_LINES} lines, got {len(lines)}")
        return
    seen: set[str] = set()
    for i, line in enumerate(lines):
        check_uuid(v, f"{field}[{i}].product_id", line.product_id)
        key = line.product_id.lower()
        if key in seen:
            v.add(f"{field}[{i}].product_id", f"product {shown(line.product_id)} appears more than once")
        seen.add(key)
        if not 1 <= line.quantity <= MAX_QUANTITY:
            v.add(f"{field}[{i}].quantity", f"must be between 1 and {MAX_QUANTITY}, got {line.quantity}")


def check_text(v: Violations, field: str, value: str, *, max_length: int, required: bool) -> None:
    """Leading and trailing blanks do not count (the stored text is stripped)."""
    if required and not value.strip():
        v.add(field, "is required")
    elif len(value.strip()) > max_length:
        v.add(field, f"must be at most {max_length} characters, got {len(value)}")
    elif "\x00" in value:
        # PostgreSQL cannot store it in text; refused on every database so both behave alike.
        v.add(field, "must not contain NUL characters")


def parse_price(value: str) -> Decimal | None:
    """A non-negative decimal with at most 2 fractional digits and at most 1000000, or None.

    Plain ASCII digits only: no sign, exponent, separators, other scripts' digits, or a bare dot.
    """
    if _PRICE.fullmatch(value) is None:
        return None
    amount = Decimal(value)
    return amount if amount <= MAX_PRICE else None


def check_price(v: Violations, field: str, value: str) -> None:
    if parse_price(value) is None:
        v.add(
            field,
            f"must be a non-negative decimal string with at most 2 fractional digits and at most "
            f"{MAX_PRICE}, got {shown(value)}",
        )


def check_non_negative(v: Violations, field: str, value: int) -> None:
    if value < 0:
        v.add(field, f"must not be negative, got {value}")


def shown(value: str, limit: int = 40) -> str:
    """Quote a bad value for a message without echoing megabytes of it back."""
    text = value if len(value) <= limit else value[:limit] + "…"
    return repr(text)
