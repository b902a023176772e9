"""GetOrder and ListOrders: newest first, by customer, paged with opaque tokens."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID, uuid4

import pytest

from common import pagination
from common.errors import InvalidArgument, NotFound
from common.mediator import Mediator
from order.application import messages as m
from order.domain.model import Order, OrderLine
from tests.support.clock import T0
from tests.support.order_fakes import FakeOrderStore

ALICE, BOB = uuid4(), uuid4()


def seed(store: FakeOrderStore, *customers: UUID) -> list[Order]:
    """One order per customer given, one minute apart, oldest first."""
    orders = [
        Order.place(uuid4(), customer, (OrderLine(uuid4(), 1),), T0 + timedelta(minutes=i), None)
        for i, customer in enumerate(customers)
    ]
    store.seed(*orders)
    return orders


async def all_pages(mediator: Mediator, customer_id: str = "", page_size: int = 2) -> list[list[UUID]]:
    pages: list[list[UUID]] = []
    token = ""
    while True:
        page = await mediator.send(m.ListOrders(customer_id, page_size, token))
        pages.append([o.order_id for o in page.orders])
        token = page.next_page_token
        if not token:
            return pages


async def test_get_order_returns_the_stored_order(mediator: Mediator, store: FakeOrderStore) -> None:
    [order] = seed(store, ALICE)

    assert await mediator.send(m.GetOrder(str(order.order_id))) == order


async def test_get_unknown_order_is_not_found(mediator: Mediator) -> None:
    with pytest.raises(NotFound):
        await mediator.send(m.GetOrder(str(uuid4())))


async def test_list_is_newest_first(mediator: Mediator, store: FakeOrderStore) -> None:
    orders = seed(store, ALICE, BOB, ALICE)

    page = await mediator.send(m.ListOrders())

    assert [o.order_id for o in page.orders] == [o.order_id for o in reversed(orders)]
    assert page.next_page_token == ""


async def test_list_by_customer(mediator: Mediator, store: FakeOrderStore) -> None:
    a1, _b1, a2, _b2 = seed(store, ALICE, BOB, ALICE, BOB)

    page = await mediator.send(m.ListOrders(customer_id=str(ALICE)))

    assert [o.order_id for o in page.orders] == [a2.order_id, a1.order_id]


async def test_pages_cover_every_order_once(mediator: Mediator, store: FakeOrderStore) -> None:
    orders = seed(store, ALICE, BOB, ALICE, ALICE, BOB)

    pages = await all_pages(mediator, page_size=2)

    assert [len(p) for p in pages] == [2, 2, 1]
    assert [i for p in pages for i in p] == [o.order_id for o in reversed(orders)]


async def test_paging_by_customer_with_an_exact_fit(mediator: Mediator, store: FakeOrderStore) -> None:
    orders = seed(store, ALICE, BOB, ALICE, BOB)

    pages = await all_pages(mediator, str(BOB), page_size=2)

    assert pages == [[orders[3].order_id, orders[1].order_id]]


async def test_page_size_zero_means_the_default(mediator: Mediator, store: FakeOrderStore) -> None:
    seed(store, *[ALICE] * (pagination.DEFAULT_PAGE_SIZE + 1))

    page = await mediator.send(m.ListOrders(page_size=0))

    assert len(page.orders) == pagination.DEFAULT_PAGE_SIZE
    assert page.next_page_token


@pytest.mark.parametrize(
    "position",
    [
        {"t": "yesterday", "id": str(uuid4())},
        {"t": T0.isoformat(), "id": "not-a-uuid"},
        # A well-formed time without a zone: the real repository cannot compare it with stored times.
        {"t": T0.replace(tzinfo=None).isoformat(), "id": str(uuid4())},
    ],
)
async def test_a_forged_page_token_is_invalid(
    mediator: Mediator, store: FakeOrderStore, position: dict[str, str]
) -> None:
    seed(store, ALICE)

    with pytest.raises(InvalidArgument) as refused:
        await mediator.send(m.ListOrders(page_token=pagination.encode_token(position)))

    assert [v.field for v in refused.value.violations] == ["page_token"]
