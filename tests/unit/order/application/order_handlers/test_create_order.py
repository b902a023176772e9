"""CreateOrder through the real mediator and pipeline, with the product client port mocked."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from unittest.mock import MagicMock
from uuid import UUID, uuid4

import pytest

from common import call_context
from common.behaviours import default_pipeline
from common.call_context import Origin
from common.errors import DeadlineExceeded, Unavailable
from common.mediator import Mediator
from order.application import messages as m
from order.application.order_handlers import UNAVAILABLE_REASON, CancelOrderHandler, CreateOrderHandler
from order.application.outcomes import NoOutcomes
from order.application.product_client import ProductServiceUnavailable, ReservationRefused, Reserved
from order.application.stock_releases import StockReleases
from order.domain.model import OrderItem, OrderLine, OrderStatus
from order.presentation.mapping import order_to_pb
from tests.support.clock import FixedClock
from tests.support.order_fakes import FakeOrderStore

CUSTOMER = str(uuid4())
LAMP = uuid4()
DESK = uuid4()


def create(*lines: tuple[UUID, int], request_id: str = "") -> m.CreateOrder:
    return m.CreateOrder(CUSTOMER, tuple(m.Line(str(p), q) for p, q in lines), request_id)


def reserved(*items: tuple[UUID, str, str, int]) -> Reserved:
    return Reserved(tuple(OrderItem(p, name, Decimal(price), q) for p, name, price, q in items))


async def test_confirmed_with_names_prices_and_exact_total(
    mediator: Mediator, products: MagicMock, store: FakeOrderStore
) -> None:
    products.reserve.return_value = reserved((LAMP, "Lamp", "19.99", 3), (DESK, "Desk", "120.00", 1))

    order = await mediator.send(create((LAMP, 3), (DESK, 1)))

    assert order.status is OrderStatus.CONFIRMED
    assert [(i.product_id, i.product_name, i.unit_price, i.quantity) for i in order.items] == [
        (LAMP, "Lamp", Decimal("19.99"), 3),
        (DESK, "Desk", Decimal("120.00"), 1),
    ]
    assert order.total_amount == Decimal("179.97")
    assert order.customer_id == UUID(CUSTOMER)
    products.reserve.assert_called_once_with(order.order_id, (OrderLine(LAMP, 3), OrderLine(DESK, 1)))
    assert store.order(order.order_id).status is OrderStatus.CONFIRMED
    assert store.order(order.order_id).items == order.items
    assert store.outbox == []


async def test_total_is_exact_decimal_and_formatted_on_the_wire(
    mediator: Mediator, products: MagicMock
) -> None:
    products.reserve.return_value = reserved((LAMP, "Lamp", "19.99", 3))

    order = await mediator.send(create((LAMP, 3)))

    assert order.total_amount == Decimal("59.97")
    assert order_to_pb(order).total_amount == "59.97"
    assert order_to_pb(order).items[0].unit_price == "19.99"


async def test_pending_is_committed_before_stock_is_reserved(
    mediator: Mediator, products: MagicMock, store: FakeOrderStore
) -> None:
    seen: list[OrderStatus] = []

    def reserve(order_id: UUID, lines: Sequence[OrderLine]) -> Reserved:
        # What another transaction would read while the reservation is in flight.
        stored = store.order(order_id)
        seen.append(stored.status)
        assert stored.lines == tuple(lines)
        return reserved((LAMP, "Lamp", "1.00", 1))

    products.reserve.side_effect = reserve

    order = await mediator.send(create((LAMP, 1)))

    assert seen == [OrderStatus.PENDING]
    assert order.status is OrderStatus.CONFIRMED


async def test_insufficient_stock_is_rejected_with_reason_and_failed_ids(
    mediator: Mediator, products: MagicMock, store: FakeOrderStore
) -> None:
    reason = f"insufficient stock: {DESK} requested 5, available 2"
    products.reserve.return_value = ReservationRefused(reason, (DESK,))

    order = await mediator.send(create((LAMP, 1), (DESK, 5)))

    assert order.status is OrderStatus.REJECTED
    assert order.status_reason == reason
    assert order.failed_product_ids == (DESK,)
    assert order.total_amount == Decimal("0")
    assert order_to_pb(order).total_amount == "0"
    assert store.order(order.order_id).status is OrderStatus.REJECTED
    assert store.order(order.order_id).failed_product_ids == (DESK,)
    assert store.outbox == []  # the Product service answered no: nothing to release


async def test_unknown_product_is_rejected(
    mediator: Mediator, products: MagicMock, store: FakeOrderStore
) -> None:
    products.reserve.return_value = ReservationRefused(f"unknown product: {LAMP}", (LAMP,))

    order = await mediator.send(create((LAMP, 1)))

    assert order.status is OrderStatus.REJECTED
    assert order.status_reason == f"unknown product: {LAMP}"
    assert store.order(order.order_id).failed_product_ids == (LAMP,)


@pytest.mark.parametrize(("deadline_exceeded", "raised"), [(False, Unavailable), (True, DeadlineExceeded)])
async def test_product_service_unreachable_rejects_and_queues_a_release(
    mediator: Mediator,
    products: MagicMock,
    store: FakeOrderStore,
    deadline_exceeded: bool,
    raised: type[Exception],
) -> None:
    products.reserve.side_effect = ProductServiceUnavailable("down", deadline_exceeded=deadline_exceeded)

    with pytest.raises(raised) as failure:
        await mediator.send(create((LAMP, 1)))

    [order] = store.orders
    assert str(order.order_id) in str(failure.value)
    assert order.status is OrderStatus.REJECTED
    assert order.status_reason == UNAVAILABLE_REASON
    # The reservation may have happened: a compensating release waits for the worker, due at once.
    [entry] = store.outbox
    assert entry.order_id == order.order_id
    assert entry.attempts == 0
    assert entry.next_attempt_at == entry.created_at
    products.release.assert_not_called()


async def test_a_call_past_its_deadline_stores_nothing_and_reserves_nothing(
    mediator: Mediator, products: MagicMock, store: FakeOrderStore
) -> None:
    with call_context.deadline_bound(-1.0), pytest.raises(DeadlineExceeded):
        await mediator.send(create((LAMP, 1)))

    assert store.orders == []
    products.reserve.assert_not_called()


async def test_an_outcome_that_arrives_past_the_deadline_is_not_committed(
    mediator: Mediator, products: MagicMock, store: FakeOrderStore
) -> None:
    def reserve_slowly(order_id: UUID, lines: Sequence[OrderLine]) -> Reserved:
        give_up_at = time.monotonic() + 5.0
        while (call_context.time_remaining() or 0.0) > 0 and time.monotonic() < give_up_at:
            time.sleep(0.01)
        return reserved((LAMP, "Lamp", "1.00", 1))

    products.reserve.side_effect = reserve_slowly

    with call_context.deadline_bound(0.2), pytest.raises(DeadlineExceeded):
        await mediator.send(create((LAMP, 1)))

    # Left PENDING for the reconciler, which asks the Product service what it holds.
    [order] = store.orders
    assert order.status is OrderStatus.PENDING
    assert store.outbox == []


async def test_repeated_request_id_returns_the_first_order_and_reserves_once(
    mediator: Mediator, products: MagicMock, store: FakeOrderStore
) -> None:
    products.reserve.return_value = reserved((LAMP, "Lamp", "2.50", 2))
    request_id = str(uuid4())

    first = await mediator.send(create((LAMP, 2), request_id=request_id))
    second = await mediator.send(create((LAMP, 2), request_id=request_id))

    assert second == first
    assert second.request_id == UUID(request_id)
    products.reserve.assert_called_once()
    assert len(store.orders) == 1


async def test_repeated_request_id_returns_a_rejected_order_as_it_is(
    mediator: Mediator, products: MagicMock, store: FakeOrderStore
) -> None:
    products.reserve.side_effect = ProductServiceUnavailable("down")
    request_id = str(uuid4())
    with pytest.raises(Unavailable):
        await mediator.send(create((LAMP, 1), request_id=request_id))

    again = await mediator.send(create((LAMP, 1), request_id=request_id))

    assert again.status is OrderStatus.REJECTED
    assert again.status_reason == UNAVAILABLE_REASON
    products.reserve.assert_called_once()
    assert len(store.outbox) == 1


async def test_without_request_id_every_call_makes_a_new_order(
    mediator: Mediator, products: MagicMock, store: FakeOrderStore
) -> None:
    products.reserve.return_value = reserved((LAMP, "Lamp", "1.00", 1))

    first = await mediator.send(create((LAMP, 1)))
    second = await mediator.send(create((LAMP, 1)))

    assert first.order_id != second.order_id
    assert products.reserve.call_count == 2
    assert len(store.orders) == 2


async def test_a_reservation_that_lands_for_an_order_cancelled_meanwhile_is_released(
    mediator: Mediator, products: MagicMock, store: FakeOrderStore
) -> None:
    async def reserve(order_id: UUID, lines: Sequence[OrderLine]) -> Reserved:
        # The customer cancels while the reservation is in flight; the reservation then succeeds.
        await mediator.send(m.CancelOrder(str(order_id), "changed my mind"))
        return reserved((LAMP, "Lamp", "1.00", 1))

    products.reserve.side_effect = reserve

    order = await mediator.send(create((LAMP, 1)))

    # The cancellation stands, and the stock the late reservation took goes back through the outbox.
    assert order.status is OrderStatus.CANCELLED
    assert store.order(order.order_id).status is OrderStatus.CANCELLED
    assert [e.order_id for e in store.outbox] == [order.order_id]


class CountedOrders(NoOutcomes):
    def __init__(self) -> None:
        self.orders: list[tuple[str, str]] = []

    def order_resolved(self, outcome: str, reason: str = "") -> None:
        self.orders.append((outcome, reason))


async def test_an_order_cancelled_while_the_product_service_was_unreachable_is_counted_once(
    products: MagicMock, store: FakeOrderStore, releases: StockReleases, clock: FixedClock
) -> None:
    counted = CountedOrders()
    mediator = Mediator(
        {
            m.CreateOrder: lambda: CreateOrderHandler(
                store.unit_of_work(), products, releases, clock, outcomes=counted
            ),
            m.CancelOrder: lambda: CancelOrderHandler(
                store.unit_of_work(), releases, clock, outcomes=counted
            ),
        },
        default_pipeline(),
    )

    async def reserve(order_id: UUID, lines: Sequence[OrderLine]) -> Reserved:
        # The customer cancels while the reservation is in flight; then the Product service times out.
        await mediator.send(m.CancelOrder(str(order_id), "changed my mind"))
        raise ProductServiceUnavailable("down")

    products.reserve.side_effect = reserve

    with pytest.raises(Unavailable):
        await mediator.send(create((LAMP, 1)))

    [order] = store.orders
    assert order.status is OrderStatus.CANCELLED
    # One final status, counted once: the rejection that could not be saved is not counted too.
    assert counted.orders == [("cancelled", "")]


TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


async def test_the_order_and_its_release_keep_the_origin_the_command_names(
    mediator: Mediator, products: MagicMock, store: FakeOrderStore
) -> None:
    """The call's trace and correlation id come in the command, not from ambient state: the order keeps
    the trace (the reconciler resumes it), a release queued for it both."""
    products.reserve.side_effect = ProductServiceUnavailable("down")
    command = replace(create((LAMP, 1)), origin=Origin("create-call-3", TRACEPARENT))

    with call_context.correlation_bound("not-this-one"), pytest.raises(Unavailable):
        await mediator.send(command)

    [order] = store.orders
    assert store.order(order.order_id).trace_context == TRACEPARENT
    [entry] = store.outbox
    assert (entry.correlation_id, entry.trace_context) == ("create-call-3", TRACEPARENT)
