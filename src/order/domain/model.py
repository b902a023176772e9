"""Orders and their lifecycle: PENDING -> CONFIRMED | REJECTED; PENDING/CONFIRMED -> CANCELLED."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from enum import Enum
from uuid import UUID

from order.domain.errors import OrderNotCancellable
from order.domain.events import OrderCancelled, OrderConfirmed, OrderEvent, OrderRejected


class OrderStatus(str, Enum):
    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"


@dataclass(frozen=True)
class OrderLine:
    """What the customer asked for."""

    product_id: UUID
    quantity: int


@dataclass(frozen=True)
class OrderItem:
    """A line as reserved: with the name and unit price the Product service had for it then."""

    product_id: UUID
    product_name: str
    unit_price: Decimal
    quantity: int

    @property
    def amount(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class Order:
    order_id: UUID
    customer_id: UUID
    status: OrderStatus
    lines: tuple[OrderLine, ...]
    create_time: datetime
    update_time: datetime
    items: tuple[OrderItem, ...] = ()
    status_reason: str = ""
    failed_product_ids: tuple[UUID, ...] = ()
    request_id: UUID | None = None
    # The status the order had when it was read: saves are compare-and-set on it, so two callers that
    # race to move the same order cannot both win.
    loaded_status: OrderStatus | None = field(default=None, compare=False)
    # Opaque to the domain: the trace context (W3C traceparent) of the call that placed the order, kept
    # with it so that work resuming the order later (the reconciler) can join that call's trace.
    trace_context: str | None = field(default=None, compare=False)
    # What its changes raised since it was read, for the unit of work to write with the change.
    events: tuple[OrderEvent, ...] = field(default=(), compare=False, repr=False)

    @staticmethod
    def place(
        order_id: UUID,
        customer_id: UUID,
        lines: tuple[OrderLine, ...],
        now: datetime,
        request_id: UUID | None,
        *,
        trace_context: str | None = None,
    ) -> Order:
        return Order(
            order_id,
            customer_id,
            OrderStatus.PENDING,
            lines,
            now,
            now,
            request_id=request_id,
            trace_context=trace_context,
        )

    @property
    def total_amount(self) -> Decimal:
        return sum((item.amount for item in self.items), Decimal("0"))

    def confirm(self, items: tuple[OrderItem, ...], now: datetime) -> Order:
        self._expect(OrderStatus.PENDING)
        return replace(
            self,
            status=OrderStatus.CONFIRMED,
            items=items,
            update_time=now,
            events=(*self.events, OrderConfirmed()),
        )

    def reject(self, reason: str, failed_product_ids: tuple[UUID, ...], now: datetime) -> Order:
        self._expect(OrderStatus.PENDING)
        return replace(
            self,
            status=OrderStatus.REJECTED,
            status_reason=reason,
            failed_product_ids=failed_product_ids,
            update_time=now,
            events=(*self.events, OrderRejected()),
        )

    def cancel(self, reason: str, now: datetime) -> Order:
        """CANCELLED from PENDING or CONFIRMED; cancelling a cancelled order changes nothing."""
        if self.status is OrderStatus.CANCELLED:
            return self
        if self.status is OrderStatus.REJECTED:
            raise OrderNotCancellable(self.order_id, self.status.value)
        return replace(
            self,
            status=OrderStatus.CANCELLED,
            status_reason=reason,
            update_time=now,
            events=(*self.events, OrderCancelled()),
        )

    @property
    def holds_stock(self) -> bool:
        """Whether stock may be reserved for this order (so cancelling it must release)."""
        return self.status in (OrderStatus.PENDING, OrderStatus.CONFIRMED)

    def _expect(self, status: OrderStatus) -> None:
        if self.status is not status:
            raise ValueError(f"order {self.order_id} is {self.status.value}, not {status.value}")
