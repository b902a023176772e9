"""The Product service's domain events as the contract's messages (protos/eshop/product/v1/events.proto),
each carrying the product as it is right after the change (its new etag included).

The contract has no message for an undelete; it is a change of the catalogue all the same (a consumer
that saw ProductDeleted must learn that the product is back), so it is published as a ProductUpdated
whose mask is ``delete_time``, the one field it changed."""

from __future__ import annotations

from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message

from common.events.outbox import EncodedEvent
from common.generated.eshop.product.v1 import events_pb2 as pb
from product.domain.events import (
    ProductCreated,
    ProductDeleted,
    ProductEvent,
    ProductUndeleted,
    ProductUpdated,
    StockLow,
)
from product.domain.model import Product
from product.presentation.mapping import product_to_pb

UNDELETE_MASK = ("delete_time",)
# Every message type the Product service publishes (the routing keys; the counter's labels).
EVENT_TYPES = tuple(
    m.DESCRIPTOR.full_name for m in (pb.ProductCreated, pb.ProductUpdated, pb.ProductDeleted, pb.StockLow)
)


def encode(product: Product, event: ProductEvent) -> EncodedEvent:
    message = _message(product, event)
    return EncodedEvent(
        message.DESCRIPTOR.full_name,
        str(product.product_id),
        message.SerializeToString(),
        product.update_time,
    )


def _message(product: Product, event: ProductEvent) -> Message:
    state = product_to_pb(product)
    if isinstance(event, ProductCreated):
        return pb.ProductCreated(product=state)
    if isinstance(event, ProductUpdated):
        return pb.ProductUpdated(product=state, update_mask=FieldMask(paths=list(event.mask)))
    if isinstance(event, ProductUndeleted):
        return pb.ProductUpdated(product=state, update_mask=FieldMask(paths=list(UNDELETE_MASK)))
    if isinstance(event, ProductDeleted):
        return pb.ProductDeleted(product=state)
    if isinstance(event, StockLow):
        return pb.StockLow(product=state)
    raise TypeError(f"no message for {type(event).__name__}")
