"""SQL repositories of the Order service."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Select, and_, bindparam, delete, func, or_, select, text, update

from common.call_context import Origin
from common.db.outbox_table import SqlOutboxTable
from common.db.types import UTCDateTime
from common.db.upsert import insert_ignoring_conflict
from common.money import from_cents, to_cents
from order.application.storage import PendingRelease, PendingStats
from order.domain.events import OrderEvent
from order.domain.model import Order, OrderItem, OrderLine, OrderStatus
from order.infrastructure.tables import order_lines, orders, release_outbox

ConnectionSource = Callable[[], Connection]

# CreateOrder's statements, built once (building and hashing them per call was most of the Order
# service's SQL cost). UPDATE reserves column names for its SET clause, hence the "p_" parameters.
_INSERT_ORDER = orders.insert()
_INSERT_LINES = order_lines.insert()
_ORDER_BY_ID = select(orders).where(orders.c.order_id == bindparam("p_order_id"))
_ORDER_BY_REQUEST_ID = select(orders).where(
    orders.c.customer_id == bindparam("p_customer_id"), orders.c.request_id == bindparam("p_request_id")
)
_LINES_OF_ORDERS = (
    select(order_lines)
    .where(order_lines.c.order_id.in_(bindparam("p_order_ids", expanding=True)))
    .order_by(order_lines.c.order_id, order_lines.c.line_no)
)
# Compare-and-set on the status the order was loaded with: a concurrent change makes it match nothing.
_SAVE_ORDER = (
    update(orders)
    .where(orders.c.order_id == bindparam("p_order_id"), orders.c.status == bindparam("p_expected"))
    .values(
        status=bindparam("p_status"),
        status_reason=bindparam("p_reason"),
        failed_product_ids=bindparam("p_failed"),
        update_time=bindparam("p_now"),
    )
)
_PRICE_LINE = (
    update(order_lines)
    .where(order_lines.c.order_id == bindparam("p_order_id"), order_lines.c.line_no == bindparam("p_line_no"))
    .values(
        product_id=bindparam("p_product_id"),
        quantity=bindparam("p_quantity"),
        product_name=bindparam("p_name"),
        unit_price_cents=bindparam("p_price_cents"),
    )
)

# PostgreSQL writes an order with its lines in one statement (data-modifying WITH), a round trip each
# instead of two; the lines travel as arrays, so the statement is the same for any number of them.
# Its row count is the lines written: 0 when the order row was not (every order has a line).
_LINE_ARRAYS = (
    "unnest(CAST(:line_nos AS INTEGER[]), CAST(:product_ids AS VARCHAR[]), CAST(:quantities AS INTEGER[]){})"
)
_PLACE_WITH_LINES = (
    text(
        "WITH placed AS (INSERT INTO orders (order_id, customer_id, status, status_reason, "
        "failed_product_ids, request_id, create_time, update_time, trace_context) "
        "VALUES (:order_id, :customer_id, :status, "
        ":status_reason, :failed_product_ids, :request_id, :create_time, :update_time, :trace_context) "
        "ON CONFLICT (customer_id, request_id) DO NOTHING RETURNING order_id) "
        "INSERT INTO order_lines (order_id, line_no, product_id, quantity) "
        "SELECT placed.order_id, line.line_no, line.product_id, line.quantity FROM placed, "
        + _LINE_ARRAYS.format("")
        + " AS line (line_no, product_id, quantity)"
    )
    .bindparams(bindparam("create_time", type_=UTCDateTime()), bindparam("update_time", type_=UTCDateTime()))
    .execution_options(preserve_rowcount=True)
)
# The compare-and-set of ``_SAVE_ORDER`` and the priced lines, in one statement.
_SAVE_WITH_LINES = (
    text(
        "WITH saved AS (UPDATE orders SET status = :p_status, status_reason = :p_reason, "
        "failed_product_ids = :p_failed, update_time = :p_now "
        "WHERE order_id = :p_order_id AND status = :p_expected RETURNING order_id) "
        "UPDATE order_lines SET product_id = line.product_id, quantity = line.quantity, "
        "product_name = line.name, unit_price_cents = line.price FROM saved, "
        + _LINE_ARRAYS.format(", CAST(:names AS VARCHAR[]), CAST(:prices AS BIGINT[])")
        + " AS line (line_no, product_id, quantity, name, price) "
        "WHERE order_lines.order_id = saved.order_id AND order_lines.line_no = line.line_no"
    )
    .bindparams(bindparam("p_now", type_=UTCDateTime()))
    .execution_options(preserve_rowcount=True)
)


class SqlOrderRepository:
    def __init__(self, connection: ConnectionSource, *, writes_in_one_statement: bool = False) -> None:
        """``writes_in_one_statement``: the database takes an order and its lines in one statement."""
        self._conn = connection
        self._one_statement = writes_in_one_statement
        # The orders saved in the current transaction, for their events (``take_raised``).
        self._saved: list[Order] = []

    def take_raised(self) -> list[tuple[Order, OrderEvent]]:
        """The events the orders saved in this transaction raised, each with the order as saved; and
        forget them (the unit of work writes them to the event outbox once)."""
        saved, self._saved = self._saved, []
        return [(order, event) for order in saved for event in order.events]

    def forget(self) -> None:
        self._saved = []

    def add(self, order: Order) -> bool:
        conn = self._conn()
        row = _order_row(order)
        if self._one_statement:
            lines = {
                "line_nos": list(range(len(order.lines))),
                "product_ids": [str(line.product_id) for line in order.lines],
                "quantities": [line.quantity for line in order.lines],
            }
            return conn.execute(_PLACE_WITH_LINES, {**row, **lines}).rowcount > 0
        if order.request_id is not None:
            if insert_ignoring_conflict(conn, orders, row, ["customer_id", "request_id"]) == 0:
                return False
        else:
            conn.execute(_INSERT_ORDER, row)
        conn.execute(
            _INSERT_LINES,
            [
                {
                    "order_id": str(order.order_id),
                    "line_no": i,
                    "product_id": str(line.product_id),
                    "quantity": line.quantity,
                }
                for i, line in enumerate(order.lines)
            ],
        )
        return True

    def get(self, order_id: UUID) -> Order | None:
        return self._one(_ORDER_BY_ID, {"p_order_id": str(order_id)})

    def get_by_request_id(self, customer_id: UUID, request_id: UUID) -> Order | None:
        return self._one(
            _ORDER_BY_REQUEST_ID, {"p_customer_id": str(customer_id), "p_request_id": str(request_id)}
        )

    def save(self, order: Order) -> bool:
        expected = order.loaded_status or OrderStatus.PENDING
        conn = self._conn()
        head = {
            "p_order_id": str(order.order_id),
            "p_expected": expected.value,
            "p_status": order.status.value,
            "p_reason": order.status_reason,
            "p_failed": _encode_ids(order.failed_product_ids),
            "p_now": order.update_time,
        }
        if order.items and self._one_statement:
            items = order.items
            lines = {
                "line_nos": list(range(len(items))),
                "product_ids": [str(item.product_id) for item in items],
                "quantities": [item.quantity for item in items],
                "names": [item.product_name for item in items],
                "prices": [to_cents(item.unit_price) for item in items],
            }
            saved = conn.execute(_SAVE_WITH_LINES, {**head, **lines}).rowcount > 0
            if saved and order.events:
                self._saved.append(order)
            return saved
        if conn.execute(_SAVE_ORDER, head).rowcount != 1:
            return False
        if order.events:
            self._saved.append(order)
        if order.items:
            conn.execute(
                _PRICE_LINE,
                [
                    {
                        "p_order_id": str(order.order_id),
                        "p_line_no": i,
                        "p_product_id": str(item.product_id),
                        "p_quantity": item.quantity,
                        "p_name": item.product_name,
                        "p_price_cents": to_cents(item.unit_price),
                    }
                    for i, item in enumerate(order.items)
                ],
            )
        return True

    def pending_stats(self) -> PendingStats:
        count, oldest = (
            self._conn()
            .execute(
                select(func.count(), func.min(orders.c.update_time, type_=UTCDateTime)).where(
                    orders.c.status == OrderStatus.PENDING.value
                )
            )
            .one()
        )
        return PendingStats(int(count), oldest)

    def pending_since_before(self, cutoff: datetime, limit: int) -> list[Order]:
        heads = list(
            self._conn().execute(
                select(orders)
                .where(orders.c.status == OrderStatus.PENDING.value, orders.c.update_time < cutoff)
                .order_by(orders.c.update_time)
                .limit(limit)
            )
        )
        lines = self._lines([h.order_id for h in heads])
        return [_order(h._mapping, lines.get(h.order_id, [])) for h in heads]

    def list_newest_first(
        self, customer_id: UUID | None, before: tuple[datetime, UUID] | None, limit: int
    ) -> list[Order]:
        query = select(orders).order_by(orders.c.create_time.desc(), orders.c.order_id.desc()).limit(limit)
        if customer_id is not None:
            query = query.where(orders.c.customer_id == str(customer_id))
        if before is not None:
            t, last_id = before
            query = query.where(
                or_(
                    orders.c.create_time < t,
                    and_(orders.c.create_time == t, orders.c.order_id < str(last_id)),
                )
            )
        heads = list(self._conn().execute(query))
        lines = self._lines([h.order_id for h in heads])
        return [_order(h._mapping, lines.get(h.order_id, [])) for h in heads]

    def _one(self, query: Select[Any], parameters: dict[str, str]) -> Order | None:
        head = self._conn().execute(query, parameters).first()
        if head is None:
            return None
        return _order(head._mapping, self._lines([head.order_id]).get(head.order_id, []))

    def _lines(self, order_ids: list[str]) -> dict[str, list[Any]]:
        if not order_ids:
            return {}
        rows = self._conn().execute(_LINES_OF_ORDERS, {"p_order_ids": order_ids})
        grouped: dict[str, list[Any]] = {}
        for row in rows:
            grouped.setdefault(row.order_id, []).append(row)
        return grouped


def _order_row(order: Order) -> dict[str, Any]:
    return {
        "order_id": str(order.order_id),
        "customer_id": str(order.customer_id),
        "status": order.status.value,
        "status_reason": order.status_reason,
        "failed_product_ids": _encode_ids(order.failed_product_ids),
        "request_id": None if order.request_id is None else str(order.request_id),
        "create_time": order.create_time,
        "update_time": order.update_time,
        "trace_context": order.trace_context or None,
    }


def _encode_ids(ids: Sequence[UUID]) -> str:
    """The failed product ids column: comma-separated UUIDs, "" for none (read by ``_decode_ids``)."""
    return ",".join(str(i) for i in ids)


def _decode_ids(column: str) -> tuple[UUID, ...]:
    return tuple(UUID(i) for i in column.split(",") if i)


def _order(head: Any, lines: list[Any]) -> Order:
    status = OrderStatus(head["status"])
    priced = bool(lines) and all(line.unit_price_cents is not None for line in lines)
    return Order(
        order_id=UUID(head["order_id"]),
        customer_id=UUID(head["customer_id"]),
        status=status,
        lines=tuple(OrderLine(UUID(line.product_id), line.quantity) for line in lines),
        create_time=head["create_time"],
        update_time=head["update_time"],
        items=tuple(
            OrderItem(
                UUID(line.product_id), line.product_name, from_cents(line.unit_price_cents), line.quantity
            )
            for line in lines
        )
        if priced
        else (),
        status_reason=head["status_reason"],
        failed_product_ids=_decode_ids(head["failed_product_ids"]),
        request_id=None if head["request_id"] is None else UUID(head["request_id"]),
        loaded_status=status,
        trace_context=head["trace_context"],
    )


class SqlReleaseOutbox(SqlOutboxTable):
    """An acknowledged release's row is deleted: every row waits."""

    def __init__(self, connection: ConnectionSource) -> None:
        super().__init__(connection, release_outbox, key="entry_id")

    def add(
        self, order_id: UUID, origin: Origin, now: datetime, first_attempt_at: datetime
    ) -> PendingRelease:
        result = self._conn().execute(
            release_outbox.insert().values(
                order_id=str(order_id),
                correlation_id=origin.correlation_id,
                attempts=0,
                next_attempt_at=first_attempt_at,
                created_at=now,
                last_error="",
                trace_context=origin.trace_context,
            )
        )
        (entry_id,) = result.inserted_primary_key or (0,)
        return PendingRelease(
            int(entry_id), order_id, origin.correlation_id, 0, first_attempt_at, now, origin.trace_context
        )

    def due(self, now: datetime, limit: int) -> list[PendingRelease]:
        rows = self._conn().execute(
            select(release_outbox)
            .where(release_outbox.c.next_attempt_at <= now)
            .order_by(release_outbox.c.next_attempt_at)
            .limit(limit)
        )
        return [
            PendingRelease(
                r.entry_id,
                UUID(r.order_id),
                r.correlation_id,
                r.attempts,
                r.next_attempt_at,
                r.created_at,
                r.trace_context,
            )
            for r in rows
        ]

    def done(self, entry_id: int, now: datetime) -> None:
        self._conn().execute(delete(release_outbox).where(release_outbox.c.entry_id == entry_id))
