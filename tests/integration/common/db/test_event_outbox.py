"""The event outbox in SQL (both databases): a row exists after the change's commit and not after its
rollback, none without a broker, each subject's earliest unpublished event only is offered, and the
retention deletes published events only."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from uuid import uuid4

import pytest

from common.clock import utcnow
from common.db.database import Database
from common.db.factory import open_database
from common.events.outbox import EncodedEvent, PendingEvent
from common.events.recording import EventRecorder
from order.domain.model import Order, OrderLine
from order.infrastructure.schema import create_schema
from order.infrastructure.unit_of_work import SqlOrderUnitOfWork
from order.presentation.events import encode


@pytest.fixture
def database(make_database_url: Callable[[str], str]) -> Iterator[Database]:
    database = open_database(make_database_url("order"))
    create_schema(database)
    yield database
    database.dispose()


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


def test_an_event_is_written_with_its_commit_and_not_with_a_rollback(database: Database) -> None:
    order = _placed(database)
    with _uow(database) as uow:
        assert uow.orders.save(order.confirm((), utcnow()))
        uow.rollback()
    assert _pending(database) == []

    with _uow(database) as uow:
        assert uow.orders.save(order.confirm((), utcnow()))
        uow.commit()
    [event] = _pending(database)
    assert (event.event_type, event.subject) == ("eshop.order.v1.OrderConfirmed", str(order.order_id))


def test_no_event_is_written_without_a_broker(database: Database) -> None:
    order = _placed(database)
    with _uow(database, broker=False) as uow:
        assert uow.orders.save(order.confirm((), utcnow()))
        uow.commit()
    with _uow(database) as uow:
        assert uow.events.stats().waiting == 0


def _add(database: Database, subject: str, n: int) -> None:
    with _uow(database) as uow:
        event = EncodedEvent("eshop.order.v1.OrderCancelled", subject, b"", utcnow())
        uow.events.add(event, uuid4(), f"c{n}", "", utcnow())
        uow.commit()


def test_due_offers_only_the_earliest_unpublished_event_of_each_subject(database: Database) -> None:
    a, b = str(uuid4()), str(uuid4())
    for n, subject in enumerate((a, a, b, a)):
        _add(database, subject, n)
    first = _pending(database)
    assert [(e.subject, e.correlation_id) for e in first] == [(a, "c0"), (b, "c2")]

    with _uow(database) as uow:
        uow.events.done(first[0].entry_id, utcnow())
        uow.commit()
    assert [(e.subject, e.correlation_id) for e in _pending(database)] == [(a, "c1"), (b, "c2")]

    # One waiting out its backoff holds its subject's later events back (no overtaking).
    with _uow(database) as uow:
        uow.events.retry_later(_pending(database)[0].entry_id, 1, utcnow() + timedelta(days=2), "down")
        uow.commit()
    assert [(e.subject, e.correlation_id) for e in _pending(database)] == [(b, "c2")]


def test_the_retention_deletes_published_events_only(database: Database) -> None:
    for n in range(3):
        _add(database, str(uuid4()), n)
    published, *_waiting = _pending(database)
    with _uow(database) as uow:
        uow.events.done(published.entry_id, utcnow() - timedelta(hours=2))
        uow.commit()
    with _uow(database) as uow:
        assert uow.events.prune(utcnow() - timedelta(hours=3), 100) == 0  # published after the cutoff
        assert uow.events.prune(utcnow() - timedelta(hours=1), 100) == 1
        uow.commit()
    with _uow(database) as uow:
        assert uow.events.stats().waiting == 2
        assert uow.events.prune(utcnow() + timedelta(days=1), 100) == 0  # never an unpublished one
