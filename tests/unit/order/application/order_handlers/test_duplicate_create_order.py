"""A repeated request_id never answers PENDING (AIP-155): while the first call is still in progress the
duplicate waits for its outcome, within its own deadline, and answers ABORTED when that runs out."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from unittest.mock import MagicMock
from uuid import UUID, uuid4

import pytest

from common import call_context
from common.errors import Aborted
from order.application import messages as m
from order.application.order_handlers import DUPLICATE_POLL_FIRST_S, DUPLICATE_POLL_MAX_S, CreateOrderHandler
from order.application.stock_releases import StockReleases
from order.domain.model import Order, OrderItem, OrderLine, OrderStatus
from tests.support.clock import T0, FixedClock
from tests.support.order_fakes import FakeOrderStore

CUSTOMER = uuid4()
LAMP = uuid4()


def in_progress(store: FakeOrderStore) -> Order:
    """What a first call has committed before its reservation returns: a PENDING order."""
    order = Order.place(uuid4(), CUSTOMER, (OrderLine(LAMP, 2),), T0, uuid4())
    store.seed(order)
    return order


def duplicate_of(order: Order) -> m.CreateOrder:
    return m.CreateOrder(str(CUSTOMER), (m.Line(str(LAMP), 2),), str(order.request_id))


def handler(
    store: FakeOrderStore,
    products: MagicMock,
    releases: StockReleases,
    clock: FixedClock,
    sleeps: list[float],
    *,
    on_sleep: Callable[[], None] | None = None,
) -> CreateOrderHandler:
    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if on_sleep is not None:
            on_sleep()

    return CreateOrderHandler(store.unit_of_work(), products, releases, clock, sleep=sleep)


async def test_a_duplicate_waits_for_the_first_call_and_returns_its_confirmed_order(
    store: FakeOrderStore, products: MagicMock, releases: StockReleases, clock: FixedClock
) -> None:
    first = in_progress(store)
    confirmed = first.confirm((OrderItem(LAMP, "Lamp", Decimal("2.50"), 2),), T0)
    sleeps: list[float] = []
    polls = iter([None, None, lambda: store.seed(confirmed)])

    def first_call_finishes_on_the_third_poll() -> None:
        action = next(polls)
        if action is not None:
            action()

    create = handler(store, products, releases, clock, sleeps, on_sleep=first_call_finishes_on_the_third_poll)

    with call_context.deadline_bound(5.0):
        answer = await create.handle(duplicate_of(first))

    assert answer == confirmed
    assert answer.status is OrderStatus.CONFIRMED
    # A backoff that doubles from its first pause (capped at DUPLICATE_POLL_MAX_S, further on).
    assert sleeps == pytest.approx(
        [DUPLICATE_POLL_FIRST_S, 2 * DUPLICATE_POLL_FIRST_S, 4 * DUPLICATE_POLL_FIRST_S]
    )
    products.reserve.assert_not_called()
    assert store.orders == [confirmed]


async def test_a_duplicate_from_a_caller_without_a_deadline_also_waits_for_the_first_call(
    store: FakeOrderStore, products: MagicMock, releases: StockReleases, clock: FixedClock
) -> None:
    # No deadline bound: the wait has its own cap (DUPLICATE_WAIT_WITHOUT_DEADLINE_S), not the caller's.
    first = in_progress(store)
    confirmed = first.confirm((OrderItem(LAMP, "Lamp", Decimal("2.50"), 2),), T0)
    sleeps: list[float] = []
    create = handler(store, products, releases, clock, sleeps, on_sleep=lambda: store.seed(confirmed))

    assert call_context.time_remaining() is None
    assert await create.handle(duplicate_of(first)) == confirmed
    assert sleeps == [DUPLICATE_POLL_FIRST_S]
    products.reserve.assert_not_called()


async def test_a_duplicate_whose_deadline_runs_out_first_is_aborted_never_pending(
    store: FakeOrderStore, products: MagicMock, releases: StockReleases, clock: FixedClock
) -> None:
    first = in_progress(store)
    create = CreateOrderHandler(store.unit_of_work(), products, releases, clock)  # real sleeps

    with call_context.deadline_bound(0.3), pytest.raises(Aborted) as raised:
        await create.handle(duplicate_of(first))

    assert raised.value.message == f"request {first.request_id} is still in progress, retry"
    products.reserve.assert_not_called()
    assert store.orders == [first]


async def test_the_wait_is_capped_by_the_deadline_with_capped_pauses(
    store: FakeOrderStore, products: MagicMock, releases: StockReleases, clock: FixedClock
) -> None:
    first = in_progress(store)
    sleeps: list[float] = []
    create = handler(store, products, releases, clock, sleeps)

    with call_context.deadline_bound(1.0), pytest.raises(Aborted):
        # The fake sleep returns at once, so the loop keeps polling until the deadline's margin.
        await create.handle(duplicate_of(first))

    assert sleeps and max(sleeps) <= DUPLICATE_POLL_MAX_S
    assert sleeps[0] < DUPLICATE_POLL_MAX_S


@pytest.mark.parametrize("final", ["confirmed", "rejected", "cancelled"])
async def test_a_duplicate_that_finds_a_final_order_returns_it_unchanged_at_once(
    store: FakeOrderStore,
    products: MagicMock,
    releases: StockReleases,
    clock: FixedClock,
    final: str,
) -> None:
    first = in_progress(store)
    confirmed = first.confirm((OrderItem(LAMP, "Lamp", Decimal("2.50"), 2),), T0)
    stored = {
        "confirmed": confirmed,
        "rejected": first.reject("insufficient stock", (LAMP,), T0),
        "cancelled": confirmed.cancel("changed my mind", T0),
    }[final]
    store.seed(stored)
    sleeps: list[float] = []

    with call_context.deadline_bound(5.0):
        answer = await handler(store, products, releases, clock, sleeps).handle(duplicate_of(first))

    assert answer == stored
    assert answer.request_id == UUID(str(first.request_id))
    assert sleeps == []
    products.reserve.assert_not_called()
