"""Results the handlers return that are not domain objects themselves."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from product.domain.model import Product


@dataclass(frozen=True)
class ProductPage:
    products: list[Product]
    next_page_token: str


@dataclass(frozen=True)
class ReleaseResult:
    order_id: UUID
    released: bool
