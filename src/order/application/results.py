from __future__ import annotations

from dataclasses import dataclass

from order.domain.model import Order


@dataclass(frozen=True)
class OrderPage:
    orders: list[Order]
    next_page_token: str
