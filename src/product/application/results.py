"""Results the handlers return that are not domain objects themselves."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from common import pagination
from product.domain.model import Product


@dataclass(frozen=True)
class ProductPage:
    """Oldest first; ``next_page_token`` continues after the last product (empty on the last page)."""

    products: list[Product]
    next_page_token: str

    @classmethod
    def of(cls, fetched: list[Product], size: int) -> ProductPage:
        """A page of ``size`` from up to ``size + 1`` products fetched: one more means a next page."""
        return cls(fetched, "").first(size)

    def first(self, count: int) -> ProductPage:
        """The first ``count`` products, continued after the last of them (also a short page, AIP-158)."""
        if count >= len(self.products):
            return self
        kept = self.products[:count]
        return ProductPage(kept, pagination.encode_keyset(kept[-1].create_time, kept[-1].product_id))


@dataclass(frozen=True)
class ReleaseResult:
    order_id: UUID
    released: bool
