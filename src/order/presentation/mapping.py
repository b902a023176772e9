"""Protobuf <-> application messages. The only order module (with the servicer) that sees pb2 types."""

from __future__ import annotations

from collections.abc import Iterable

from common.generated.eshop.order.v1 import order_pb2 as pb
from common.grpc.timestamps import to_timestamp
from common.money import format_money
from order.application.messages import Line
from order.domain.model import Order, OrderStatus

_STATUS = {
    OrderStatus.PENDING: pb.ORDER_STATUS_PENDING,
    OrderStatus.CONFIRMED: pb.ORDER_STATUS_CONFIRMED,
    OrderStatus.REJECTED: pb.ORDER_STATUS_REJECTED,
    OrderStatus.CANCELLED: pb.ORDER_STATUS_CANCELLED,
}


def lines(items: Iterable[pb.OrderLine]) -> tuple[Line, ...]:
    return tuple(Line(item.product_id, item.quantity) for item in items)


def order_to_pb(order: Order) -> pb.Order:
    if order.items:
        items = [
            pb.OrderItem(
                product_id=str(i.product_id),
                product_name=i.product_name,
                unit_price=format_money(i.unit_price),
                quantity=i.quantity,
            )
            for i in order.items
        ]
        total = format_money(order.total_amount)
    else:
        # Not priced (never reserved): the lines as asked, and a total of "0".
        items = [
            pb.OrderItem(product_id=str(line.product_id), quantity=line.quantity) for line in order.lines
        ]
        total = "0"
    return pb.Order(
        order_id=str(order.order_id),
        customer_id=str(order.customer_id),
        status=_STATUS[order.status],
        items=items,
        total_amount=total,
        status_reason=order.status_reason,
        failed_product_ids=[str(p) for p in order.failed_product_ids],
        create_time=to_timestamp(order.create_time),
        update_time=to_timestamp(order.update_time),
    )
