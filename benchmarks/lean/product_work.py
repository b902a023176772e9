"""The Product service's transactions, as the real one runs them (same statements, same order).

Each function runs inside the caller's transaction (a coroutine of its ``Tx``, see ``db``) and raises
``Refusal`` to roll it back.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NoReturn

import grpc
from google.rpc import error_details_pb2

from benchmarks.lean.db import Stamps, Tx
from benchmarks.lean.wire import Refusal, cents, money, timestamp
from common.generated.eshop.product.v1 import product_pb2 as pb

ACTIVE, RELEASED = "ACTIVE", "RELEASED"
PRODUCT_TYPE = "eshop.product.v1.Product"
_PRODUCTS = "SELECT product_id, stock_quantity, delete_time FROM products WHERE product_id IN ({})"
_CLAIM = (
    "INSERT INTO reservations (order_id, status, reserve_time, release_time) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (order_id) DO NOTHING"
)
# The check and the decrement are one atomic step: stock never goes below 0, whatever the concurrency.
# It returns the name and price reserved, those of the same moment as the stock taken.
_TAKE = (
    "UPDATE products SET stock_quantity = stock_quantity - ?, update_time = ?, version = version + 1 "
    "WHERE product_id = ? AND stock_quantity >= ? AND delete_time IS NULL RETURNING name, price_cents"
)
# PostgreSQL: the claim, each line's decrement and the lines in one statement, the rows locked first in
# product-id order (as the services: see product.infrastructure.repositories).
_OPEN_AND_TAKE = (
    "WITH claim AS (INSERT INTO reservations (order_id, status, reserve_time, release_time) "
    "VALUES (?, ?, ?, NULL) ON CONFLICT (order_id) DO NOTHING RETURNING order_id), "
    "wanted AS (SELECT * FROM unnest(CAST(? AS INTEGER[]), CAST(? AS VARCHAR[]), CAST(? AS INTEGER[])) "
    "AS w (line_no, product_id, quantity)), "
    "locked AS MATERIALIZED (SELECT product_id FROM products "
    "WHERE product_id = ANY(CAST(? AS VARCHAR[])) ORDER BY product_id FOR UPDATE), "
    "taken AS (UPDATE products SET stock_quantity = products.stock_quantity - wanted.quantity, "
    "update_time = ?, version = products.version + 1 FROM claim, wanted "
    "WHERE products.product_id = wanted.product_id AND products.stock_quantity >= wanted.quantity "
    "AND products.delete_time IS NULL AND (SELECT count(*) FROM locked) >= 0 "
    "RETURNING products.product_id, products.name, products.price_cents, wanted.line_no, "
    "wanted.quantity AS taken_quantity), "
    "recorded AS (INSERT INTO reservation_lines "
    "(order_id, product_id, line_no, product_name, unit_price_cents, quantity) "
    "SELECT ?, product_id, line_no, name, price_cents, taken_quantity FROM taken) "
    "SELECT claimed.n, taken.product_id, taken.name, taken.price_cents FROM "
    "(SELECT count(*) AS n FROM claim) AS claimed LEFT JOIN taken ON true"
)
_PUT_BACK = (
    "UPDATE products SET stock_quantity = stock_quantity + ?, update_time = ?, version = version + 1 "
    "WHERE product_id = ?"
)
_ADD_LINES = (
    "INSERT INTO reservation_lines (order_id, product_id, line_no, product_name, unit_price_cents, quantity) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
_RESERVATION = "SELECT status, reserve_time FROM reservations WHERE order_id = ?"
_LINES = (
    "SELECT product_id, product_name, unit_price_cents, quantity FROM reservation_lines "
    "WHERE order_id = ? ORDER BY line_no"
)
_RELEASE = (
    "UPDATE reservations SET status = 'RELEASED', release_time = ? WHERE order_id = ? AND status = 'ACTIVE'"
)
_INSERT_PRODUCT = (
    "INSERT INTO products (product_id, name, description, price_cents, stock_quantity, low_stock_threshold, "
    "create_time, update_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_PRODUCT = (
    "SELECT product_id, name, description, price_cents, stock_quantity, low_stock_threshold, create_time, "
    "update_time FROM products WHERE product_id = ?"
)

Lines = Sequence[tuple[str, int]]  # (product id, quantity), in request order


async def _products(tx: Tx, ids: Sequence[str]) -> dict[str, tuple[int, Any]]:
    """id -> (stock, delete time) of those that exist."""
    rows = await tx.all(_PRODUCTS.format(", ".join("?" * len(ids))), sorted(ids))
    return {row[0]: (row[1], row[2]) for row in rows}


async def reserve(db: Stamps, tx: Tx, order_id: str, lines: Lines, now: datetime) -> pb.ReserveStockResponse:
    """All lines or none; a repeat with the same lines answers the first reservation."""
    stamp = db.stamp(now)
    taken = await (_open_and_take if db.postgres else _open_then_take)(tx, order_id, lines, stamp)
    if taken is None:
        return await _replay(db, tx, order_id, lines)
    if len(taken) < len(lines):
        await _refuse(tx, lines, taken)
    held = [(p, taken[p][0], taken[p][1], q) for p, q in lines]
    return _reservation(order_id, held, now)


async def _open_and_take(
    tx: Tx, order_id: str, lines: Lines, stamp: Any
) -> dict[str, tuple[str, int]] | None:
    """id -> (name, price) of the products taken, the lines recorded; None if the order id is taken."""
    ids = [p for p, _ in lines]
    params = (
        order_id,
        ACTIVE,
        stamp,
        list(range(len(lines))),
        ids,
        [q for _, q in lines],
        ids,
        stamp,
        order_id,
    )
    rows = await tx.all(_OPEN_AND_TAKE, params)
    if not rows[0][0]:
        return None
    return {row[1]: (row[2], row[3]) for row in rows if row[1] is not None}


async def _open_then_take(
    tx: Tx, order_id: str, lines: Lines, stamp: Any
) -> dict[str, tuple[str, int]] | None:
    """The same, one statement after the other: decrements in product-id order, so that concurrent
    multi-line reservations cannot deadlock; the lines once all are taken."""
    if await tx.run(_CLAIM, (order_id, ACTIVE, stamp, None)) == 0:
        return None
    taken: dict[str, tuple[str, int]] = {}
    for p, q in sorted(lines):
        row = await tx.one(_TAKE, (q, stamp, p, q))
        if row is not None:
            taken[p] = (row[0], row[1])
    if len(taken) == len(lines):
        rows = [(order_id, p, i, taken[p][0], taken[p][1], q) for i, (p, q) in enumerate(lines)]
        await tx.many(_ADD_LINES, rows)
    return taken


async def _refuse(tx: Tx, lines: Lines, taken: dict[str, tuple[str, int]]) -> NoReturn:
    """Unknown or deleted products first (NOT_FOUND, in request order), else the shortages."""
    short = [(p, q) for p, q in lines if p not in taken]
    current = await _products(tx, [p for p, _ in short])
    missing = [p for p, _ in short if p not in current or current[p][1] is not None]
    if missing:
        raise Refusal(
            grpc.StatusCode.NOT_FOUND,
            f"product{'s' if len(missing) > 1 else ''} not found: {', '.join(missing)}",
            [error_details_pb2.ResourceInfo(resource_type=PRODUCT_TYPE, resource_name=p) for p in missing],
        )
    violations = [
        error_details_pb2.PreconditionFailure.Violation(
            type="STOCK", subject=p, description=f"requested {q}, available {current[p][0]}"
        )
        for p, q in sorted(short)
    ]
    summary = "; ".join(f"{v.subject}: {v.description}" for v in violations)
    raise Refusal(
        grpc.StatusCode.FAILED_PRECONDITION,
        f"insufficient stock: {summary}",
        [error_details_pb2.PreconditionFailure(violations=violations)],
    )


async def _replay(db: Stamps, tx: Tx, order_id: str, lines: Lines) -> pb.ReserveStockResponse:
    head = await tx.one(_RESERVATION, (order_id,))
    assert head is not None
    held = await tx.all(_LINES, (order_id,))
    if len(held) != len(lines) or {(r[0], r[3]) for r in held} != set(lines):
        raise Refusal(
            grpc.StatusCode.ALREADY_EXISTS,
            f"order {order_id} already has a stock reservation with different items",
        )
    if head[0] == RELEASED:
        raise Refusal(
            grpc.StatusCode.FAILED_PRECONDITION,
            f"the stock reservation of order {order_id} was released; reserve under a new order id",
            [
                error_details_pb2.PreconditionFailure(
                    violations=[
                        error_details_pb2.PreconditionFailure.Violation(
                            type="RESERVATION_RELEASED",
                            subject=order_id,
                            description="reservation was released",
                        )
                    ]
                )
            ],
        )
    return _reservation(order_id, [tuple(r) for r in held], db.moment(head[1]))


def _reservation(order_id: str, held: Sequence[tuple[Any, ...]], at: datetime) -> pb.ReserveStockResponse:
    items = [
        pb.ReservedItem(product_id=p, name=name, unit_price=money(price), quantity=q)
        for p, name, price, q in held
    ]
    return pb.ReserveStockResponse(order_id=order_id, items=items, reserve_time=timestamp(at))


async def release(db: Stamps, tx: Tx, order_id: str, now: datetime) -> bool:
    """Puts back exactly what the order reserved, once; a release before the reserve leaves a marker
    that makes a late reserve fail."""
    stamp = db.stamp(now)
    head = await tx.one(_RESERVATION, (order_id,))
    if head is None and await tx.run(_CLAIM, (order_id, RELEASED, stamp, stamp)) == 1:
        return False
    if await tx.run(_RELEASE, (stamp, order_id)) != 1:
        return False
    for product_id, _, _, quantity in sorted(await tx.all(_LINES, (order_id,))):
        await tx.run(_PUT_BACK, (quantity, stamp, product_id))
    return True


async def create_product(db: Stamps, tx: Tx, request: pb.CreateProductRequest, now: datetime) -> pb.Product:
    """For seeding the catalogue (the benchmark's CreateProduct calls); checks kept to the essentials."""
    if not request.name.strip() or request.stock_quantity < 0 or request.low_stock_threshold < 0:
        raise Refusal(grpc.StatusCode.INVALID_ARGUMENT, "invalid product")
    product_id, stamp = str(uuid.uuid4()), db.stamp(now)
    row = (product_id, request.name.strip(), request.description.strip(), cents(request.price),
           request.stock_quantity, request.low_stock_threshold, stamp, stamp)  # fmt: skip
    await tx.run(_INSERT_PRODUCT, row)
    return _product(db, row)


async def get_product(db: Stamps, tx: Tx, product_id: str) -> pb.Product:
    row = await tx.one(_PRODUCT, (product_id,))
    if row is None:
        raise Refusal(grpc.StatusCode.NOT_FOUND, f"product not found: {product_id}")
    return _product(db, row)


def _product(db: Stamps, row: Sequence[Any]) -> pb.Product:
    product_id, name, description, price, stock, threshold, created, updated = row
    return pb.Product(
        product_id=product_id, name=name, description=description, price=money(price),
        stock_quantity=stock, low_stock_threshold=threshold,
        create_time=timestamp(db.moment(created)), update_time=timestamp(db.moment(updated)),
    )  # fmt: skip
