"""Protobuf <-> application messages. The only product module (with the servicer) that sees pb2 types."""

from __future__ import annotations

from collections.abc import Iterable

from common.generated.eshop.product.v1 import product_pb2 as pb
from common.grpc.timestamps import to_timestamp
from common.money import format_money
from product.application.messages import StockLine, UpdateProduct
from product.application.results import ReleaseResult
from product.domain.model import Product, Reservation, ReservationStatus


def product_to_pb(product: Product) -> pb.Product:
    message = pb.Product(
        product_id=str(product.product_id),
        name=product.name,
        description=product.description,
        price=format_money(product.price),
        stock_quantity=product.stock_quantity,
        low_stock_threshold=product.low_stock_threshold,
        create_time=to_timestamp(product.create_time),
        update_time=to_timestamp(product.update_time),
        etag=product.etag,
        category=product.category,
    )
    if product.delete_time is not None:  # unset on a live product (AIP-164)
        message.delete_time.CopyFrom(to_timestamp(product.delete_time))
    return message


def update_command(request: pb.UpdateProductRequest) -> UpdateProduct:
    """The request's product as sent and its mask's paths; the application works out the effective mask."""
    product = request.product
    return UpdateProduct(
        product_id=product.product_id,
        update_mask=tuple(request.update_mask.paths),
        name=product.name,
        description=product.description,
        price=product.price,
        low_stock_threshold=product.low_stock_threshold,
        category=product.category,
        etag=product.etag,
    )


def stock_lines(items: Iterable[pb.StockItem]) -> tuple[StockLine, ...]:
    return tuple(StockLine(item.product_id, item.quantity) for item in items)


def _reserved_items(reservation: Reservation) -> list[pb.ReservedItem]:
    return [
        pb.ReservedItem(
            product_id=str(line.product_id),
            name=line.name,
            unit_price=format_money(line.unit_price),
            quantity=line.quantity,
        )
        for line in reservation.lines
    ]


def reservation_to_pb(reservation: Reservation) -> pb.ReserveStockResponse:
    return pb.ReserveStockResponse(
        order_id=str(reservation.order_id),
        items=_reserved_items(reservation),
        reserve_time=to_timestamp(reservation.reserve_time),
    )


_STATE = {
    ReservationStatus.ACTIVE: pb.Reservation.STATE_ACTIVE,
    ReservationStatus.RELEASED: pb.Reservation.STATE_RELEASED,
}


def reservation_state_to_pb(reservation: Reservation) -> pb.Reservation:
    return pb.Reservation(
        order_id=str(reservation.order_id),
        state=_STATE[reservation.status],
        items=_reserved_items(reservation),
        reserve_time=to_timestamp(reservation.reserve_time),
    )


def release_to_pb(result: ReleaseResult) -> pb.ReleaseStockResponse:
    return pb.ReleaseStockResponse(order_id=str(result.order_id), released=result.released)
