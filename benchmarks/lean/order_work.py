"""The Order service's transactions and answers, as the real one runs them (same statements, same order).

Each function runs inside the caller's transaction (a coroutine of its ``Tx``, see ``db``) and raises
``Refusal`` to roll it back.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import grpc
from google.rpc import error_details_pb2

from benchmarks.lean.db import Stamps, Tx
from benchmarks.lean.wire import CALL_TIMEOUT_S, CENT, Refusal, cents, check_lines, details_of, is_uuid, money
from benchmarks.lean.wire import timestamp as ts
from common.generated.eshop.order.v1 import order_pb2 as pb
from common.generated.eshop.product.v1 import product_pb2 as product_pb

PENDING, CONFIRMED, REJECTED, CANCELLED = "PENDING", "CONFIRMED", "REJECTED", "CANCELLED"
_STATUS = {PENDING: pb.ORDER_STATUS_PENDING, CONFIRMED: pb.ORDER_STATUS_CONFIRMED,
           REJECTED: pb.ORDER_STATUS_REJECTED, CANCELLED: pb.ORDER_STATUS_CANCELLED}  # fmt: skip
UNAVAILABLE_REASON = "product service unavailable"
DEFAULT_CANCEL_REASON = "cancelled by request"
MAX_REASON_LENGTH = 500
LEASE = timedelta(seconds=2 * CALL_TIMEOUT_S + 1)  # a release tried at once is left alone this long

_COLUMNS = "order_id, customer_id, status, status_reason, failed_product_ids, create_time, update_time"
_INSERT_ORDER = (
    f"INSERT INTO orders ({_COLUMNS}, request_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (customer_id, request_id) DO NOTHING"
)
_INSERT_LINES = "INSERT INTO order_lines (order_id, line_no, product_id, quantity) VALUES (?, ?, ?, ?)"
# Compare-and-set on the status the order had: a concurrent change makes it match nothing.
_SAVE = (
    "UPDATE orders SET status = ?, status_reason = ?, failed_product_ids = ?, update_time = ? "
    "WHERE order_id = ? AND status = ?"
)
_PRICE_LINE = (
    "UPDATE order_lines SET product_id = ?, quantity = ?, product_name = ?, unit_price_cents = ? "
    "WHERE order_id = ? AND line_no = ?"
)
# PostgreSQL: the order with its lines, and the confirmation with the prices, each one statement (as
# the services: data-modifying WITH, the lines as arrays); row counts are the lines written.
_LINE_ARRAYS = "unnest(CAST(? AS INTEGER[]), CAST(? AS VARCHAR[]), CAST(? AS INTEGER[]){})"
_PLACE_WITH_LINES = (
    f"WITH placed AS ({_INSERT_ORDER} RETURNING order_id) "
    "INSERT INTO order_lines (order_id, line_no, product_id, quantity) "
    "SELECT placed.order_id, line.line_no, line.product_id, line.quantity FROM placed, "
    + _LINE_ARRAYS.format("")
    + " AS line (line_no, product_id, quantity)"
)
_SAVE_WITH_LINES = (
    f"WITH saved AS ({_SAVE} RETURNING order_id) "
    "UPDATE order_lines SET product_id = line.product_id, quantity = line.quantity, "
    "product_name = line.name, unit_price_cents = line.price FROM saved, "
    + _LINE_ARRAYS.format(", CAST(? AS VARCHAR[]), CAST(? AS BIGINT[])")
    + " AS line (line_no, product_id, quantity, name, price) "
    "WHERE order_lines.order_id = saved.order_id AND order_lines.line_no = line.line_no"
)
_ORDER_BY = f"SELECT {_COLUMNS} FROM orders WHERE {{}}"
_LINES = (
    "SELECT product_id, quantity, product_name, unit_price_cents FROM order_lines "
    "WHERE order_id = ? ORDER BY line_no"
)
_ADD_RELEASE = (
    "INSERT INTO release_outbox "
    "(order_id, correlation_id, attempts, next_attempt_at, created_at, last_error) "
    "VALUES (?, ?, 0, ?, ?, '') RETURNING entry_id"
)
_RELEASE_DONE = "DELETE FROM release_outbox WHERE entry_id = ?"


@dataclass(frozen=True)
class Order:
    order_id: str
    customer_id: str
    status: str
    lines: tuple[tuple[str, int], ...]
    create_time: datetime
    update_time: datetime
    items: tuple[tuple[str, str, Decimal, int], ...] = ()  # product id, name, unit price, quantity
    reason: str = ""
    failed: tuple[str, ...] = field(default=())

    def to_pb(self) -> pb.Order:
        if self.items:
            items = [pb.OrderItem(product_id=p, product_name=n, unit_price=str(u), quantity=q)
                     for p, n, u, q in self.items]  # fmt: skip
            total = str(sum((u * q for _, _, u, q in self.items), Decimal(0)).quantize(CENT))
        else:  # not priced: the lines as asked, and a total of "0"
            items = [pb.OrderItem(product_id=p, quantity=q) for p, q in self.lines]
            total = "0"
        return pb.Order(
            order_id=self.order_id, customer_id=self.customer_id, status=_STATUS[self.status], items=items,
            total_amount=total, status_reason=self.reason, failed_product_ids=self.failed,
            create_time=ts(self.create_time), update_time=ts(self.update_time),
        )  # fmt: skip


def check_create(request: pb.CreateOrderRequest) -> list[str]:
    problems = [] if is_uuid(request.customer_id) else ["customer_id: must be a UUID"]
    if request.request_id and not is_uuid(request.request_id):
        problems.append("request_id: must be a UUID")
    return problems + check_lines(request.items)


def check_cancel(request: pb.CancelOrderRequest) -> list[str]:
    problems = [] if is_uuid(request.order_id) else ["order_id: must be a UUID"]
    if len(request.reason.strip()) > MAX_REASON_LENGTH:
        problems.append(f"reason: must be at most {MAX_REASON_LENGTH} characters")
    return problems


def place(request: pb.CreateOrderRequest, now: datetime) -> Order:
    lines = tuple((i.product_id.lower(), i.quantity) for i in request.items)
    return Order(str(uuid.uuid4()), request.customer_id.lower(), PENDING, lines, now, now)


async def insert_pending(db: Stamps, tx: Tx, order: Order, request_id: str) -> Order | None:
    """Stores the PENDING order; when the customer's ``request_id`` is taken, returns the order that
    took it instead (request ids are each customer's own)."""
    stamp = db.stamp(order.create_time)
    row = (order.order_id, order.customer_id, PENDING, "", "", stamp, stamp, request_id.lower() or None)
    if db.postgres:
        lines = (list(range(len(order.lines))), [p for p, _ in order.lines], [q for _, q in order.lines])
        if await tx.run(_PLACE_WITH_LINES, (*row, *lines)) > 0:
            return None
        return await load(
            db, tx, order.customer_id, request_id.lower(), by="customer_id = ? AND request_id = ?"
        )
    if await tx.run(_INSERT_ORDER, row) == 0:
        return await load(
            db, tx, order.customer_id, request_id.lower(), by="customer_id = ? AND request_id = ?"
        )
    await tx.many(_INSERT_LINES, [(order.order_id, i, p, q) for i, (p, q) in enumerate(order.lines)])
    return None


def reserve_request(order: Order) -> product_pb.ReserveStockRequest:
    items = [product_pb.StockItem(product_id=p, quantity=q) for p, q in order.lines]
    return product_pb.ReserveStockRequest(order_id=order.order_id, items=items)


@dataclass(frozen=True)
class Unavailable:
    """No answer after the retries, or past the deadline: the reservation may have happened."""

    deadline_exceeded: bool
    message: str


def outcome(order: Order, error: grpc.RpcError, now: datetime) -> Order | Unavailable:
    """The order REJECTED as the Product service's refusal says (read from its details), or Unavailable."""
    code: grpc.StatusCode = error.code()
    details = details_of(error)
    if code is grpc.StatusCode.FAILED_PRECONDITION:
        violations = []
        for packed in details:
            if packed.Is(error_details_pb2.PreconditionFailure.DESCRIPTOR):
                failure = error_details_pb2.PreconditionFailure()
                packed.Unpack(failure)
                violations += [v for v in failure.violations if v.type == "STOCK"]
        if not violations:
            return _rejected(order, f"stock reservation refused: {error.details()}", (), now)
        reason = "insufficient stock: " + "; ".join(f"{v.subject} {v.description}" for v in violations)
        return _rejected(order, reason, tuple(v.subject for v in violations), now)
    if code is grpc.StatusCode.NOT_FOUND:
        missing = []
        for packed in details:
            if packed.Is(error_details_pb2.ResourceInfo.DESCRIPTOR):
                info = error_details_pb2.ResourceInfo()
                packed.Unpack(info)
                missing.append(info.resource_name)
        return _rejected(order, "unknown product: " + ", ".join(missing), tuple(missing), now)
    if code is grpc.StatusCode.ALREADY_EXISTS:
        return _rejected(order, "a different stock reservation exists for this order id", (), now)
    message = f"product service: {code.name}: {error.details()}"
    return Unavailable(code is grpc.StatusCode.DEADLINE_EXCEEDED, message)


def _rejected(order: Order, reason: str, failed: tuple[str, ...], now: datetime) -> Order:
    return replace(order, status=REJECTED, reason=reason, failed=failed, update_time=now)


def confirmed(order: Order, reply: product_pb.ReserveStockResponse, now: datetime) -> Order:
    items = tuple(
        (i.product_id, i.name, Decimal(i.unit_price).quantize(CENT), i.quantity) for i in reply.items
    )
    return replace(order, status=CONFIRMED, items=items, update_time=now)


async def save(db: Stamps, tx: Tx, order: Order, expected: str) -> bool:
    """Writes the order's new status (and prices) if it still has the ``expected`` one."""
    row = (order.status, order.reason, ",".join(order.failed), db.stamp(order.update_time), order.order_id,
           expected)  # fmt: skip
    if order.items and db.postgres:
        items = order.items
        lines = (list(range(len(items))), [p for p, _, _, _ in items], [q for _, _, _, q in items],
                 [n for _, n, _, _ in items], [cents(str(u)) for _, _, u, _ in items])  # fmt: skip
        return await tx.run(_SAVE_WITH_LINES, (*row, *lines)) > 0
    if await tx.run(_SAVE, row) != 1:
        return False
    if order.items:
        await tx.many(_PRICE_LINE, [(p, q, n, cents(str(u)), order.order_id, i)
                              for i, (p, n, u, q) in enumerate(order.items)])  # fmt: skip
    return True


async def queue_release(
    db: Stamps, tx: Tx, order_id: str, cid: str, now: datetime, *, deliver_now: bool
) -> int:
    """A release in the outbox, in the caller's transaction; its entry id."""
    first_attempt = now + LEASE if deliver_now else now
    row = await tx.one(_ADD_RELEASE, (order_id, cid, db.stamp(first_attempt), db.stamp(now)))
    assert row is not None
    return int(row[0])


async def give_up(
    db: Stamps, tx: Tx, order: Order, outcome: Unavailable, *, cid: str, now: datetime
) -> Refusal:
    """The reservation may have happened: REJECTED with a compensating release queued, in one
    transaction; what the caller then hears is the truth (UNAVAILABLE or DEADLINE_EXCEEDED)."""
    if await save(db, tx, _rejected(order, UNAVAILABLE_REASON, (), now), expected=PENDING):
        await queue_release(db, tx, order.order_id, cid, now, deliver_now=False)
    code = grpc.StatusCode.DEADLINE_EXCEEDED if outcome.deadline_exceeded else grpc.StatusCode.UNAVAILABLE
    return Refusal(code, f"{UNAVAILABLE_REASON}: order {order.order_id} was rejected ({outcome.message})")


async def release_done(tx: Tx, entry_id: int) -> None:
    await tx.run(_RELEASE_DONE, (entry_id,))


async def settle(db: Stamps, tx: Tx, resolved: Order, cid: str, now: datetime) -> Order:
    """Writes the outcome of the reservation, unless the order moved meanwhile (``lost_race``)."""
    if await save(db, tx, resolved, expected=PENDING):
        return resolved
    return await lost_race(db, tx, resolved.order_id, reserved=resolved.status == CONFIRMED, cid=cid, now=now)


async def lost_race(db: Stamps, tx: Tx, order_id: str, *, reserved: bool, cid: str, now: datetime) -> Order:
    """Someone moved the order while we reserved (a cancel): theirs stands; stock we took goes back."""
    current = await load(db, tx, order_id)
    assert current is not None
    if reserved and current.status not in (PENDING, CONFIRMED):
        await queue_release(db, tx, order_id, cid, now, deliver_now=False)
    return current


async def cancel(
    db: Stamps, tx: Tx, order_id: str, reason: str, *, cid: str, now: datetime
) -> tuple[Order, int | None]:
    """CANCELLED with its release in the outbox; the entry id to deliver (None: nothing to release)."""
    order = await load(db, tx, order_id)
    if order is None:
        raise Refusal(grpc.StatusCode.NOT_FOUND, f"order not found: {order_id}")
    if order.status == CANCELLED:
        return order, None
    if order.status == REJECTED:
        raise Refusal(
            grpc.StatusCode.FAILED_PRECONDITION, f"order {order_id} is REJECTED and cannot be cancelled"
        )
    cancelled = replace(
        order, status=CANCELLED, reason=reason.strip() or DEFAULT_CANCEL_REASON, update_time=now
    )
    # (The real service writes the priced lines again here; they do not change.)
    if not await save(db, tx, replace(cancelled, items=()), expected=order.status):
        raise Refusal(grpc.StatusCode.ABORTED, f"order {order_id} changed while it was being cancelled")
    return cancelled, await queue_release(db, tx, order_id, cid, now, deliver_now=True)


async def load(db: Stamps, tx: Tx, *keys: str, by: str = "order_id = ?") -> Order | None:
    head = await tx.one(_ORDER_BY.format(by), keys)
    if head is None:
        return None
    order_id, customer_id, status, reason, failed, created, updated = head
    rows: list[Any] = await tx.all(_LINES, (order_id,))
    priced = bool(rows) and all(r[3] is not None for r in rows)
    items = tuple((p, n, Decimal(money(c)), q) for p, q, n, c in rows) if priced else ()
    return Order(order_id, customer_id, status, tuple((r[0], r[1]) for r in rows), db.moment(created),
                 db.moment(updated), items, reason, tuple(i for i in failed.split(",") if i))  # fmt: skip
