"""The Alembic migrations build exactly the schema the code's tables describe, on every backend."""

from __future__ import annotations

from collections.abc import Callable
from uuid import uuid4

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData
from sqlalchemy.exc import IntegrityError

from common.clock import utcnow
from common.db.database import Database
from order.domain.model import Order, OrderLine
from order.infrastructure import schema as order_schema
from order.infrastructure.tables import metadata as order_metadata
from order.infrastructure.tables import order_lines, orders
from order.infrastructure.unit_of_work import SqlOrderUnitOfWork
from product.infrastructure import schema as product_schema
from product.infrastructure.tables import metadata as product_metadata


@pytest.mark.parametrize(
    ("name", "migrate", "metadata", "version_table"),
    [
        ("product", product_schema.create_schema, product_metadata, product_schema.VERSION_TABLE),
        ("order", order_schema.create_schema, order_metadata, order_schema.VERSION_TABLE),
    ],
)
def test_migrations_match_tables_and_are_idempotent(
    make_database_url: Callable[[str], str],
    name: str,
    migrate: Callable[[Database], None],
    metadata: MetaData,
    version_table: str,
) -> None:
    database = Database(make_database_url(name))
    try:
        migrate(database)
        migrate(database)  # a restart (or a second replica) finds nothing to do
        with database.engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        database.dispose()
    unexpected = [d for d in differences if not (d[0] == "remove_table" and d[1].name == version_table)]
    assert unexpected == []


def test_orders_placed_before_request_ids_were_per_customer_keep_their_lines_and_keys(
    make_database_url: Callable[[str], str],
) -> None:
    """Revision 0004 rebuilds ``orders`` on SQLite (and swaps a constraint on PostgreSQL): what was
    there comes through, lines still belong to their orders, and a key taken by one customer is free
    for another."""
    database = Database(make_database_url("order"))
    try:
        order_schema.MIGRATIONS.upgrade(database, "0003")
        request_id = uuid4()
        placed = Order.place(
            uuid4(), uuid4(), (OrderLine(uuid4(), 2), OrderLine(uuid4(), 1)), utcnow(), request_id
        )
        with database.engine.begin() as conn:
            conn.execute(
                orders.insert(),
                {
                    "order_id": str(placed.order_id),
                    "customer_id": str(placed.customer_id),
                    "status": placed.status.value,
                    "status_reason": "",
                    "failed_product_ids": "",
                    "request_id": str(request_id),
                    "create_time": placed.create_time,
                    "update_time": placed.update_time,
                },
            )
            conn.execute(
                order_lines.insert(),
                [
                    {
                        "order_id": str(placed.order_id),
                        "line_no": i,
                        "product_id": str(line.product_id),
                        "quantity": line.quantity,
                    }
                    for i, line in enumerate(placed.lines)
                ],
            )

        order_schema.create_schema(database)

        uow = SqlOrderUnitOfWork(database)
        with uow:
            assert uow.orders.get_by_request_id(placed.customer_id, request_id) == placed
            another = Order.place(uuid4(), uuid4(), (OrderLine(uuid4(), 1),), utcnow(), request_id)
            assert uow.orders.add(another)
            twin = Order.place(uuid4(), placed.customer_id, (OrderLine(uuid4(), 1),), utcnow(), request_id)
            assert not uow.orders.add(twin)
            uow.commit()
        with database.engine.begin() as conn, pytest.raises(IntegrityError):  # lines still need their order
            conn.execute(
                order_lines.insert(),
                {"order_id": str(uuid4()), "line_no": 0, "product_id": str(uuid4()), "quantity": 1},
            )
    finally:
        database.dispose()
