"""The SQL repositories' conditional writes on the configured backend (SQLite or PostgreSQL).

These answer True/False from the database's own row counts; a driver that reports -1 would turn
every reservation into a conflict, so each outcome is checked both ways.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from loguru import logger
from sqlalchemy import select

from common import call_context
from common.behaviours import default_pipeline
from common.clock import utcnow
from common.db.database import Database
from common.errors import DeadlineExceeded
from common.mediator import Mediator
from product.application.messages import ReserveStock, StockLine
from product.application.outcomes import NoOutcomes
from product.application.stock_handlers import ReserveStockHandler
from product.domain.model import Product, ReservationStatus, ReservedLine, StockRequest
from product.infrastructure.repositories import list_query
from product.infrastructure.tables import reservations
from product.infrastructure.unit_of_work import SqlProductUnitOfWork
from tests.support.product_fakes import make_product


def test_try_open_claims_an_order_id_once(product_database: Database) -> None:
    order_id = uuid4()
    uow = SqlProductUnitOfWork(product_database)
    with uow:
        assert uow.reservations.try_open(order_id, utcnow()) is True
        assert uow.reservations.try_open(order_id, utcnow()) is False
        uow.commit()
    with uow:
        assert uow.reservations.try_open(order_id, utcnow()) is False
        assert uow.reservations.add_released_marker(order_id, utcnow()) is False


def test_open_and_take_claims_takes_and_records_the_lines_in_request_order(
    product_database: Database,
) -> None:
    # On PostgreSQL one statement (claim, decrements, lines), on SQLite one after the other: the same.
    cup, pen = make_product(name="Cup", price="2.50", stock=5), make_product(name="Pen", price="1.00")
    order_id, now = uuid4(), utcnow()
    requests = sorted(
        [StockRequest(cup.product_id, 2), StockRequest(pen.product_id, 1)], key=lambda r: r.product_id
    )
    requests.reverse()  # not in product-id order: the lines keep the request's
    uow = SqlProductUnitOfWork(product_database)
    with uow:
        uow.products.add(cup)
        uow.products.add(pen)
        taken = uow.reservations.open_and_take(order_id, requests, now)
        assert uow.reservations.open_and_take(order_id, requests, now) is None  # the order id is taken
        uow.commit()
    assert taken is not None and set(taken) == {cup.product_id, pen.product_id}
    assert (taken[cup.product_id].stock_quantity, taken[cup.product_id].version) == (3, cup.version + 1)
    assert (taken[pen.product_id].name, taken[pen.product_id].price) == ("Pen", Decimal("1.00"))
    with uow:
        reservation = uow.reservations.get(order_id)
        assert uow.products.get(cup.product_id) == taken[cup.product_id]
    assert reservation is not None and reservation.status is ReservationStatus.ACTIVE
    assert [(line.product_id, line.quantity) for line in reservation.lines] == [
        (r.product_id, r.quantity) for r in requests
    ]
    assert {line.name: line.unit_price for line in reservation.lines} == {"Cup": Decimal("2.50"), "Pen": 1}


def test_open_and_take_leaves_out_what_it_could_not_take(product_database: Database) -> None:
    short, deleted, fine = make_product(stock=1), make_product(deleted=utcnow()), make_product()
    requests = [StockRequest(short.product_id, 2), StockRequest(deleted.product_id, 1),
                StockRequest(fine.product_id, 1), StockRequest(uuid4(), 1)]  # fmt: skip
    uow = SqlProductUnitOfWork(product_database)
    with uow:
        for product in (short, deleted, fine):
            uow.products.add(product)
        taken = uow.reservations.open_and_take(uuid4(), requests, utcnow())
        assert taken is not None and set(taken) == {fine.product_id}
        assert uow.products.get(short.product_id) == short  # untouched
        assert uow.products.get(deleted.product_id) == deleted


def test_a_released_marker_is_written_once(product_database: Database) -> None:
    order_id = uuid4()
    uow = SqlProductUnitOfWork(product_database)
    with uow:
        assert uow.reservations.add_released_marker(order_id, utcnow()) is True
        assert uow.reservations.add_released_marker(order_id, utcnow()) is False
        assert uow.reservations.try_release(order_id, utcnow()) is False


def test_try_take_takes_only_what_is_there(product_database: Database) -> None:
    product = make_product(stock=3)
    uow = SqlProductUnitOfWork(product_database)
    with uow:
        uow.products.add(product)
        assert uow.products.try_take(product.product_id, 4, utcnow()) is None
        taken = uow.products.try_take(product.product_id, 3, utcnow())
        assert uow.products.try_take(product.product_id, 1, utcnow()) is None
        stored = uow.products.get(product.product_id)
    assert stored is not None and stored.stock_quantity == 0
    # What the decrement left, read in the same statement: the name and price a reservation records.
    assert taken == stored
    assert (taken.name, taken.price, taken.version) == (product.name, product.price, product.version + 1)


def test_try_take_refuses_a_deleted_product_and_put_back_still_returns_stock_to_it(
    product_database: Database,
) -> None:
    product = make_product(stock=5, deleted=utcnow())
    uow = SqlProductUnitOfWork(product_database)
    with uow:
        uow.products.add(product)
        assert uow.products.try_take(product.product_id, 1, utcnow()) is None
        returned = uow.products.put_back(product.product_id, 2, utcnow())
        assert uow.products.put_back(uuid4(), 2, utcnow()) is None
    assert returned is not None
    assert (returned.stock_quantity, returned.version, returned.deleted) == (7, 2, True)


def test_every_write_of_a_product_moves_its_version_on(product_database: Database) -> None:
    # The etag: stock moves (reservations, releases, restocks) change it as much as catalogue changes.
    product = make_product(stock=5)
    uow = SqlProductUnitOfWork(product_database)
    versions = []
    with uow:
        uow.products.add(product)
        versions.append(product.version)
        taken = uow.products.try_take(product.product_id, 1, utcnow())
        assert taken is not None
        versions.append(taken.version)
        returned = uow.products.put_back(product.product_id, 1, utcnow())
        assert returned is not None
        versions.append(returned.version)
        returned.name = "Renamed"
        saved = uow.products.save(returned)
        assert saved is not None
        versions.append(saved.version)
        uow.commit()
    with uow:
        stored = uow.products.get(product.product_id)
    assert stored == saved
    assert versions == [1, 2, 3, 4]


def test_save_is_compare_and_set_on_the_version_and_never_writes_the_stock(
    product_database: Database,
) -> None:
    product = make_product(stock=5, category="mugs")
    uow = SqlProductUnitOfWork(product_database)
    with uow:
        uow.products.add(product)
        uow.commit()
    with uow:
        read = uow.products.get_for_update(product.product_id)
        assert read is not None
        assert uow.products.try_take(product.product_id, 2, utcnow()) is not None  # moves the version on
        read.name = "Lost update"
        assert uow.products.save(read) is None
        uow.commit()
    with uow:
        stored = uow.products.get(product.product_id)
        assert stored is not None and (stored.name, stored.stock_quantity) == (product.name, 3)
        changed = replace(
            stored,
            name="Mug",
            description="Blue",
            price=Decimal("1.50"),
            low_stock_threshold=9,
            category="cups",
            update_time=stored.update_time + timedelta(seconds=1),
            delete_time=stored.update_time + timedelta(seconds=1),
            stock_quantity=1_000,  # not the save's to write
        )
        saved = uow.products.save(changed)
        uow.commit()
    assert saved == replace(changed, stock_quantity=3, version=stored.version + 1)
    with uow:
        assert uow.products.get(product.product_id) == saved


def _reserve(uow: SqlProductUnitOfWork, lines: list[tuple[Product, int]], *, released: bool = False) -> None:
    order_id = uuid4()
    assert uow.reservations.try_open(order_id, utcnow())
    uow.reservations.add_lines(
        order_id, [ReservedLine(p.product_id, p.name, p.price, quantity) for p, quantity in lines]
    )
    if released:
        assert uow.reservations.try_release(order_id, utcnow())


def test_held_quantity_sums_the_active_reservations_of_that_product_only(product_database: Database) -> None:
    # RestockProduct's ceiling (stock + held <= 2**31 - 1) rests on this sum.
    mug, pen, idle = make_product(name="Mug"), make_product(name="Pen"), make_product(name="Idle")
    uow = SqlProductUnitOfWork(product_database)
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


@pytest.mark.parametrize("deleted", [False, True], ids=["live", "deleted"])
def test_a_product_reads_back_as_it_was_added(product_database: Database, deleted: bool) -> None:
    product = Product(
        uuid4(),
        "Mug",
        "Blue, 300 ml",
        Decimal("12.34"),
        17,
        4,
        utcnow(),
        utcnow() + timedelta(seconds=1),
        category="kitchen-2",
        delete_time=utcnow() + timedelta(seconds=2) if deleted else None,
        version=7,
    )
    uow = SqlProductUnitOfWork(product_database)
    with uow:
        uow.products.add(product)
        uow.commit()
    with uow:
        assert uow.products.get(product.product_id) == product
        assert uow.products.get_for_update(product.product_id) == product
        assert uow.products.get_many([product.product_id]) == {product.product_id: product}


def test_list_after_pages_by_create_time_then_id(product_database: Database) -> None:
    # Three products share a create time: the id breaks the tie, and the keyset resumes inside it. They
    # are stored in the reverse of the order expected, so no table or index order gives it for free;
    # the earlier product has the largest id, which a keyset that forgot the tie's time would let back in.
    t0 = utcnow().replace(microsecond=0)
    tied = sorted((make_product(created=t0) for _ in range(3)), key=lambda p: str(p.product_id))
    earlier = replace(make_product(created=t0 - timedelta(seconds=5)), product_id=UUID(int=2**128 - 1))
    later = make_product(created=t0 + timedelta(seconds=5))
    uow = SqlProductUnitOfWork(product_database)
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


def test_list_after_filters_by_exact_category_and_leaves_deleted_products_out_unless_asked(
    product_database: Database,
) -> None:
    t0 = utcnow().replace(microsecond=0)
    mugs = [make_product(created=t0 + timedelta(seconds=i), category="mugs") for i in range(4)]
    mugs[1].delete_time = t0
    others = [
        make_product(created=t0, category="mugs-2"),
        make_product(created=t0, category="cups"),
        make_product(created=t0),
    ]
    uow = SqlProductUnitOfWork(product_database)
    with uow:
        for product in [*others, *mugs]:
            uow.products.add(product)
        uow.commit()

    def ids(products: list[Product]) -> list[UUID]:
        return [p.product_id for p in products]

    with uow:
        assert ids(uow.products.list_after(None, 10, category="mugs")) == ids([mugs[0], *mugs[2:]])
        assert ids(uow.products.list_after(None, 10, category="mugs", show_deleted=True)) == ids(mugs)
        first = uow.products.list_after(None, 2, category="mugs", show_deleted=True)
        rest = uow.products.list_after(
            (first[-1].create_time, first[-1].product_id), 10, category="mugs", show_deleted=True
        )
        assert ids(first + rest) == ids(mugs)
        assert len(uow.products.list_after(None, 10)) == 6  # every category, the deleted one left out
        assert len(uow.products.list_after(None, 10, show_deleted=True)) == 7
        assert uow.products.list_after(None, 10, category="mug") == []


def test_listing_by_category_is_served_by_the_category_index(product_database: Database) -> None:
    # The equality and the keyset order both come from ix_products_category_create_time: no scan of the
    # other categories, no sort. (PostgreSQL is told to avoid a sequential scan, which it would rightly
    # prefer on a table this small.)
    after = (utcnow(), uuid4())
    statement = list_query(after, 51, category="mugs")
    with product_database.engine.connect() as conn:
        if product_database.system_name == "sqlite":
            sql = str(statement.compile(conn, compile_kwargs={"literal_binds": True}))
            plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
            assert "USING INDEX ix_products_category_create_time (category=?" in plan, plan
            assert "TEMP B-TREE" not in plan, plan  # no sort step
        else:
            conn.exec_driver_sql("SET enable_seqscan = off")
            sql = str(statement.compile(conn, compile_kwargs={"literal_binds": True}))
            plan = " ".join(row[0] for row in conn.exec_driver_sql(f"EXPLAIN {sql}"))
            assert "ix_products_category_create_time" in plan, plan
            assert "Sort" not in plan, plan


def test_a_reservation_records_when_it_was_released(product_database: Database) -> None:
    opened, marked, t0, t1 = uuid4(), uuid4(), utcnow(), utcnow() + timedelta(seconds=3)
    uow = SqlProductUnitOfWork(product_database)
    with uow:
        assert uow.reservations.try_open(opened, t0)
        assert uow.reservations.add_released_marker(marked, t0)
        uow.commit()
    with product_database.engine.connect() as conn:
        rows = conn.execute(select(reservations.c.order_id, reservations.c.release_time))
        times = {row.order_id: row.release_time for row in rows}
    assert times == {str(opened): None, str(marked): t0}

    with uow:
        assert uow.reservations.try_release(opened, t1)
        uow.commit()
    with product_database.engine.connect() as conn:
        released = conn.scalar(
            select(reservations.c.release_time).where(reservations.c.order_id == str(opened))
        )
    assert released == t1


def test_after_commit_actions_run_once_the_transaction_commits_and_never_after_a_rollback(
    product_database: Database,
) -> None:
    # What the stock counters rely on: a reservation rolled back (past its deadline, rerun after a
    # conflict, lost to an outage) reports nothing; a committed one reports once.
    ran: list[str] = []
    product = make_product(stock=3)
    uow = SqlProductUnitOfWork(product_database)
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
    product_database: Database,
) -> None:
    errors: list[str] = []
    sink = logger.add(lambda m: errors.append(m.record["message"]), level="ERROR", format="{message}")
    ran: list[str] = []
    product = make_product(stock=3)
    uow = SqlProductUnitOfWork(product_database)

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


async def test_a_replay_refused_at_commit_by_the_deadline_is_not_counted(product_database: Database) -> None:
    # A replay writes nothing, yet its transaction (the reads) still ends at the deadline check: past
    # it the caller gets DEADLINE_EXCEEDED and the replay is not counted.
    counted: list[tuple[str, int]] = []

    class Recorded(NoOutcomes):
        def reservation(self, result: str, units: int = 0) -> None:
            counted.append((result, units))

    uow = SqlProductUnitOfWork(product_database)
    mediator = Mediator(
        {ReserveStock: lambda: ReserveStockHandler(uow, utcnow, outcomes=Recorded())}, default_pipeline()
    )
    product = make_product(stock=3)
    with uow:
        uow.products.add(product)
        uow.commit()
    command = ReserveStock(str(uuid4()), (StockLine(str(product.product_id), 2),))

    await mediator.send(command)
    with call_context.deadline_bound(0.0), pytest.raises(DeadlineExceeded):
        await mediator.send(command)
    await mediator.send(command)

    assert counted == [("reserved", 2), ("replayed", 0)]


def test_count_low_stock_counts_products_at_or_below_their_threshold(product_database: Database) -> None:
    # What the eshop.products.low_stock gauge reads (threshold 2 for make_product's products).
    uow = SqlProductUnitOfWork(product_database)
    with uow:
        assert uow.products.count_low_stock() == 0
        for stock in (0, 2, 3, 10):
            uow.products.add(make_product(stock=stock))
        assert uow.products.count_low_stock() == 2  # 0 and 2; not 3 or 10
        uow.products.add(make_product(stock=0, deleted=utcnow()))
        assert uow.products.count_low_stock() == 2  # a deleted product is not sold: no alert


def test_reservations_of_two_products_in_either_order_never_deadlock(product_database: Database) -> None:
    # The row locks are taken in product-id order whatever the request's: two reservations of the same
    # two products, asked in opposite orders, wait for each other instead of deadlocking (PostgreSQL
    # would end one with 40P01, seen without the ordered locks at this count; SQLite serialises its writers).
    first, second = make_product(stock=10_000), make_product(stock=10_000)
    with SqlProductUnitOfWork(product_database) as uow:
        uow.products.add(first)
        uow.products.add(second)
        uow.commit()
    orders = [
        [StockRequest(first.product_id, 1), StockRequest(second.product_id, 1)],
        [StockRequest(second.product_id, 1), StockRequest(first.product_id, 1)],
    ]
    failures: list[BaseException] = []

    def reserve_many(requests: list[StockRequest]) -> None:
        for _ in range(400):
            try:
                with SqlProductUnitOfWork(product_database) as uow:
                    assert uow.reservations.open_and_take(uuid4(), requests, utcnow())
                    uow.commit()
            except BaseException as error:
                failures.append(error)

    threads = [threading.Thread(target=reserve_many, args=(orders[i % 2],)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    with SqlProductUnitOfWork(product_database) as uow:
        left = (uow.products.get(first.product_id), uow.products.get(second.product_id))
    assert [p.stock_quantity for p in left if p is not None] == [10_000 - 2400] * 2
