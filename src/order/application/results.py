from __future__ import annotations

from dataclasses import dataclass

from common import pagination
from order.domain.model import Order


@dataclass(frozen=True)
class OrderPage:
    """Newest first; ``next_page_token`` continues after the last order (empty on the last page)."""

    orders: list[Order]
    next_page_token: str

    @classmethod
    def of(cls, fetched: list[Order], size: int) -> OrderPage:
        """A page of ``size`` from up to ``size + 1`` orders fetched: one more means a next page."""
        return cls(fetched, "").first(size)

    def first(self, count: int) -> OrderPage:
        """The first ``count`` orders, continued after the last of them (also a short page, AIP-158)."""
        if count >= len(self.orders):
            return self
        kept = self.orders[:count]
        return OrderPage(kept, pagination.encode_keyset(kept[-1].create_time, kept[-1].order_id))
