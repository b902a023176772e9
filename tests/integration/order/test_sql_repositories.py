"""The Order service's SQL queries that background work relies on, on the configured backend (SQLite or
PostgreSQL). The unit tests run the reconciler and the outbox against fakes; these check that the SQL
itself filters what the fakes filter: only stale PENDING orders, only due and unclaimed releases."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from common.clock import utcnow
from common.db.database import Database
from order.domain.model import Order, OrderItem, OrderLine, OrderStatus
from order.infrastructure.schema import create_schema
from order.infrastructure.unit_of_work import SqlOrderUnitOfWork


@pytest.fixture
def database(make_database_url: Callable[[str], str]) -> Iterator[Database]:
    database = Database(make_database_url("order"))
    create_schema(database)
    yield database
    database.dispose()


def _placed(uow: SqlOrderUnitOfWork, age_s: float) -> Order:
    line = OrderLine(uuid4(), 2)
    order = Order.place(uuid4(), uuid4(), (line,), utcnow() - timedelta(seconds=age_s), None)
    assert uow.orders.add(order)
    return order


def test_pending_since_before_returns_only_pending_orders_older_than_the_cutoff(database: Database) -> None:
    uow = SqlOrderUnitOfWork(database)
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


def test_pending_since_before_returns_the_oldest_first_up_to_the_limit(database: Database) -> None:
    uow = SqlOrderUnitOfWork(database)
    with uow:
        ages = [300, 900, 600]
        placed = [_placed(uow, age_s=a) for a in ages]
        uow.commit()

    with uow:
        stale = uow.orders.pending_since_before(utcnow(), 2)

    assert [o.order_id for o in stale] == [placed[1].order_id, placed[2].order_id]


def test_due_returns_only_releases_whose_time_has_come(database: Database) -> None:
    now = utcnow()
    uow = SqlOrderUnitOfWork(database)
    with uow:
        due = uow.outbox.add(uuid4(), "cid-due", now, now - timedelta(seconds=1))
        uow.outbox.add(uuid4(), "cid-later", now, now + timedelta(seconds=60))
        uow.commit()

    with uow:
        found = uow.outbox.due(now, 10)

    assert [(e.entry_id, e.order_id, e.correlation_id) for e in found] == [
        (due.entry_id, due.order_id, "cid-due")
    ]


def test_claim_moves_an_entry_once_and_hides_it_until_the_lease_ends(database: Database) -> None:
    now = utcnow()
    uow = SqlOrderUnitOfWork(database)
    with uow:
        uow.outbox.add(uuid4(), "cid", now, now)
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
