"""The contract's names, spelled once for both sides of the wire: the servers that write them into
status details and the clients that read them back.

Service and resource type names come from the descriptors generated from ``protos/``, so they cannot
drift from the protos; precondition violation types are not in the protos, so they are written out
here, and clients match on them (never on the message text).
"""

from __future__ import annotations

from common.errors import PreconditionType, ResourceType
from common.generated.eshop.order.v1 import order_pb2
from common.generated.eshop.product.v1 import product_pb2

PRODUCT_SERVICE: str = product_pb2.DESCRIPTOR.services_by_name["ProductService"].full_name
ORDER_SERVICE: str = order_pb2.DESCRIPTOR.services_by_name["OrderService"].full_name

RESOURCE_TYPES: dict[ResourceType, str] = {
    ResourceType.PRODUCT: product_pb2.Product.DESCRIPTOR.full_name,
    ResourceType.RESERVATION: product_pb2.Reservation.DESCRIPTOR.full_name,
    ResourceType.ORDER: order_pb2.Order.DESCRIPTOR.full_name,
}

PRECONDITION_TYPES: dict[PreconditionType, str] = {
    PreconditionType.STOCK: "STOCK",
    PreconditionType.STOCK_LIMIT: "STOCK_LIMIT",
    PreconditionType.RESERVATION_RELEASED: "RESERVATION_RELEASED",
    PreconditionType.ORDER_STATUS: "ORDER_STATUS",
    PreconditionType.PRODUCT_DELETED: "PRODUCT_DELETED",
    PreconditionType.PRODUCT_NOT_DELETED: "PRODUCT_NOT_DELETED",
}
