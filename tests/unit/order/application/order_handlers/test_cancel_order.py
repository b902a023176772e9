"""CancelOrder in every state, and what happens to its stock release when the Product service is down."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from unittest.mock import MagicMock
from uuid import UUID, uuid4

import pytest
from loguru import logger
from pytest_mock import MockerFixture

from common import call_context
from common.call_context import Origin
from common.errors import DeadlineExceeded, FailedPrecondition, NotFound
from common.mediator import Mediator
from order.application import messages as m
from order.application.order_handlers import DEFAULT_CANCEL_REASON, UNAVAILABLE_REASON
from order.application.product_client import ProductServiceUnavailable
from order.domain.model import Order, OrderItem, OrderLine, OrderStatus
from tests.support.clock import T0, FixedClock
from tests.support.order_fakes import BACKOFF, FakeOrderRepository, FakeOrderStore

PRODUCT = uuid4()


def placed(status: OrderStatus) -> Order:
    order = Order.place(uuid4(), uuid4(), (OrderLine(PRODUCT, 2),), T0, None)
    if status is OrderStatus.PENDING:
        return order
    if status is OrderStatus.CONFIRMED:
        return order.confirm((OrderItem(PRODUCT, "Lamp", Decimal("19.99"), 2),), T0)
    if status is OrderStatus.REJECTED:
        return order.reject(UNAVAILABLE_REASON, (), T0)
    return replace(order, status=OrderStatus.CANCELLED, status_reason="changed my mind")


@pytest.mark.parametrize("status", [OrderStatus.PENDING, OrderStatus.CONFIRMED])
async def test_cancel_commits_with_its_release_queued_then_releases(
    mediator: Mediator, products: MagicMock, store: FakeOrderStore, status: OrderStatus
) -> None:
    order = placed(status)
    store.seed(order)
    seen: list[tuple[OrderStatus, list[UUID]]] = []

    def release(order_id: UUID) -> bool:
        seen.append((store.order(order_id).status, [e.order_id for e in store.outbox]))
        return True

    products.release.side_effect = release

    cancelled = await mediator.send(m.CancelOrder(str(order.order_id), "  changed my mind "))

    assert cancelled.status is OrderStatus.CANCELLED
    assert cancelled.status_reason == "changed my mind"
    assert cancelled.items == order.items
    # By the time the release is tried, the cancellation and the outbox entry are committed together.
    assert seen == [(OrderStatus.CANCELLED, [order.order_id])]
    products.release.assert_called_once_with(order.order_id)
    assert store.order(order.order_id).status is OrderStatus.CANCELLED
    assert store.outbox == []  # acknowledged, so removed


async def test_cancel_without_reason_uses_the_default(mediator: Mediator, store: FakeOrderStore) -> None:
    order = placed(OrderStatus.CONFIRMED)
    store.seed(order)

    cancelled = await mediator.send(m.CancelOrder(str(order.order_id)))

    assert cancelled.status_reason == DEFAULT_CANCEL_REASON


async def test_cancelling_a_cancelled_order_changes_nothing_and_releases_nothing(
    mediator: Mediator, products: MagicMock, store: FakeOrderStore
) -> None:
    order = placed(OrderStatus.CANCELLED)
    store.seed(order)
    commits = store.commits

    again = await mediator.send(m.CancelOrder(str(order.order_id), "another reason"))

    assert again == order
    assert again.status_reason == "changed my mind"
    assert store.order(order.order_id) == order
    assert store.commits == commits  # a read, rolled back: nothing was written
    assert store.outbox == []
    products.release.assert_not_called()


async def test_a_cancel_past_the_callers_deadline_is_not_committed(
    mediator: Mediator, products: MagicMock, store: FakeOrderStore
) -> None:
    order = placed(OrderStatus.CONFIRMED)
    store.seed(order)

    with call_context.deadline_bound(-1.0), pytest.raises(DeadlineExceeded):
        await mediator.send(m.CancelOrder(str(order.order_id)))

    assert store.order(order.order_id).status is OrderStatus.CONFIRMED
    assert store.outbox == []
    products.release.assert_not_called()


async def test_cancel_twice_releases_once(
    mediator: Mediator, products: MagicMock, store: FakeOrderStore
) -> None:
    order = placed(OrderStatus.CONFIRMED)
    store.seed(order)

    first = await mediator.send(m.CancelOrder(str(order.order_id)))
    second = await mediator.send(m.CancelOrder(str(order.order_id)))

    assert second == first
    products.release.assert_called_once_with(order.order_id)


def another_call_moves_it_before_the_save(mocker: MockerFixture, store: FakeOrderStore, moved: Order) -> None:
    """The first save of the order is refused because another call committed ``moved`` just before it
    (the conditional update finds the status changed); a read after that sees ``moved``, as the next
    statement of a transaction does on PostgreSQL (read committed)."""
    real_save = FakeOrderRepository.save
    refused: list[Order] = []

    def save(repository: FakeOrderRepository, order: Order) -> bool:
        if not refused:
            refused.append(order)
            store.seed(moved)
            repository._state().orders[moved.order_id] = replace(moved, loaded_status=None)
            return False
        return real_save(repository, order)

    mocker.patch.object(FakeOrderRepository, "save", save)


async def test_a_cancel_that_loses_the_race_to_another_cancel_answers_the_cancelled_order(
    mediator: Mediator, products: MagicMock, store: FakeOrderStore, mocker: MockerFixture
) -> None:
    order = placed(OrderStatus.CONFIRMED)
    store.seed(order)
    winner = order.cancel("the other call's reason", T0 + timedelta(seconds=1))
    another_call_moves_it_before_the_save(mocker, store, winner)

    answer = await mediator.send(m.CancelOrder(str(order.order_id), "mine"))

    assert answer == replace(winner, loaded_status=OrderStatus.CANCELLED)
    assert store.order(order.order_id).status_reason == "the other call's reason"
    assert store.outbox == []  # the winner queued the release; the loser queues none
    products.release.assert_not_called()


async def test_a_cancel_that_finds_its_pending_order_confirmed_meanwhile_cancels_it(
    mediator: Mediator, products: MagicMock, store: FakeOrderStore, mocker: MockerFixture
) -> None:
    order = placed(OrderStatus.PENDING)
    store.seed(order)
    another_call_moves_it_before_the_save(mocker, store, placed_confirmed_from(order))

    answer = await mediator.send(m.CancelOrder(str(order.order_id), "mine"))

    assert answer.status is OrderStatus.CANCELLED
    assert answer.status_reason == "mine"
    assert answer.items == placed_confirmed_from(order).items
    products.release.assert_called_once_with(order.order_id)


def placed_confirmed_from(order: Order) -> Order:
    return order.confirm((OrderItem(PRODUCT, "Lamp", Decimal("19.99"), 2),), T0)


async def test_a_rejected_order_cannot_be_cancelled(
    mediator: Mediator, products: MagicMock, store: FakeOrderStore
) -> None:
    order = placed(OrderStatus.REJECTED)
    store.seed(order)

    with pytest.raises(FailedPrecondition) as refused:
        await mediator.send(m.CancelOrder(str(order.order_id)))

    assert "REJECTED" in refused.value.message
    assert [v.subject for v in refused.value.violations] == [str(order.order_id)]
    assert store.order(order.order_id) == order
    assert store.outbox == []
    products.release.assert_not_called()


async def test_an_unknown_order_is_not_found(mediator: Mediator, store: FakeOrderStore) -> None:
    order_id = uuid4()

    with pytest.raises(NotFound) as missing:
        await mediator.send(m.CancelOrder(str(order_id)))

    assert [r.resource_name for r in missing.value.resources] == [str(order_id)]
    assert store.orders == []


async def test_release_outage_does_not_fail_the_cancellation(
    mediator: Mediator, products: MagicMock, store: FakeOrderStore, clock: FixedClock
) -> None:
    order = placed(OrderStatus.CONFIRMED)
    store.seed(order)
    products.release.side_effect = ProductServiceUnavailable("product service: UNAVAILABLE")
    clock.step = timedelta(0)  # a frozen clock: the retry time is exactly now + the backoff delay
    warnings: list[str] = []
    sink = logger.add(lambda message: warnings.append(str(message)), level="WARNING", format="{message}")
    try:
        cancelled = await mediator.send(m.CancelOrder(str(order.order_id)))
    finally:
        logger.remove(sink)

    assert cancelled.status is OrderStatus.CANCELLED
    assert store.order(order.order_id).status is OrderStatus.CANCELLED
    [entry] = store.outbox
    assert entry.order_id == order.order_id
    assert entry.attempts == 1
    delay = (entry.next_attempt_at - clock.now).total_seconds()
    assert 0.5 * BACKOFF.initial_s <= delay <= BACKOFF.initial_s
    assert store.committed.last_errors[entry.entry_id] == "product service: UNAVAILABLE"
    assert any("not acknowledged" in line and str(order.order_id) in line for line in warnings)


async def test_the_release_keeps_the_origin_the_command_names(
    mediator: Mediator, products: MagicMock, store: FakeOrderStore
) -> None:
    order = placed(OrderStatus.CONFIRMED)
    store.seed(order)
    products.release.side_effect = ProductServiceUnavailable("down")  # the entry stays for the worker
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

    with call_context.correlation_bound("not-this-one"):
        await mediator.send(m.CancelOrder(str(order.order_id), origin=Origin("cancel-call-9", traceparent)))

    [entry] = store.outbox
    assert (entry.correlation_id, entry.trace_context) == ("cancel-call-9", traceparent)
