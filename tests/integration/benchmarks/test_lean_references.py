"""The benchmark's lean references (``benchmarks.lean``) answer as the real services do.

A comparison with a reference is only honest if the reference does the same work: for a confirmed
order, a rejected one (insufficient stock, and an unknown product) and a cancelled one, each lean
variant's answers and stock effects must equal the real services'; and its tables and indexes must
be the real ones. All run as subprocesses, as the benchmark runs them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import uuid4

import grpc
import pytest
from benchmarks.lean.db import Database
from benchmarks.lean.schema import ddl
from benchmarks.stack import EshopStack, start_lean_stack, start_stack

from common.db.factory import open_database
from common.generated.eshop.order.v1 import order_pb2 as pb
from common.generated.eshop.order.v1 import order_pb2_grpc as pb_grpc
from common.generated.eshop.product.v1 import product_pb2 as product_pb
from common.generated.eshop.product.v1 import product_pb2_grpc as product_grpc
from order.infrastructure.schema import create_schema as create_order_schema
from product.infrastructure.schema import create_schema as create_product_schema
from tests.support.backend import backend

CORRELATION_ID = "lean-check.1"


@contextmanager
def _stubs(stack: EshopStack) -> Iterator[tuple[pb_grpc.OrderServiceStub, product_grpc.ProductServiceStub]]:
    with (
        grpc.insecure_channel(stack.order.address) as orders,
        grpc.insecure_channel(stack.product.address) as products,
    ):
        yield pb_grpc.OrderServiceStub(orders), product_grpc.ProductServiceStub(products)


def _story(stack: EshopStack) -> list[Any]:
    """Confirm, reject twice, cancel; every answer and the stock after each step, ids as names."""
    names: dict[str, str] = {}
    seen: list[Any] = []
    with _stubs(stack) as (orders, products):
        for name, stock, price in (("A", 5, "9.99"), ("B", 2, "0.5")):
            request = product_pb.CreateProductRequest(
                name=f"Widget {name}", price=price, stock_quantity=stock
            )
            names[products.CreateProduct(request, timeout=10).product_id] = name
        ids = {name: product_id for product_id, name in names.items()}
        names[unknown := str(uuid4())] = "unknown"

        def stock() -> dict[str, int]:
            return {
                name: products.GetProduct(
                    product_pb.GetProductRequest(product_id=i), timeout=10
                ).stock_quantity
                for name, i in ids.items()
            }

        def create(*lines: tuple[str, int]) -> pb.Order:
            request = pb.CreateOrderRequest(
                customer_id=str(uuid4()), items=[pb.OrderLine(product_id=p, quantity=q) for p, q in lines]
            )
            order, call = orders.CreateOrder.with_call(
                request, timeout=10, metadata=(("x-correlation-id", CORRELATION_ID),)
            )
            seen.append(("x-correlation-id", CORRELATION_ID) in call.initial_metadata())
            return order

        confirmed = create((ids["A"], 3), (ids["B"], 1))
        seen += [_shown(confirmed, names), stock()]
        seen += [_shown(create((ids["A"], 3)), names), stock()]  # 2 left
        seen += [_shown(create((ids["B"], 1), (unknown, 1)), names), stock()]
        cancelled = orders.CancelOrder(pb.CancelOrderRequest(order_id=confirmed.order_id), timeout=10)
        seen += [_shown(cancelled, names), stock()]
    return seen


def _shown(order: pb.Order, names: dict[str, str]) -> dict[str, Any]:
    """What must match: everything but the ids and times each run makes afresh (ids become names)."""
    text = order.status_reason
    for product_id, name in names.items():
        text = text.replace(product_id, name)
    return {
        "status": pb.OrderStatus.Name(order.status),
        "items": [(names[i.product_id], i.product_name, i.unit_price, i.quantity) for i in order.items],
        "total": order.total_amount,
        "reason": text,
        "failed": [names[p] for p in order.failed_product_ids],
    }


@pytest.mark.slow  # three pairs of servers in subprocesses (five on PostgreSQL): about 10 s
def test_each_lean_reference_answers_and_moves_stock_as_the_real_services(
    tmp_path: Path, make_database_url: Callable[[str], str]
) -> None:
    real = start_stack(tmp_path, make_database_url("product"), make_database_url("order"))
    try:
        expected = _story(real)
    finally:
        real.stop()
    assert expected[1]["status"] == "ORDER_STATUS_CONFIRMED", expected  # the story is the one intended
    assert expected[4]["reason"] == "insufficient stock: A requested 3, available 2", expected
    assert expected[7]["reason"] == "unknown product: unknown", expected
    assert expected[9] == {"status": "ORDER_STATUS_CANCELLED", "items": expected[1]["items"],
                           "total": "30.47", "reason": "cancelled by request", "failed": []}  # fmt: skip
    assert expected[10] == {"A": 5, "B": 2}

    # The asynchronous drivers' references are PostgreSQL's only.
    asynchronous = ("aio-psycopg", "aio-asyncpg") if backend() == "postgres" else ()
    for variant in ("sync", "aio", *asynchronous):
        urls = (make_database_url(f"lean-{variant}-product"), make_database_url(f"lean-{variant}-order"))
        lean = start_lean_stack(tmp_path, variant, *urls)
        try:
            assert _story(lean) == expected, variant
        finally:
            lean.stop()


def _structure(path: Path) -> dict[str, Any]:
    """Tables with their columns (name, declared type, not null, primary key) and indexes' columns."""
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        shape: dict[str, Any] = {}
        for table in tables:
            if table.endswith("alembic_version") or table.startswith("sqlite_"):
                continue
            columns = [(r[1], r[2].upper(), r[3], r[5]) for r in conn.execute(f"PRAGMA table_info({table})")]
            indexes = sorted(
                (r[2], tuple(c[2] for c in conn.execute(f"PRAGMA index_info('{r[1]}')")))
                for r in conn.execute(f"PRAGMA index_list({table})")
            )
            foreign = sorted((r[2], r[3], r[4]) for r in conn.execute(f"PRAGMA foreign_key_list({table})"))
            shape[table] = {"columns": columns, "indexes": indexes, "foreign_keys": foreign}
        return shape
    finally:
        conn.close()


def test_the_lean_tables_and_indexes_are_the_real_ones(tmp_path: Path) -> None:
    for service, create in (("order", create_order_schema), ("product", create_product_schema)):
        real = open_database(f"sqlite:///{tmp_path / f'real-{service}.db'}")
        create(real)
        real.dispose()
        Database(f"sqlite:///{tmp_path / f'lean-{service}.db'}").fresh_schema("-", ddl(service, False))
        assert _structure(tmp_path / f"lean-{service}.db") == _structure(tmp_path / f"real-{service}.db")
