"""The reconciler resolves orders a crash left PENDING: confirm what the Product service holds,
reject and release the rest, leave young orders and outages alone, and resolve each order once."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from unittest.mock import MagicMock
from uuid import uuid4

from order.application.outcomes import NoOutcomes
from order.application.product_client import ProductServiceUnavailable, Reserved
from order.application.reconciler import ABANDONED_REASON, PendingOrderReconciler
from order.application.stock_releases import StockReleases
from order.domain.model import Order, OrderItem, OrderLine, OrderStatus
from tests.support.clock import FixedClock
from tests.support.order_fakes import FakeOrderStore

PENDING_TIMEOUT_S = 30.0


def _pending(store: FakeOrderStore, clock: FixedClock, age_s: float) -> Order:
    line = OrderLine(uuid4(), 2)
    order = Order.place(uuid4(), uuid4(), (line,), clock.now - timedelta(seconds=age_s), None)
    store.seed(order)
    return order


class RecordedOutcomes(NoOutcomes):
    def __init__(self) -> None:
        self.reconciliations: list[str] = []
        self.orders: list[tuple[str, str]] = []

    def reconciled(self, result: str) -> None:
        self.reconciliations.append(result)

    def order_resolved(self, outcome: str, reason: str = "") -> None:
        self.orders.append((outcome, reason))


def _reconciler(
    store: FakeOrderStore,
    products: MagicMock,
    releases: StockReleases,
    clock: FixedClock,
    outcomes: RecordedOutcomes | None = None,
) -> PendingOrderReconciler:
    return PendingOrderReconciler(
        store.unit_of_work,
        products,
        releases,
        clock,
        PENDING_TIMEOUT_S,
        outcomes=outcomes or RecordedOutcomes(),
    )


async def test_each_resolution_is_reported_by_result(
    store: FakeOrderStore, products: MagicMock, releases: StockReleases, clock: FixedClock
) -> None:
    held = _pending(store, clock, age_s=60)
    _pending(store, clock, age_s=61)  # abandoned, nothing held
    item = OrderItem(held.lines[0].product_id, "Mug", Decimal("9.50"), 2)
    products.held_reservation.side_effect = lambda order_id: (
        Reserved((item,)) if order_id == held.order_id else None
    )
    outcomes = RecordedOutcomes()

    assert await _reconciler(store, products, releases, clock, outcomes).run_once() == 2

    # Oldest first: the order with nothing held is rejected, then the held one confirmed; both reached
    # a final status, which eshop_orders_total counts (the call that placed them never did).
    assert outcomes.reconciliations == ["rejected", "confirmed"]
    assert outcomes.orders == [("rejected", "abandoned"), ("confirmed", "")]
    _pending(store, clock, age_s=60)
    products.held_reservation.side_effect = ProductServiceUnavailable("down")
    assert await _reconciler(store, products, releases, clock, outcomes).run_once() == 0
    assert sorted(outcomes.reconciliations) == ["confirmed", "deferred", "rejected"]
    assert len(outcomes.orders) == 2  # a deferred order is still PENDING: not counted


async def test_an_abandoned_order_whose_stock_is_held_is_confirmed(
    store: FakeOrderStore, products: MagicMock, releases: StockReleases, clock: FixedClock
) -> None:
    order = _pending(store, clock, age_s=60)
    item = OrderItem(order.lines[0].product_id, "Mug", Decimal("9.50"), 2)
    products.held_reservation.return_value = Reserved((item,))

    assert await _reconciler(store, products, releases, clock).run_once() == 1

    products.held_reservation.assert_called_once_with(order.order_id)
    resolved = store.order(order.order_id)
    assert resolved.status is OrderStatus.CONFIRMED
    assert resolved.items == (item,) and resolved.total_amount == Decimal("19.00")
    assert resolved.update_time > order.update_time
    assert store.outbox == []


async def test_an_abandoned_order_without_a_reservation_is_rejected_and_released(
    store: FakeOrderStore, products: MagicMock, releases: StockReleases, clock: FixedClock
) -> None:
    order = _pending(store, clock, age_s=60)
    products.held_reservation.return_value = None

    assert await _reconciler(store, products, releases, clock).run_once() == 1

    products.held_reservation.assert_called_once_with(order.order_id)
    resolved = store.order(order.order_id)
    assert (resolved.status, resolved.status_reason) == (OrderStatus.REJECTED, ABANDONED_REASON)
    assert resolved.update_time > order.update_time and resolved.failed_product_ids == ()
    # The release leaves a marker in the Product service, so a reserve still in flight cannot land.
    # It is due at once (no one else is about to deliver it) and traceable to this reconciliation.
    [release] = store.outbox
    assert release.order_id == order.order_id
    assert release.next_attempt_at == clock.now
    assert release.correlation_id == f"reconcile:{order.order_id}"


async def test_one_pass_resolves_at_most_its_limit_oldest_first(
    store: FakeOrderStore, products: MagicMock, releases: StockReleases, clock: FixedClock
) -> None:
    # A bounded batch per pass: a backlog after a long outage cannot hold one pass for minutes.
    orders = [_pending(store, clock, age_s=age) for age in (60, 90, 120)]
    products.held_reservation.return_value = None

    assert await _reconciler(store, products, releases, clock).run_once(limit=2) == 2

    assert [store.order(o.order_id).status for o in orders] == [
        OrderStatus.PENDING,
        OrderStatus.REJECTED,
        OrderStatus.REJECTED,
    ]


async def test_young_pending_orders_are_left_to_their_call(
    store: FakeOrderStore, products: MagicMock, releases: StockReleases, clock: FixedClock
) -> None:
    order = _pending(store, clock, age_s=1)

    assert await _reconciler(store, products, releases, clock).run_once() == 0

    products.held_reservation.assert_not_called()
    assert store.order(order.order_id).status is OrderStatus.PENDING


async def test_an_outage_leaves_the_order_pending_for_the_next_pass(
    store: FakeOrderStore, products: MagicMock, releases: StockReleases, clock: FixedClock
) -> None:
    order = _pending(store, clock, age_s=60)
    products.held_reservation.side_effect = ProductServiceUnavailable("down")

    assert await _reconciler(store, products, releases, clock).run_once() == 0

    assert store.order(order.order_id).status is OrderStatus.PENDING
    assert store.outbox == []


async def test_two_replicas_resolve_an_order_once(
    store: FakeOrderStore, products: MagicMock, releases: StockReleases, clock: FixedClock
) -> None:
    order = _pending(store, clock, age_s=60)
    products.held_reservation.return_value = None
    second_outcomes = RecordedOutcomes()
    first, second = (
        _reconciler(store, products, releases, clock),
        _reconciler(store, products, releases, clock, second_outcomes),
    )
    # Both read the order while it is PENDING; the compare-and-set lets only one resolve it.
    stale = store.unit_of_work().orders.pending_since_before(clock.now, 10)
    assert await first._resolve(stale[0]) is True
    assert await second._resolve(stale[0]) is False
    assert second_outcomes.reconciliations == ["lost_race"]  # counted apart from the resolutions
    assert second_outcomes.orders == []  # the first replica's resolution, counted once, by it
    assert len(store.outbox) == 1
    assert store.order(order.order_id).status is OrderStatus.REJECTED


async def test_confirmed_orders_are_never_revisited_however_old(
    store: FakeOrderStore, products: MagicMock, releases: StockReleases, clock: FixedClock
) -> None:
    # Only PENDING orders are the reconciler's business: a confirmed order keeps its stock for good
    # (the .NET original expired reservations of confirmed orders and sold the stock again).
    order = _pending(store, clock, age_s=60)
    item = OrderItem(order.lines[0].product_id, "Mug", Decimal("9.50"), 2)
    store.seed(order.confirm((item,), clock.now - timedelta(days=30)))

    assert await _reconciler(store, products, releases, clock).run_once() == 0

    assert store.order(order.order_id).status is OrderStatus.CONFIRMED
    products.held_reservation.assert_not_called()
    assert store.outbox == []
