"""OrderPage.first: a short page continues after its last order, with the same token a full page uses."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

from common import pagination
from order.application.results import OrderPage
from order.domain.model import Order, OrderLine
from tests.support.clock import T0


def orders(count: int) -> list[Order]:
    return [
        Order.place(uuid4(), uuid4(), (OrderLine(uuid4(), 1),), T0 - timedelta(seconds=i), None)
        for i in range(count)
    ]


def test_a_short_page_continues_after_its_last_order() -> None:
    fetched = orders(5)

    short = OrderPage.of(fetched, 4).first(2)

    assert short.orders == fetched[:2]
    assert pagination.decode_keyset(short.next_page_token) == (fetched[1].create_time, fetched[1].order_id)


def test_a_full_page_keeps_its_token_and_the_last_page_has_none() -> None:
    fetched = orders(3)

    assert OrderPage.of(fetched, 3) == OrderPage(fetched, "")
    full = OrderPage.of(fetched, 2)
    assert full.orders == fetched[:2]
    assert pagination.decode_keyset(full.next_page_token) == (fetched[1].create_time, fetched[1].order_id)
    assert full.first(2) is full
