"""The Alembic migrations build exactly the schema the code's tables describe, on every backend, and bring
a database of the previous release, with its data, to a schema the services work on."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from uuid import uuid4

import grpc
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, Text, text
from sqlalchemy.exc import IntegrityError

from common.clock import utcnow
from common.db.database import Database
from common.db.factory import open_database
from common.db.migrations import Migrations, SchemaNotCurrent
from common.db.types import UTCDateTime
from common.generated.eshop.order.v1 import order_pb2, order_pb2_grpc
from common.generated.eshop.product.v1 import product_pb2, product_pb2_grpc
from order.domain.model import Order, OrderLine
from order.infrastructure import schema as order_schema
from order.infrastructure.tables import metadata as order_metadata
from order.infrastructure.tables import order_lines, orders
from order.infrastructure.unit_of_work import SqlOrderUnitOfWork
from order.settings import OrderSettings
from product.infrastructure import schema as product_schema
from product.infrastructure.tables import metadata as product_metadata
from product.infrastructure.tables import reservation_lines, reservations
from product.settings import ProductSettings
from tests.support.servers import start_order, start_product


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
    database = open_database(make_database_url(name))
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
    database = open_database(make_database_url("order"))
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


# The products table as migrations 0001 and 0002 left it: what a database of the previous release holds.
PREVIOUS_PRODUCTS = Table(
    "products",
    MetaData(),
    Column("product_id", String(36), primary_key=True),
    Column("name", String(200)),
    Column("description", Text),
    Column("price_cents", BigInteger),
    Column("stock_quantity", Integer),
    Column("low_stock_threshold", Integer),
    Column("create_time", UTCDateTime),
    Column("update_time", UTCDateTime),
)


def test_an_upgrade_keeps_the_products_and_orders_the_previous_schema_holds(
    make_database_url: Callable[[str], str],
) -> None:
    product_url, order_url = make_database_url("product"), make_database_url("order")
    mug, lamp = str(uuid.uuid4()), str(uuid.uuid4())
    order_id, t0 = str(uuid.uuid4()), datetime(2026, 11, 1, 9, 30, tzinfo=timezone.utc)

    # The previous release's databases: two products, a confirmed order holding 3 mugs (its reservation
    # active), and a released reservation of lamps.
    product_db, order_db = open_database(product_url), open_database(order_url)
    try:
        product_schema.MIGRATIONS.upgrade(product_db, "0002")
        order_schema.create_schema(order_db)
        with product_db.engine.begin() as conn:
            conn.execute(
                PREVIOUS_PRODUCTS.insert(),
                [
                    dict(product_id=mug, name="Mug", description="Blue", price_cents=450, stock_quantity=7,
                         low_stock_threshold=2, create_time=t0, update_time=t0),
                    dict(product_id=lamp, name="Lamp", description="", price_cents=1999, stock_quantity=4,
                         low_stock_threshold=1, create_time=t0 + timedelta(seconds=1), update_time=t0),
                ],
            )  # fmt: skip
            released = str(uuid.uuid4())
            conn.execute(
                reservations.insert(),
                [
                    dict(order_id=order_id, status="ACTIVE", reserve_time=t0, release_time=None),
                    dict(order_id=released, status="RELEASED", reserve_time=t0, release_time=t0),
                ],
            )
            conn.execute(
                reservation_lines.insert(),
                [
                    dict(order_id=order_id, product_id=mug, line_no=0, product_name="Mug",
                         unit_price_cents=450, quantity=3),
                    dict(order_id=released, product_id=lamp, line_no=0, product_name="Lamp",
                         unit_price_cents=1999, quantity=1),
                ],
            )  # fmt: skip
        with order_db.engine.begin() as conn:
            conn.execute(
                orders.insert(),
                dict(order_id=order_id, customer_id=str(uuid.uuid4()), status="CONFIRMED", status_reason="",
                     failed_product_ids="", create_time=t0, update_time=t0),
            )  # fmt: skip
            conn.execute(
                order_lines.insert(),
                dict(order_id=order_id, line_no=0, product_id=mug, quantity=3, product_name="Mug",
                     unit_price_cents=450),
            )  # fmt: skip

        # The release step, then services that only check the schema.
        product_schema.create_schema(product_db)
    finally:
        product_db.dispose()
        order_db.dispose()

    product_server, _ = start_product(
        ProductSettings(listen_address="127.0.0.1:0", database_url=product_url, migrate_on_start=False)
    )
    try:
        order_server, _ = start_order(
            OrderSettings(
                listen_address="127.0.0.1:0",
                database_url=order_url,
                migrate_on_start=False,
                product_service_target=product_server.address,
            )
        )
        try:
            with (
                grpc.insecure_channel(product_server.address) as pc,
                grpc.insecure_channel(order_server.address) as oc,
            ):
                _check_the_upgraded_catalogue(
                    product_pb2_grpc.ProductServiceStub(pc),
                    order_pb2_grpc.OrderServiceStub(oc),
                    mug,
                    lamp,
                    order_id,
                )
        finally:
            order_server.stop(0)
    finally:
        product_server.stop(0)


def _check_the_upgraded_catalogue(
    products: product_pb2_grpc.ProductServiceStub,
    orders_stub: order_pb2_grpc.OrderServiceStub,
    mug: str,
    lamp: str,
    order_id: str,
) -> None:
    got = products.BatchGetProducts(product_pb2.BatchGetProductsRequest(product_ids=[mug, lamp]), timeout=10)
    found = {p.product_id: p for p in got.products}
    # Every product as it was, live, in no category, with an etag.
    assert (found[mug].name, found[mug].description, found[mug].price, found[mug].stock_quantity) == (
        "Mug", "Blue", "4.50", 7,
    )  # fmt: skip
    assert (found[lamp].name, found[lamp].price, found[lamp].stock_quantity) == ("Lamp", "19.99", 4)
    for product in found.values():
        assert product.category == "" and not product.HasField("delete_time") and product.etag
    listed = products.ListProducts(product_pb2.ListProductsRequest(), timeout=10)
    assert [p.product_id for p in listed.products] == [mug, lamp]

    # The old order: read as it was, and its cancellation returns its 3 mugs.
    order = orders_stub.GetOrder(order_pb2.GetOrderRequest(order_id=order_id), timeout=10)
    assert (order.status, order.total_amount) == (order_pb2.ORDER_STATUS_CONFIRMED, "13.50")
    orders_stub.CancelOrder(order_pb2.CancelOrderRequest(order_id=order_id), timeout=10)
    after_cancel = products.GetProduct(product_pb2.GetProductRequest(product_id=mug), timeout=10)
    assert after_cancel.stock_quantity == 10 and after_cancel.etag != found[mug].etag

    # The new operations on the old rows.
    updated = products.UpdateProduct(
        product_pb2.UpdateProductRequest(
            product=product_pb2.Product(
                product_id=lamp, price="21.00", category="lighting", etag=found[lamp].etag
            )
        ),
        timeout=10,
    )
    assert (updated.price, updated.category) == ("21.00", "lighting")
    new_order = orders_stub.CreateOrder(
        order_pb2.CreateOrderRequest(
            customer_id=str(uuid.uuid4()), items=[order_pb2.OrderLine(product_id=lamp, quantity=1)]
        ),
        timeout=10,
    )
    assert (new_order.status, new_order.total_amount) == (order_pb2.ORDER_STATUS_CONFIRMED, "21.00")
    products.DeleteProduct(product_pb2.DeleteProductRequest(product_id=mug), timeout=10)
    by_category = products.ListProducts(product_pb2.ListProductsRequest(category="lighting"), timeout=10)
    assert [p.product_id for p in by_category.products] == [lamp]


def _a_newer_versions_migration(database: Database, version_table: str, table: str, revision: str) -> None:
    """What the next release's migration does (expand: a column the current code does not know) and
    records, as a migration job of that release would leave the database."""
    with database.engine.begin() as conn:
        conn.execute(text(f"ALTER TABLE {table} ADD COLUMN next_release_note TEXT"))
        conn.execute(text(f"UPDATE {version_table} SET version_num = :revision"), {"revision": revision})


@pytest.mark.parametrize("migrate_on_start", [False, True], ids=["checks", "migrates"])
def test_a_replica_of_the_previous_version_serves_on_a_schema_migrated_after_its_own(
    make_database_url: Callable[[str], str], migrate_on_start: bool
) -> None:
    """A rolling upgrade (or a rollback of the images): the schema is at a revision after this version's
    newest, which a migration that only expands keeps working for it. Whether told to migrate or only
    to check, this version starts, serves and changes nothing of the schema."""
    product_url = make_database_url("product")
    database = open_database(product_url)
    try:
        product_schema.create_schema(database)
        newer = f"{int(product_schema.MIGRATIONS.revisions()[-1]) + 1:04d}"
        _a_newer_versions_migration(database, product_schema.VERSION_TABLE, "products", newer)
    finally:
        database.dispose()

    running, _ = start_product(
        ProductSettings(
            listen_address="127.0.0.1:0", database_url=product_url, migrate_on_start=migrate_on_start
        )
    )
    try:
        with grpc.insecure_channel(running.address) as channel:
            stub = product_pb2_grpc.ProductServiceStub(channel)
            made = stub.CreateProduct(product_pb2.CreateProductRequest(name="Mug", price="4.50"), timeout=10)
            got = stub.GetProduct(product_pb2.GetProductRequest(product_id=made.product_id), timeout=10)
            assert got.name == "Mug"
    finally:
        running.stop(0)
    database = open_database(product_url)
    try:
        with database.engine.connect() as conn:
            version = conn.execute(text(f"SELECT version_num FROM {product_schema.VERSION_TABLE}")).scalar()
    finally:
        database.dispose()
    assert version == newer


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        (
            None,
            "the database is at no revision (never migrated), this version needs revision {head} or later",
        ),
        ("0001", "the database is at revision 0001, this version needs revision {head} or later"),
        (
            "a1b2c3",
            "the database is at revision a1b2c3, which this version (newest revision {head}) does not",
        ),
    ],
    ids=["never-migrated", "behind", "not-in-its-history"],
)
def test_a_service_that_only_checks_refuses_a_schema_behind_its_own_or_one_it_cannot_place(
    make_database_url: Callable[[str], str], stamp: str | None, expected: str
) -> None:
    database = open_database(make_database_url("order"))
    try:
        if stamp is not None:
            order_schema.MIGRATIONS.upgrade(database, "0001")
            with database.engine.begin() as conn:
                conn.execute(text(f"UPDATE {order_schema.VERSION_TABLE} SET version_num = :v"), {"v": stamp})
        with pytest.raises(SchemaNotCurrent) as refused:
            order_schema.MIGRATIONS.require_head(database)
    finally:
        database.dispose()
    assert str(refused.value).startswith(expected.format(head=order_schema.MIGRATIONS.revisions()[-1]))


@pytest.mark.parametrize("migrations", [product_schema.MIGRATIONS, order_schema.MIGRATIONS], ids=str)
def test_revisions_are_numbered_in_order_each_after_the_one_it_revises(migrations: Migrations) -> None:
    """What lets a service place a revision it does not know after its own (docs/deployment.md)."""
    script = ScriptDirectory.from_config(migrations._config())
    revisions = list(reversed(list(script.walk_revisions())))
    assert [r.revision for r in revisions] == [f"{n:04d}" for n in range(1, len(revisions) + 1)]
    assert [r.down_revision for r in revisions] == [None, *(r.revision for r in revisions[:-1])]
