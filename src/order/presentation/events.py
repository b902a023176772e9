"""The Order service's domain events as the contract's messages (protos/eshop/order/v1/events.proto),
each carrying the order as it is right after the change."""

from __future__ import annotations

from common.events.outbox import EncodedEvent
from common.generated.eshop.order.v1 import events_pb2 as pb
from order.domain.events import OrderCancelled, OrderConfirmed, OrderEvent, OrderRejected
from order.domain.model import Order
from order.presentation.mapping import order_to_pb

_MESSAGES: dict[type[OrderEvent], type[pb.OrderConfirmed | pb.OrderRejected | pb.OrderCancelled]] = {
    OrderConfirmed: pb.OrderConfirmed,
    OrderRejected: pb.OrderRejected,
    OrderCancelled: pb.OrderCancelled,
}
# Every message type the Order service publishes (the routing keys; the counter's labels).
EVENT_TYPES = tuple(message.DESCRIPTOR.full_name for message in _MESSAGES.values())


def encode(order: Order, event: OrderEvent) -> EncodedEvent:
    message = _MESSAGES[type(event)](order=order_to_pb(order))
    return EncodedEvent(
        message.DESCRIPTOR.full_name, str(order.order_id), message.SerializeToString(), order.update_time
    )
