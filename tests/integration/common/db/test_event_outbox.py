"""The event outbox in SQL (both databases): a row exists after the change's commit and not after its
rollback, none without a broker, each subject's earliest unpublished event only is offered, and the
retention deletes published events only."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

from common.clock import utcnow
from common.db.database import Database
from common.events.outbox import EncodedEvent, PendingEvent
from common.events.recording import EventRecorder
from order.domain.model import Order, OrderLine
from order.infrastructure.unit_of_work import SqlOrderUnitOfWork
from order.presentation.events import encode


def _uow(database: Database, *, broker: bool = True) -> SqlOrderUnitOfWork:
    return SqlOrderUnitOfWork(database, events=EventRecorder(encode) if broker else None)


def _placed(database: Database) -> Order:
    order = Order.place(uuid4(), uuid4(), (OrderLine(uuid4(), 1),), utcnow(), None)
    with _uow(database) as uow:
        assert uow.orders.add(order)
        uow.commit()
    return order


def _pending(database: Database) -> list[PendingEvent]:
    with _uow(database) as uow:
        return uow.events.due(utcnow() + timedelta(days=1), 100)


def test_an_event_is_written_with_its_commit_and_not_with_a_rollback(order_database: Database) -> None:
    order = _placed(order_database)
    with _uow(order_database) as uow:
        assert uow.orders.save(order.confirm((), utcnow()))
        uow.rollback()
    assert _pending(order_database) == []

    with _uow(order_database) as uow:
        assert uow.orders.save(order.confirm((), utcnow()))
        uow.commit()
    [event] = _pending(order_database)
    assert (event.event_type, event.subject) == ("eshop.order.v1.OrderConfirmed", str(order.order_id))


def test_no_event_is_written_without_a_broker(order_database: Database) -> None:
    order = _placed(order_database)
    with _uow(order_database, broker=False) as uow:
        assert uow.orders.save(order.confirm((), utcnow()))
        uow.commit()
    with _uow(order_database) as uow:
        assert uow.events.stats().waiting == 0


def _add(database: Database, subject: str, n: int) -> None:
    with _uow(database) as uow:
        event = EncodedEvent("eshop.order.v1.OrderCancelled", subject, b"", utcnow())
        uow.events.add(event, uuid4(), f"c{n}", "", utcnow())
        uow.commit()


def test_due_offers_only_the_earliest_unpublished_event_of_each_subject(order_database: Database) -> None:
    a, b = str(uuid4()), str(uuid4())
    for n, subject in enumerate((a, a, b, a)):
        _add(order_database, subject, n)
    first = _pending(order_database)
    assert [(e.subject, e.correlation_id) for e in first] == [(a, "c0"), (b, "c2")]

    with _uow(order_database) as uow:
        uow.events.done(first[0].entry_id, utcnow())
        uow.commit()
    assert [(e.subject, e.correlation_id) for e in _pending(order_database)] == [(a, "c1"), (b, "c2")]

    # One waiting out its backoff holds its subject's later events back (no overtaking).
    with _uow(order_database) as uow:
        uow.events.retry_later(_pending(order_database)[0].entry_id, 1, utcnow() + timedelta(days=2), "down")
        uow.commit()
    assert [(e.subject, e.correlation_id) for e in _pending(order_database)] == [(b, "c2")]


def test_the_retention_deletes_published_events_only(order_database: Database) -> None:
    for n in range(3):
        _add(order_database, str(uuid4()), n)
    published, *_waiting = _pending(order_database)
    with _uow(order_database) as uow:
        uow.events.done(published.entry_id, utcnow() - timedelta(hours=2))
        uow.commit()
    with _uow(order_database) as uow:
        assert uow.events.prune(utcnow() - timedelta(hours=3), 100) == 0  # published after the cutoff
        assert uow.events.prune(utcnow() - timedelta(hours=1), 100) == 1
        uow.commit()
    with _uow(order_database) as uow:
        assert uow.events.stats().waiting == 2
        assert uow.events.prune(utcnow() + timedelta(days=1), 100) == 0  # never an unpublished one
