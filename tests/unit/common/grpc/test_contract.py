"""The contract's names as clients see them on the wire, for every kind the application raises."""

from __future__ import annotations

from common.errors import PreconditionType, ResourceType
from common.grpc.contract import ORDER_SERVICE, PRECONDITION_TYPES, PRODUCT_SERVICE, RESOURCE_TYPES


def test_service_names_are_the_contracts() -> None:
    assert PRODUCT_SERVICE == "eshop.product.v1.ProductService"
    assert ORDER_SERVICE == "eshop.order.v1.OrderService"


def test_every_resource_type_has_its_wire_name() -> None:
    assert {kind: RESOURCE_TYPES[kind] for kind in ResourceType} == {
        ResourceType.PRODUCT: "eshop.product.v1.Product",
        ResourceType.RESERVATION: "eshop.product.v1.Reservation",
        ResourceType.ORDER: "eshop.order.v1.Order",
    }


def test_every_precondition_type_has_its_wire_name() -> None:
    assert {kind: PRECONDITION_TYPES[kind] for kind in PreconditionType} == {
        PreconditionType.STOCK: "STOCK",
        PreconditionType.STOCK_LIMIT: "STOCK_LIMIT",
        PreconditionType.RESERVATION_RELEASED: "RESERVATION_RELEASED",
        PreconditionType.ORDER_STATUS: "ORDER_STATUS",
        PreconditionType.PRODUCT_DELETED: "PRODUCT_DELETED",
        PreconditionType.PRODUCT_NOT_DELETED: "PRODUCT_NOT_DELETED",
    }
