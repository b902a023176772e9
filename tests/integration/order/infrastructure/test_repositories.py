"""The Order service's SQL queries that background work relies on, on the configured backend (SQLite or
PostgreSQL). The unit tests run the reconciler and the outbox against fakes; these check that the SQL
itself filters what the fakes filter: only stale PENDING orders, only due and unclaimed releases."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

from sqlalchemy import select

from common.call_context import Origin
from common.clock import utcnow
from common.db.database import Database
from common.outbox.delivery import OutboxStats
from order.application.storage import PendingStats
from order.domain.model import Order, OrderItem, OrderLine, OrderStatus
from order.infrastructure.tables import release_outbox
from order.infrastructure.unit_of_work import SqlOrderUnitOfWork


def _placed(uow: SqlOrderUnitOfWork, age_s: float) -> Order:
    line = OrderLine(uuid4(), 2)
    order = Order.place(uuid4(), uuid4(), (line,), utcnow() - timedelta(seconds=age_s), None)
    assert uow.orders.add(order)
    return order


def test_pending_since_before_returns_only_pending_orders_older_than_the_cutoff(
    order_database: Database,
) -> None:
    uow = SqlOrderUnitOfWork(order_database)
    with uow:
        old_pending = _placed(uow, age_s=600)
        _placed(uow, age_s=1)  # young: its CreateOrder may still be running
        confirmed = _placed(uow, age_s=700)
        rejected = _placed(uow, age_s=800)
        item = OrderItem(confirmed.lines[0].product_id, "Mug", Decimal("9.50"), 2)
        # The status change keeps the old update_time, so only the status can exclude these two.
        assert uow.orders.save(confirmed.confirm((item,), confirmed.update_time))
        assert uow.orders.save(rejected.reject("gone", (), rejected.update_time))
        uow.commit()

    with uow:
        stale = uow.orders.pending_since_before(utcnow() - timedelta(seconds=60), 10)

    assert [o.order_id for o in stale] == [old_pending.order_id]
    assert stale[0].status is OrderStatus.PENDING
    assert stale[0].lines == old_pending.lines


def test_pending_stats_count_the_pending_orders_and_the_oldest_of_them(order_database: Database) -> None:
    uow = SqlOrderUnitOfWork(order_database)
    with uow:
        assert uow.orders.pending_stats() == PendingStats(0, None)
        young, old = _placed(uow, age_s=5), _placed(uow, age_s=300)
        older_but_confirmed = _placed(uow, age_s=900)
        item = OrderItem(older_but_confirmed.lines[0].product_id, "Mug", Decimal("9.50"), 2)
        assert uow.orders.save(older_but_confirmed.confirm((item,), older_but_confirmed.update_time))
        uow.commit()

    with uow:
        stats = uow.orders.pending_stats()

    assert stats == PendingStats(2, old.update_time)
    assert young.update_time > old.update_time


def test_pending_since_before_returns_the_oldest_first_up_to_the_limit(order_database: Database) -> None:
    uow = SqlOrderUnitOfWork(order_database)
    with uow:
        ages = [300, 900, 600]
        placed = [_placed(uow, age_s=a) for a in ages]
        uow.commit()

    with uow:
        stale = uow.orders.pending_since_before(utcnow(), 2)

    assert [o.order_id for o in stale] == [placed[1].order_id, placed[2].order_id]


def test_due_returns_only_releases_whose_time_has_come(order_database: Database) -> None:
    now = utcnow()
    uow = SqlOrderUnitOfWork(order_database)
    with uow:
        due = uow.outbox.add(uuid4(), Origin("cid-due"), now, now - timedelta(seconds=1))
        uow.outbox.add(uuid4(), Origin("cid-later"), now, now + timedelta(seconds=60))
        uow.commit()

    with uow:
        found = uow.outbox.due(now, 10)

    assert [(e.entry_id, e.order_id, e.correlation_id) for e in found] == [
        (due.entry_id, due.order_id, "cid-due")
    ]


def test_claim_moves_an_entry_once_and_hides_it_until_the_lease_ends(order_database: Database) -> None:
    now = utcnow()
    uow = SqlOrderUnitOfWork(order_database)
    with uow:
        uow.outbox.add(uuid4(), Origin("cid"), now, now)
        uow.commit()
    with uow:
        [seen] = uow.outbox.due(now, 10)

    with uow:
        assert uow.outbox.claim(seen, now + timedelta(seconds=30)) is True
        # A second worker read the same entry before the claim: its compare-and-set finds nothing.
        assert uow.outbox.claim(seen, now + timedelta(seconds=30)) is False
        uow.commit()
    with uow:
        assert uow.outbox.due(now + timedelta(seconds=29), 10) == []
        assert len(uow.outbox.due(now + timedelta(seconds=30), 10)) == 1


def test_pending_since_before_excludes_an_order_updated_exactly_at_the_cutoff(
    order_database: Database,
) -> None:
    uow = SqlOrderUnitOfWork(order_database)
    with uow:
        order = _placed(uow, age_s=600)
        uow.commit()

    with uow:
        assert uow.orders.pending_since_before(order.update_time, 10) == []
        assert len(uow.orders.pending_since_before(order.update_time + timedelta(microseconds=1), 10)) == 1


def test_an_order_reads_back_as_it_was_stored_through_each_status(order_database: Database) -> None:
    t0 = utcnow()
    lines = (OrderLine(uuid4(), 2), OrderLine(uuid4(), 1))
    request_id = uuid4()
    placed = Order.place(uuid4(), uuid4(), lines, t0, request_id)
    uow = SqlOrderUnitOfWork(order_database)
    with uow:
        assert uow.orders.add(placed)
        uow.commit()
    with uow:
        assert uow.orders.get(placed.order_id) == placed
        assert uow.orders.get_by_request_id(placed.customer_id, request_id) == placed
        assert uow.orders.get(uuid4()) is None
        assert uow.orders.get_by_request_id(placed.customer_id, uuid4()) is None

    items = (
        OrderItem(lines[0].product_id, "Mug", Decimal("9.50"), 2),
        OrderItem(lines[1].product_id, "Pen", Decimal("1.25"), 1),
    )
    confirmed = placed.confirm(items, t0 + timedelta(seconds=1))
    with uow:
        assert uow.orders.save(confirmed)
        uow.commit()
    with uow:
        loaded = uow.orders.get(placed.order_id)
    assert loaded == confirmed
    assert loaded is not None

    # Saved against the status it was read with (CONFIRMED), not the default PENDING.
    cancelled = loaded.cancel("changed my mind", t0 + timedelta(seconds=2))
    with uow:
        assert uow.orders.save(cancelled)
        uow.commit()
    with uow:
        assert uow.orders.get(placed.order_id) == cancelled


def test_a_rejected_order_keeps_its_reason_and_every_failed_product(order_database: Database) -> None:
    uow = SqlOrderUnitOfWork(order_database)
    with uow:
        placed = _placed(uow, age_s=0)
        failed = (uuid4(), uuid4())
        rejected = placed.reject("out of stock", failed, placed.update_time)
        assert uow.orders.save(rejected)
        uow.commit()
    with uow:
        assert uow.orders.get(placed.order_id) == rejected


def test_a_second_order_with_the_same_request_id_is_refused_and_writes_nothing(
    order_database: Database,
) -> None:
    request_id, customer_id = uuid4(), uuid4()
    first = Order.place(uuid4(), customer_id, (OrderLine(uuid4(), 1),), utcnow(), request_id)
    second = Order.place(uuid4(), customer_id, (OrderLine(uuid4(), 3),), utcnow(), request_id)
    uow = SqlOrderUnitOfWork(order_database)
    with uow:
        assert uow.orders.add(first) is True
        assert uow.orders.add(second) is False
        uow.commit()
    with uow:
        assert uow.orders.get_by_request_id(customer_id, request_id) == first
        assert uow.orders.get(second.order_id) is None


def test_request_ids_are_unique_per_customer_only(order_database: Database) -> None:
    request_id = uuid4()
    one = Order.place(uuid4(), uuid4(), (OrderLine(uuid4(), 1),), utcnow(), request_id)
    another = Order.place(uuid4(), uuid4(), (OrderLine(uuid4(), 3),), utcnow(), request_id)
    uow = SqlOrderUnitOfWork(order_database)
    with uow:
        assert uow.orders.add(one) is True
        assert uow.orders.add(another) is True
        uow.commit()
    with uow:
        assert uow.orders.get_by_request_id(one.customer_id, request_id) == one
        assert uow.orders.get_by_request_id(another.customer_id, request_id) == another
        assert uow.orders.get_by_request_id(uuid4(), request_id) is None


def test_a_save_over_a_status_changed_meanwhile_is_refused(order_database: Database) -> None:
    uow = SqlOrderUnitOfWork(order_database)
    with uow:
        _placed(uow, age_s=0)
        uow.commit()
    with uow:
        [stale] = uow.orders.pending_since_before(utcnow() + timedelta(seconds=1), 10)
        assert uow.orders.save(stale.cancel("first", utcnow()))
        assert uow.orders.save(stale.reject("second", (), utcnow())) is False
        uow.commit()
    with uow:
        stored = uow.orders.get(stale.order_id)
    assert stored is not None and stored.status is OrderStatus.CANCELLED and stored.status_reason == "first"


def test_a_confirmation_over_an_order_cancelled_meanwhile_writes_neither_it_nor_its_prices(
    order_database: Database,
) -> None:
    # On PostgreSQL the status and the priced lines are one statement: refused whole, lines included.
    placed = Order.place(uuid4(), uuid4(), (OrderLine(uuid4(), 2),), utcnow(), None)
    uow = SqlOrderUnitOfWork(order_database)
    with uow:
        assert uow.orders.add(placed)
        assert uow.orders.save(placed.cancel("first", utcnow()))
        uow.commit()
    confirmed = placed.confirm((OrderItem(placed.lines[0].product_id, "Mug", Decimal("9.50"), 2),), utcnow())
    with uow:
        assert uow.orders.save(confirmed) is False
        uow.commit()
    with uow:
        stored = uow.orders.get(placed.order_id)
    assert stored is not None and stored.status is OrderStatus.CANCELLED and stored.items == ()


def test_list_newest_first_pages_by_create_time_then_id_per_customer(order_database: Database) -> None:
    t0 = utcnow().replace(microsecond=0)
    customer, other = uuid4(), uuid4()

    def order(customer_id: UUID, at: datetime, order_id: UUID | None = None) -> Order:
        return Order.place(order_id or uuid4(), customer_id, (OrderLine(uuid4(), 1),), at, None)

    # Three orders share a create time: the id breaks the tie, and the keyset resumes inside it. They
    # are stored in the reverse of the order expected, so no table or index order gives it for free;
    # the newer order has the smallest id, which a keyset that forgot the tie's time would let back in.
    tied = sorted((order(customer, t0) for _ in range(3)), key=lambda o: str(o.order_id))
    older = order(customer, t0 - timedelta(seconds=5))
    newer = order(customer, t0 + timedelta(seconds=5), UUID(int=1))
    others = order(other, t0)
    uow = SqlOrderUnitOfWork(order_database)
    with uow:
        for o in [older, *tied, others, newer]:
            assert uow.orders.add(o)
        uow.commit()
    mine = [newer, *reversed(tied), older]

    with uow:
        assert uow.orders.list_newest_first(customer, None, 10) == mine
        assert uow.orders.list_newest_first(customer, None, 2) == mine[:2]
        for i, last in enumerate(mine):
            page = uow.orders.list_newest_first(customer, (last.create_time, last.order_id), 2)
            assert page == mine[i + 1 : i + 3]
        everyone = uow.orders.list_newest_first(None, None, 10)
    assert {o.order_id for o in everyone} == {o.order_id for o in [*mine, others]}
    assert [o.create_time for o in everyone] == sorted((o.create_time for o in everyone), reverse=True)


def test_an_outbox_entry_reads_back_as_it_was_added_and_due_returns_the_oldest_first(
    order_database: Database,
) -> None:
    now = utcnow()
    uow = SqlOrderUnitOfWork(order_database)
    with uow:
        late = uow.outbox.add(uuid4(), Origin("cid-late"), now, now - timedelta(seconds=1))
        early = uow.outbox.add(uuid4(), Origin("cid-early"), now, now - timedelta(seconds=9))
        uow.outbox.add(uuid4(), Origin("cid-mid"), now, now - timedelta(seconds=5))
        uow.commit()
    assert (late.correlation_id, late.attempts, late.next_attempt_at, late.created_at) == (
        "cid-late",
        0,
        now - timedelta(seconds=1),
        now,
    )

    with uow:
        assert uow.outbox.due(now, 1) == [early]
        assert [e.correlation_id for e in uow.outbox.due(now, 10)] == ["cid-early", "cid-mid", "cid-late"]
        assert uow.outbox.due(now, 10)[-1] == late


def test_claim_moves_only_the_entry_claimed(order_database: Database) -> None:
    now = utcnow()
    uow = SqlOrderUnitOfWork(order_database)
    with uow:
        first = uow.outbox.add(uuid4(), Origin("cid-1"), now, now)
        second = uow.outbox.add(uuid4(), Origin("cid-2"), now, now)  # the same next_attempt_at
        uow.commit()
    with uow:
        assert uow.outbox.claim(first, now + timedelta(seconds=30))
        uow.commit()
    with uow:
        assert uow.outbox.due(now, 10) == [second]


def test_retry_later_reschedules_and_done_removes_an_entry(order_database: Database) -> None:
    now = utcnow()
    uow = SqlOrderUnitOfWork(order_database)
    with uow:
        assert uow.outbox.stats() == OutboxStats(0, None)
        kept = uow.outbox.add(uuid4(), Origin("cid-kept"), now - timedelta(seconds=7), now)
        gone = uow.outbox.add(uuid4(), Origin("cid-gone"), now - timedelta(seconds=3), now)
        uow.commit()
    with order_database.engine.connect() as conn:
        assert list(conn.scalars(select(release_outbox.c.last_error))) == ["", ""]
    with uow:
        assert uow.outbox.stats() == OutboxStats(2, now - timedelta(seconds=7))
        uow.outbox.retry_later(kept.entry_id, 3, now + timedelta(seconds=20), "x" * 1500)
        uow.outbox.done(gone.entry_id, gone.created_at)
        uow.commit()

    with uow:
        assert uow.outbox.due(now + timedelta(seconds=19), 10) == []
        [entry] = uow.outbox.due(now + timedelta(seconds=20), 10)
        assert uow.outbox.stats() == OutboxStats(1, now - timedelta(seconds=7))
    assert (entry.entry_id, entry.attempts, entry.next_attempt_at) == (
        kept.entry_id,
        3,
        now + timedelta(seconds=20),
    )
    with order_database.engine.connect() as conn:
        [(error,)] = conn.execute(select(release_outbox.c.last_error))
    assert error == "x" * 1000


def test_retry_now_makes_failed_entries_due_and_leaves_the_others(order_database: Database) -> None:
    now = utcnow()
    uow = SqlOrderUnitOfWork(order_database)
    with uow:
        failed = uow.outbox.add(uuid4(), Origin("cid-failed"), now - timedelta(seconds=60), now)
        failed_and_due = uow.outbox.add(uuid4(), Origin("cid-due"), now - timedelta(seconds=50), now)
        fresh = uow.outbox.add(
            uuid4(), Origin("cid-fresh"), now, now + timedelta(seconds=2)
        )  # never tried yet
        uow.outbox.retry_later(failed.entry_id, 5, now + timedelta(seconds=10), "down")
        uow.outbox.retry_later(failed_and_due.entry_id, 1, now - timedelta(seconds=1), "down")
        uow.commit()

    with uow:
        assert uow.outbox.retry_now(now) == 1
        uow.commit()

    with uow:
        due = uow.outbox.due(now, 10)
    assert [(e.entry_id, e.attempts) for e in due] == [(failed_and_due.entry_id, 1), (failed.entry_id, 5)]
    assert due[1].next_attempt_at == now
    assert fresh.entry_id not in {e.entry_id for e in due}
