"""The SQL repositories' conditional writes on the configured backend (SQLite or PostgreSQL).

These answer True/False from the database's own row counts; a driver that reports -1 would turn
every reservation into a conflict, so each outcome is checked both ways.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from loguru import logger
from sqlalchemy import select

from common import deadline
from common.behaviours import default_pipeline
from common.clock import utcnow
from common.db.database import Database
from common.db.factory import open_database
from common.errors import DeadlineExceeded
from common.mediator import Mediator
from product.application.messages import ReserveStock, StockLine
from product.application.outcomes import NoOutcomes
from product.application.stock_handlers import ReserveStockHandler
from product.domain.model import Product, ReservedLine
from product.infrastructure.schema import create_schema
from product.infrastructure.tables import reservations
from product.infrastructure.unit_of_work import SqlProductUnitOfWork
from tests.unit.product.fakes import make_product


@pytest.fixture
def database(make_database_url: Callable[[str], str]) -> Iterator[Database]:
    database = open_database(make_database_url("product"))
    create_schema(database)
    yield database
    database.dispose()


def test_try_open_claims_an_order_id_once(database: Database) -> None:
    order_id = uuid4()
    uow = SqlProductUnitOfWork(database)
    with uow:
        assert uow.reservations.try_open(order_id, utcnow()) is True
        assert uow.reservations.try_open(order_id, utcnow()) is False
        uow.commit()
    with uow:
        assert uow.reservations.try_open(order_id, utcnow()) is False
        assert uow.reservations.add_released_marker(order_id, utcnow()) is False


def test_a_released_marker_is_written_once(database: Database) -> None:
    order_id = uuid4()
    uow = SqlProductUnitOfWork(database)
    with uow:
        assert uow.reservations.add_released_marker(order_id, utcnow()) is True
        assert uow.reservations.add_released_marker(order_id, utcnow()) is False
        assert uow.reservations.try_release(order_id, utcnow()) is False


def test_try_take_takes_only_what_is_there(database: Database) -> None:
    product = make_product(stock=3)
    uow = SqlProductUnitOfWork(database)
    with uow:
        uow.products.add(product)
        assert uow.products.try_take(product.product_id, 4, utcnow()) is False
        assert uow.products.try_take(product.product_id, 3, utcnow()) is True
        assert uow.products.try_take(product.product_id, 1, utcnow()) is False
        stored = uow.products.get(product.product_id)
        assert stored is not None and stored.stock_quantity == 0


def _reserve(uow: SqlProductUnitOfWork, lines: list[tuple[Product, int]], *, released: bool = False) -> None:
    order_id = uuid4()
    assert uow.reservations.try_open(order_id, utcnow())
    uow.reservations.add_lines(
        order_id, [ReservedLine(p.product_id, p.name, p.price, quantity) for p, quantity in lines]
    )
    if released:
        assert uow.reservations.try_release(order_id, utcnow())


def test_held_quantity_sums_the_active_reservations_of_that_product_only(database: Database) -> None:
    # RestockProduct's ceiling (stock + held <= 2**31 - 1) rests on this sum.
    mug, pen, idle = make_product(name="Mug"), make_product(name="Pen"), make_product(name="Idle")
    uow = SqlProductUnitOfWork(database)
    with uow:
        for product in (mug, pen, idle):
            uow.products.add(product)
        _reserve(uow, [(mug, 2), (pen, 5)])
        _reserve(uow, [(mug, 3)])
        _reserve(uow, [(mug, 7), (pen, 11)], released=True)
        uow.commit()

    with uow:
        assert uow.reservations.held_quantity(mug.product_id) == 5
        assert uow.reservations.held_quantity(pen.product_id) == 5
        assert uow.reservations.held_quantity(idle.product_id) == 0
        assert uow.reservations.held_quantity(uuid4()) == 0


def test_a_product_reads_back_as_it_was_added(database: Database) -> None:
    product = Product(
        uuid4(), "Mug", "Blue, 300 ml", Decimal("12.34"), 17, 4, utcnow(), utcnow() + timedelta(seconds=1)
    )
    uow = SqlProductUnitOfWork(database)
    with uow:
        uow.products.add(product)
        uow.commit()
    with uow:
        assert uow.products.get(product.product_id) == product
        assert uow.products.get_many([product.product_id]) == {product.product_id: product}


def test_list_after_pages_by_create_time_then_id(database: Database) -> None:
    # Three products share a create time: the id breaks the tie, and the keyset resumes inside it. They
    # are stored in the reverse of the order expected, so no table or index order gives it for free;
    # the earlier product has the largest id, which a keyset that forgot the tie's time would let back in.
    t0 = utcnow().replace(microsecond=0)
    tied = sorted((make_product(created=t0) for _ in range(3)), key=lambda p: str(p.product_id))
    earlier = replace(make_product(created=t0 - timedelta(seconds=5)), product_id=UUID(int=2**128 - 1))
    later = make_product(created=t0 + timedelta(seconds=5))
    uow = SqlProductUnitOfWork(database)
    with uow:
        for product in [later, *reversed(tied), earlier]:
            uow.products.add(product)
        uow.commit()
    expected = [earlier, *tied, later]

    with uow:
        assert [p.product_id for p in uow.products.list_after(None, 10)] == [p.product_id for p in expected]
        assert [p.product_id for p in uow.products.list_after(None, 2)] == [
            p.product_id for p in expected[:2]
        ]
        for i, last in enumerate(expected):
            after = (last.create_time, last.product_id)
            page = uow.products.list_after(after, 2)
            assert [p.product_id for p in page] == [p.product_id for p in expected[i + 1 : i + 3]]


def test_a_reservation_records_when_it_was_released(database: Database) -> None:
    opened, marked, t0, t1 = uuid4(), uuid4(), utcnow(), utcnow() + timedelta(seconds=3)
    uow = SqlProductUnitOfWork(database)
    with uow:
        assert uow.reservations.try_open(opened, t0)
        assert uow.reservations.add_released_marker(marked, t0)
        uow.commit()
    with database.engine.connect() as conn:
        rows = conn.execute(select(reservations.c.order_id, reservations.c.release_time))
        times = {row.order_id: row.release_time for row in rows}
    assert times == {str(opened): None, str(marked): t0}

    with uow:
        assert uow.reservations.try_release(opened, t1)
        uow.commit()
    with database.engine.connect() as conn:
        released = conn.scalar(
            select(reservations.c.release_time).where(reservations.c.order_id == str(opened))
        )
    assert released == t1


def test_after_commit_actions_run_once_the_transaction_commits_and_never_after_a_rollback(
    database: Database,
) -> None:
    # What the stock counters rely on: a reservation rolled back (past its deadline, rerun after a
    # conflict, lost to an outage) reports nothing; a committed one reports once.
    ran: list[str] = []
    product = make_product(stock=3)
    uow = SqlProductUnitOfWork(database)
    with uow:
        uow.products.add(product)
        uow.after_commit(lambda: ran.append("rolled back"))
    with uow:
        uow.products.add(product)
        uow.after_commit(lambda: ran.append("first"))
        uow.after_commit(lambda: ran.append("second"))
        assert ran == []  # not before the commit
        uow.commit()
        assert ran == ["first", "second"]
        uow.commit()  # nothing left to run
    assert ran == ["first", "second"]
    with uow:
        assert uow.products.get(product.product_id) is not None


def test_a_failing_after_commit_action_leaves_the_commit_and_the_other_actions_standing(
    database: Database,
) -> None:
    errors: list[str] = []
    sink = logger.add(lambda m: errors.append(m.record["message"]), level="ERROR", format="{message}")
    ran: list[str] = []
    product = make_product(stock=3)
    uow = SqlProductUnitOfWork(database)

    def broken() -> None:
        raise RuntimeError("metrics exporter broke")

    try:
        with uow:
            uow.products.add(product)
            uow.after_commit(broken)
            uow.after_commit(lambda: ran.append("after"))
            uow.commit()
    finally:
        logger.remove(sink)

    assert ran == ["after"]
    with uow:
        assert uow.products.get(product.product_id) is not None
    assert errors == ["an action after a commit failed; the commit stands"]


async def test_a_replay_refused_at_commit_by_the_deadline_is_not_counted(database: Database) -> None:
    # A replay writes nothing, yet its transaction (the reads) still ends at the deadline check: past
    # it the caller gets DEADLINE_EXCEEDED and the replay is not counted.
    counted: list[tuple[str, int]] = []

    class Recorded(NoOutcomes):
        def reservation(self, result: str, units: int = 0) -> None:
            counted.append((result, units))

    uow = SqlProductUnitOfWork(database)
    mediator = Mediator(
        {ReserveStock: lambda: ReserveStockHandler(uow, utcnow, outcomes=Recorded())}, default_pipeline()
    )
    product = make_product(stock=3)
    with uow:
        uow.products.add(product)
        uow.commit()
    command = ReserveStock(str(uuid4()), (StockLine(str(product.product_id), 2),))

    await mediator.send(command)
    with deadline.bound(0.0), pytest.raises(DeadlineExceeded):
        await mediator.send(command)
    await mediator.send(command)

    assert counted == [("reserved", 2), ("replayed", 0)]


def test_count_low_stock_counts_products_at_or_below_their_threshold(database: Database) -> None:
    # What the eshop.products.low_stock gauge reads (threshold 2 for make_product's products).
    uow = SqlProductUnitOfWork(database)
    with uow:
        assert uow.products.count_low_stock() == 0
        for stock in (0, 2, 3, 10):
            uow.products.add(make_product(stock=stock))
        assert uow.products.count_low_stock() == 2  # 0 and 2; not 3 or 10
