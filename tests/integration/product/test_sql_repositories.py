"""The SQL repositories' conditional writes on the configured backend (SQLite or PostgreSQL).

These answer True/False from the database's own row counts; a driver that reports -1 would turn
every reservation into a conflict, so each outcome is checked both ways.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from uuid import uuid4

import pytest

from common.clock import utcnow
from common.db.database import Database
from product.infrastructure.schema import create_schema
from product.infrastructure.unit_of_work import SqlProductUnitOfWork
from tests.unit.product.fakes import make_product


@pytest.fixture
def database(make_database_url: Callable[[str], str]) -> Iterator[Database]:
    database = Database(make_database_url("product"))
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
